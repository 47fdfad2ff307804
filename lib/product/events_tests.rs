//! Parsing the app's events: every field's codes, named as sentences.

use serde_json::{json, Value};

use super::events::{AppEvent, AppEventType, FieldErrors};

fn signup() -> Value {
    json!({"id": "evt_app_1", "type": "user.signed_up", "user_id": "usr_42",
           "email": "Jane@Example.com", "name": "Jane Doe", "source": "landing",
           "occurred_at": "2026-11-23T09:59:00Z"})
}

fn errors_of(edit: impl FnOnce(&mut Value)) -> FieldErrors {
    let mut v = signup();
    edit(&mut v);
    AppEvent::parse(&v).unwrap_err()
}

#[test]
fn a_complete_signup_parses_with_its_case_and_time_kept() {
    let e = AppEvent::parse(&signup()).unwrap();
    assert_eq!(e.kind, AppEventType::SignedUp);
    assert_eq!(e.email.as_str(), "Jane@Example.com");
    assert_eq!(e.user_id.unwrap().as_str(), "usr_42");
    assert_eq!(
        e.occurred_at.unwrap().to_rfc3339(),
        "2026-11-23T09:59:00+00:00"
    );
}

#[test]
fn a_lead_needs_no_user_id_but_a_signup_does() {
    let lead = json!({"id": "l1", "type": "lead.captured", "email": "a@b.co"});
    assert!(AppEvent::parse(&lead).unwrap().user_id.is_none());
    let errs = errors_of(|v| v["user_id"] = Value::Null);
    assert_eq!(errs, FieldErrors::from([("user_id", "missing")]));
}

#[test]
fn an_integer_user_id_is_taken_as_its_digits() {
    let e = AppEvent::parse(&json!({"id": "x", "type": "user.updated", "user_id": 1234,
                                    "email": "a@b.co"}))
    .unwrap();
    assert_eq!(e.user_id.unwrap().as_str(), "1234");
    assert_eq!(
        errors_of(|v| v["user_id"] = json!(1.5)),
        FieldErrors::from([("user_id", "invalid")])
    );
}

#[test]
fn every_bad_field_is_reported_at_once_with_its_own_code() {
    let errs = AppEvent::parse(&json!({"type": "user.deleted", "email": "jane@", "name": 7,
                                       "source": "x".repeat(101), "occurred_at": "yesterday"}))
    .unwrap_err();
    assert_eq!(
        errs,
        FieldErrors::from([
            ("id", "missing"),
            ("type", "unknown_type"),
            ("email", "invalid_email"),
            ("name", "invalid"),
            ("source", "too_long"),
            ("occurred_at", "invalid_time"),
        ])
    );
}

#[test]
fn malformed_emails_are_refused() {
    for bad in [
        "jane",
        "jane@example",
        "@example.com",
        "ja ne@example.com",
        "jane@exa_mple.com",
        "jane@@example.com",
        "jane@-x.com",
        "<jane@example.com>",
        "jane@example..com",
    ] {
        assert_eq!(
            errors_of(|v| v["email"] = json!(bad)),
            FieldErrors::from([("email", "invalid_email")]),
            "{bad}"
        );
    }
    let long = format!("{}@example.com", "a".repeat(250));
    assert_eq!(
        errors_of(|v| v["email"] = json!(long)),
        FieldErrors::from([("email", "too_long")])
    );
    assert_eq!(
        errors_of(|v| v["email"] = json!("  ")),
        FieldErrors::from([("email", "missing")])
    );
}

#[test]
fn ids_with_spaces_or_control_characters_are_invalid() {
    assert_eq!(
        errors_of(|v| v["id"] = json!("evt 1")),
        FieldErrors::from([("id", "invalid")])
    );
    assert_eq!(
        errors_of(|v| v["name"] = json!("Jane\u{0}")),
        FieldErrors::from([("name", "invalid")])
    );
    assert_eq!(
        errors_of(|v| v["id"] = json!("e".repeat(201))),
        FieldErrors::from([("id", "too_long")])
    );
    assert_eq!(
        errors_of(|v| v["type"] = json!(3)),
        FieldErrors::from([("type", "invalid")])
    );
}

#[test]
fn the_stored_form_has_only_known_fields() {
    let mut v = signup();
    v["password"] = json!("hunter2");
    let stored = AppEvent::parse(&v).unwrap().to_json();
    assert!(stored.get("password").is_none());
    assert_eq!(stored["type"], "user.signed_up");
}
