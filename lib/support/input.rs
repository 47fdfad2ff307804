//! Parsing at the edge: a JSON or HTML-form post (or a mapped inbound email)
//! becomes an [`Intake`] of validated newtypes ([`super::fields`]), or
//! per-field error codes, every field checked at once.
//!
//! Unknown fields are ignored (HTML forms post their buttons and tokens);
//! the honeypot field [`HONEYPOT_FIELD`] filled in makes the whole post
//! [`Parsed::Honeypot`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::fields::metadata;
pub use super::fields::{
    text, Email, Metadata, Mode, Source, HONEYPOT_FIELD, MAX_MESSAGE_CHARS, MAX_NAME_CHARS,
    MAX_SUBJECT_CHARS,
};

/// A validated contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    /// Sender.
    pub email: Email,
    /// Sender's name.
    pub name: Option<String>,
    /// Subject line (single line).
    pub subject: Option<String>,
    /// The message (plain text, `\n` line ends).
    pub message: String,
    /// Channel.
    pub source: Source,
    /// Caller data.
    pub metadata: Metadata,
    /// An automatic email (out-of-office, bounce, list mail): kept, paging
    /// nobody ([`super::auto_reply`]). Only the inbound email provider sets
    /// it, from the email's headers; no web post can.
    pub automatic: bool,
}

/// A parsed post.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A real contact.
    Contact(Box<Intake>),
    /// The honeypot was filled in: answer as usual, store nothing.
    Honeypot,
}

/// Field name → error code, e.g. `{"email": "invalid_email"}`.
pub type FieldErrors = BTreeMap<String, &'static str>;

/// Why a post is not a contact.
#[derive(Debug, Clone, PartialEq)]
pub enum InputError {
    /// The body is not what its content type says (400, with a code).
    Malformed(&'static str),
    /// Fields failed validation (422, per-field codes).
    Fields(FieldErrors),
}

/// The fields as the sender gave them, before validation.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    /// `email`.
    pub email: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `message`.
    pub message: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// The honeypot field.
    pub honeypot: Option<String>,
    /// `metadata` entries.
    pub metadata: Vec<(String, String)>,
    /// Errors found while reading (wrong JSON types, duplicates).
    pub errors: FieldErrors,
}

/// Parses a JSON object body.
pub fn parse_json(body: &[u8]) -> Result<Parsed, InputError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| InputError::Malformed("invalid_json"))?;
    let Value::Object(mut obj) = value else {
        return Err(InputError::Malformed("expected_object"));
    };
    let mut raw = Raw::default();
    let mut take = |field: &'static str| match obj.remove(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            raw.errors.insert(field.to_string(), "invalid_type");
            None
        }
    };
    (raw.email, raw.name, raw.subject) = (take("email"), take("name"), take("subject"));
    (raw.message, raw.source) = (take("message"), take("source"));
    raw.honeypot = take(HONEYPOT_FIELD);
    match obj.remove("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => raw.metadata.push((k, s)),
                    _ => {
                        raw.errors.insert("metadata".into(), "not_a_string");
                    }
                }
            }
        }
        Some(_) => {
            raw.errors.insert("metadata".into(), "not_an_object");
        }
    }
    validate(raw, Mode::Reject)
}

/// Parses an `application/x-www-form-urlencoded` body; metadata comes as
/// `metadata[key]=value` pairs.
pub fn parse_form(body: &[u8]) -> Result<Parsed, InputError> {
    let mut raw = Raw::default();
    for (k, v) in form_urlencoded::parse(body) {
        if let Some(key) = k
            .strip_prefix("metadata[")
            .and_then(|r| r.strip_suffix(']'))
        {
            raw.metadata.push((key.to_string(), v.into_owned()));
            continue;
        }
        let slot = match k.as_ref() {
            "email" => &mut raw.email,
            "name" => &mut raw.name,
            "subject" => &mut raw.subject,
            "message" => &mut raw.message,
            "source" => &mut raw.source,
            HONEYPOT_FIELD => &mut raw.honeypot,
            _ => continue,
        };
        if slot.is_some() {
            raw.errors.insert(k.into_owned(), "duplicate");
        }
        *slot = Some(v.into_owned());
    }
    validate(raw, Mode::Reject)
}

/// Validates raw fields into a contact (or the honeypot), collecting every
/// field's error at once.
pub fn validate(raw: Raw, mode: Mode) -> Result<Parsed, InputError> {
    let filled = |h: &str| !h.trim().is_empty();
    if raw.honeypot.as_deref().is_some_and(filled) {
        return Ok(Parsed::Honeypot);
    }
    let mut errors = raw.errors;
    let email = raw.email.as_deref().map_or(Err("required"), Email::parse);
    let email = note(&mut errors, "email", email);
    let name = text(raw.name.as_deref(), false, MAX_NAME_CHARS, mode);
    let name = note(&mut errors, "name", name);
    let subject = text(raw.subject.as_deref(), false, MAX_SUBJECT_CHARS, mode);
    let subject = note(&mut errors, "subject", subject);
    let message = text(raw.message.as_deref(), true, MAX_MESSAGE_CHARS, mode)
        .and_then(|m| m.ok_or("required"));
    let message = note(&mut errors, "message", message);
    let source = note(&mut errors, "source", Source::field(raw.source.as_deref()));
    let metadata = note(&mut errors, "metadata", metadata(raw.metadata, mode));
    match (email, message, source, metadata) {
        (Some(email), Some(message), Some(source), Some(metadata)) if errors.is_empty() => {
            Ok(Parsed::Contact(Box::new(Intake {
                email,
                name,
                subject,
                message,
                source,
                metadata,
                automatic: false,
            })))
        }
        _ => Err(InputError::Fields(errors)),
    }
}

/// The value, or `None` after recording the field's code (the first code
/// recorded for a field wins).
fn note<T, U: Into<Option<T>>>(
    errors: &mut FieldErrors,
    field: &str,
    r: Result<U, &'static str>,
) -> Option<T> {
    match r {
        Ok(v) => v.into(),
        Err(code) => {
            errors.entry(field.to_string()).or_insert(code);
            None
        }
    }
}
