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
