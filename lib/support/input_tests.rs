//! Input tests: every field's codes, both content types, hostile text.

use super::input::*;

fn contact(p: Result<Parsed, InputError>) -> Intake {
    match p {
        Ok(Parsed::Contact(c)) => *c,
        other => panic!("not a contact: {other:?}"),
    }
}

fn fields(p: Result<Parsed, InputError>) -> FieldErrors {
    match p {
        Err(InputError::Fields(f)) => f,
        other => panic!("no field errors: {other:?}"),
    }
}

fn json(v: serde_json::Value) -> Result<Parsed, InputError> {
    parse_json(v.to_string().as_bytes())
}

#[test]
fn a_minimal_json_post_is_a_form_contact() {
    let c = contact(json(
        serde_json::json!({"email": " Jane@Example.com ", "message": "Hi"}),
    ));
    assert_eq!(c.email.as_str(), "Jane@Example.com");
    assert_eq!(c.source, Source::Form);
    assert_eq!((c.name, c.subject), (None, None));
}

#[test]
fn a_form_post_reads_fields_and_bracketed_metadata() {
    let body = b"email=jane%40example.com&message=Hello+there&source=portal&metadata%5Bplan%5D=pro&submit=Send";
    let c = contact(parse_form(body));
    assert_eq!(c.message, "Hello there");
    assert_eq!(c.source, Source::Portal);
    assert_eq!(c.metadata.to_json(), serde_json::json!({"plan": "pro"}));
}

#[test]
fn every_invalid_field_is_reported_at_once_with_its_code() {
    let f = fields(json(serde_json::json!({
        "email": "not-an-email", "message": "", "subject": "x".repeat(201),
        "name": 7, "source": "fax", "metadata": {"a": 1}
    })));
    let want = [
        ("email", "invalid_email"),
        ("message", "required"),
        ("subject", "too_long"),
        ("name", "invalid_type"),
        ("source", "invalid_source"),
        ("metadata", "not_a_string"),
    ];
    for (field, code) in want {
        assert_eq!(f.get(field).copied(), Some(code), "{field}: {f:?}");
    }
    assert_eq!(f.len(), want.len());
}

#[test]
fn email_addresses_are_checked_for_shape() {
    for good in ["a@b.co", "first.last+tag@sub.example.org", "x_y@a-b.io"] {
        assert!(Email::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "a",
        "a@b",
        "@b.co",
        "a@.co",
        "a..b@c.co",
        ".a@b.co",
        "a@b..co",
        "a@-b.co",
        "a b@c.co",
        "a@b.c",
        "a@b.123",
        "jané@example.com",
        "a@b.co\r\nBcc: x@y.z",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        Email::parse(&format!("{}@b.co", "a".repeat(250))),
        Err("too_long")
    );
    assert_eq!(Email::parse("  "), Err("required"));
}

#[test]
fn metadata_is_flat_bounded_and_strings_only() {
    let many: serde_json::Map<_, _> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    let f = fields(json(
        serde_json::json!({"email": "a@b.co", "message": "m", "metadata": many}),
    ));
    assert_eq!(f["metadata"], "too_many_keys");
    let big = serde_json::json!({"k": "v".repeat(2100)});
    let f = fields(json(
        serde_json::json!({"email": "a@b.co", "message": "m", "metadata": big}),
    ));
    assert_eq!(f["metadata"], "too_long");
    let f = fields(json(
        serde_json::json!({"email": "a@b.co", "message": "m", "metadata": ["x"]}),
    ));
    assert_eq!(f["metadata"], "not_an_object");
    let nested = serde_json::json!({"k": {"x": "y"}});
    let f = fields(json(
        serde_json::json!({"email": "a@b.co", "message": "m", "metadata": nested}),
    ));
    assert_eq!(f["metadata"], "not_a_string");
    let sized: serde_json::Map<_, _> = (0..5)
        .map(|i| (format!("k{i}"), "v".repeat(450).into()))
        .collect();
    let f = fields(json(
        serde_json::json!({"email": "a@b.co", "message": "m", "metadata": sized}),
    ));
    assert_eq!(f["metadata"], "too_large");
}

#[test]
fn null_bytes_and_control_characters_in_web_posts_are_refused() {
    for (field, value, code) in [
        ("message", "hi\u{0}there", "control_characters"),
        ("message", "bell\u{7}", "control_characters"),
        ("name", "Jane\u{1b}[31m", "control_characters"),
        ("subject", "Hello\r\nBcc: victim@example.com", "line_break"),
        ("subject", "Hello\nX-Injected: 1", "line_break"),
        ("name", "Jane\rDoe", "line_break"),
    ] {
        let mut v = serde_json::json!({"email": "a@b.co", "message": "ok"});
        v[field] = value.into();
        assert_eq!(fields(json(v))[field], code, "{field} {value:?}");
    }
}

#[test]
fn the_message_keeps_newlines_and_tabs_and_unifies_line_ends() {
    let c = contact(json(
        serde_json::json!({"email": "a@b.co", "message": "a\r\nb\rc\n\td"}),
    ));
    assert_eq!(c.message, "a\nb\nc\n\td");
}

#[test]
fn strip_mode_removes_what_reject_mode_refuses_and_truncates() {
    assert_eq!(
        text(Some("a\u{0}b\r\nc"), false, 10, Mode::Strip),
        Ok(Some("ab c".into()))
    );
    assert_eq!(
        text(Some("ééééé"), true, 3, Mode::Strip),
        Ok(Some("ééé".into()))
    );
    assert_eq!(text(Some("ééééé"), true, 3, Mode::Reject), Err("too_long"));
}

#[test]
fn length_limits_count_characters_not_bytes() {
    let ok = "語".repeat(MAX_MESSAGE_CHARS);
    assert_eq!(
        contact(json(serde_json::json!({"email": "a@b.co", "message": ok})))
            .message
            .chars()
            .count(),
        MAX_MESSAGE_CHARS
    );
    let long = "語".repeat(MAX_MESSAGE_CHARS + 1);
    assert_eq!(
        fields(json(
            serde_json::json!({"email": "a@b.co", "message": long})
        ))["message"],
        "too_long"
    );
}

#[test]
fn a_filled_honeypot_wins_over_everything_else() {
    assert_eq!(
        json(serde_json::json!({"website": "http://spam.example"})),
        Ok(Parsed::Honeypot)
    );
    assert_eq!(parse_form(b"website=x&email=bad"), Ok(Parsed::Honeypot));
    let c = contact(json(
        serde_json::json!({"email": "a@b.co", "message": "m", "website": "  "}),
    ));
    assert_eq!(c.message, "m");
}

#[test]
fn bodies_that_are_not_objects_or_repeat_fields_are_refused() {
    assert_eq!(
        parse_json(b"not json"),
        Err(InputError::Malformed("invalid_json"))
    );
    assert_eq!(
        parse_json(b"[1]"),
        Err(InputError::Malformed("expected_object"))
    );
    let f = fields(parse_form(b"email=a%40b.co&email=c%40d.co&message=m"));
    assert_eq!(f["email"], "duplicate");
}

#[test]
fn html_is_kept_verbatim_as_text() {
    let m = "<script>alert('x')</script><b>bold</b>";
    let c = contact(json(serde_json::json!({"email": "a@b.co", "message": m})));
    assert_eq!(c.message, m);
}
