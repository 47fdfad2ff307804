//! The app's inbound member events, parsed at the edge into newtypes:
//! `{"id","type","user_id","email","name"?,"source"?,"occurred_at"?}`.
//! Every field is checked and every problem reported at once, as a stable
//! per-field code (`missing`, `invalid`, `invalid_email`, `unknown_type`,
//! `too_long`, `invalid_time`), so the app's developer fixes a bad payload
//! in one round trip.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Longest event id accepted.
pub const MAX_ID_CHARS: usize = 200;
/// Longest user id accepted.
pub const MAX_USER_ID_CHARS: usize = 255;
/// Longest email accepted (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest name accepted.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest `source` accepted.
pub const MAX_SOURCE_CHARS: usize = 100;

/// Field name → error code, in a stable order.
pub type FieldErrors = BTreeMap<&'static str, &'static str>;

/// The app's event id: the dedupe key (visible ASCII, no spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEventId(String);

/// The app's user id (a JSON string, or an integer taken as its digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

/// A syntactically valid email address, as given (case kept; compared
/// case-insensitively downstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

macro_rules! text_newtype {
    ($($t:ty),*) => {$(
        impl $t {
            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    )*};
}
text_newtype!(AppEventId, UserId, Email);

/// What happened in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEventType {
    /// A user created an account.
    SignedUp,
    /// A user changed their email or name.
    Updated,
    /// A person left their email (no account yet).
    LeadCaptured,
}

impl AppEventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedUp => "user.signed_up",
            Self::Updated => "user.updated",
            Self::LeadCaptured => "lead.captured",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::SignedUp, Self::Updated, Self::LeadCaptured]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A valid inbound event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEvent {
    /// Dedupe key.
    pub id: AppEventId,
    /// Type.
    pub kind: AppEventType,
    /// The app's user id (absent only for `lead.captured`).
    pub user_id: Option<UserId>,
    /// Email.
    pub email: Email,
    /// Display name, if given.
    pub name: Option<String>,
    /// Where the signup or lead came from (form, campaign), if given.
    pub source: Option<String>,
    /// When it happened in the app, if given.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl AppEvent {
    /// Parses a JSON object, collecting every field error.
    pub fn parse(body: &Value) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let id = c.take("id", required(event_id(&body["id"])));
        let kind = c.take("type", required(event_type(&body["type"])));
        let user_id = c.take("user_id", user_id(&body["user_id"]));
        let email = c.take("email", required(email(&body["email"])));
        let name = c.take("name", text(&body["name"], MAX_NAME_CHARS));
        let source = c.take("source", text(&body["source"], MAX_SOURCE_CHARS));
        let occurred_at = c.take("occurred_at", time(&body["occurred_at"]));
        if user_id.is_none() && kind.is_some_and(|k| k != AppEventType::LeadCaptured) {
            c.errors.entry("user_id").or_insert("missing");
        }
        match (id, kind, email) {
            (Some(id), Some(kind), Some(email)) if c.errors.is_empty() => Ok(Self {
                id: AppEventId(id),
                kind,
                user_id: user_id.map(UserId),
                email: Email(email),
                name,
                source,
                occurred_at,
            }),
            _ => Err(c.errors),
        }
    }

    /// The event as stored in the `events` row (normalised, no unknown fields).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "type": self.kind.as_str(),
            "user_id": self.user_id.as_ref().map(UserId::as_str),
            "email": self.email.as_str(),
            "name": self.name,
            "source": self.source,
            "occurred_at": self.occurred_at,
        })
    }
}

/// Gathers field errors while parsing.
#[derive(Default)]
struct Collector {
    errors: FieldErrors,
}

impl Collector {
    fn take<T>(&mut self, field: &'static str, r: Result<Option<T>, &'static str>) -> Option<T> {
        r.unwrap_or_else(|code| {
            self.errors.insert(field, code);
            None
        })
    }
}

/// `missing` for an absent optional value of a required field.
fn required<T>(r: Result<Option<T>, &'static str>) -> Result<Option<T>, &'static str> {
    match r {
        Ok(None) => Err("missing"),
        other => other,
    }
}

/// An optional string: absent, null or blank is `None`; trimmed; no control
/// characters; at most `max` characters.
fn text(v: &Value, max: usize) -> Result<Option<String>, &'static str> {
    let s = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim(),
        _ => return Err("invalid"),
    };
    if s.is_empty() {
        Ok(None)
    } else if s.chars().count() > max {
        Err("too_long")
    } else if s.chars().any(char::is_control) {
        Err("invalid")
    } else {
        Ok(Some(s.to_string()))
    }
}

fn event_type(v: &Value) -> Result<Option<AppEventType>, &'static str> {
    match text(v, 100)? {
        None => Ok(None),
        Some(t) => AppEventType::parse(&t).map(Some).ok_or("unknown_type"),
    }
}

fn time(v: &Value) -> Result<Option<DateTime<Utc>>, &'static str> {
    match text(v, 64)? {
        None => Ok(None),
        Some(t) => DateTime::parse_from_rfc3339(&t)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| "invalid_time"),
    }
}

fn event_id(v: &Value) -> Result<Option<String>, &'static str> {
    let id = text(v, MAX_ID_CHARS)?;
    match id {
        Some(id) if !id.bytes().all(|b| b.is_ascii_graphic()) => Err("invalid"),
        other => Ok(other),
    }
}

fn user_id(v: &Value) -> Result<Option<String>, &'static str> {
    match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Value::Number(_) => Err("invalid"),
        other => text(other, MAX_USER_ID_CHARS),
    }
}

fn email(v: &Value) -> Result<Option<String>, &'static str> {
    let e = match text(v, MAX_EMAIL_CHARS) {
        Err("invalid") => return Err("invalid_email"),
        other => other?,
    };
    match e {
        Some(e) if !is_email(&e) => Err("invalid_email"),
        other => Ok(other),
    }
}

/// A pragmatic address check: one `@`, a plain local part, and a domain of
/// dot-separated labels (letters, digits, hyphens) with at least one dot.
fn is_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !"@<>()[]\\,;:\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
