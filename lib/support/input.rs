//! Parsing at the edge: a JSON or HTML-form post (or a mapped inbound email)
//! becomes an [`Intake`] of validated newtypes, or per-field error codes.
//!
//! Hostile text, decided once here:
//! - web posts (JSON, forms) are **rejected** (422) when any field holds a
//!   NUL or another control character (`control_characters`), or when the
//!   subject or name holds CR/LF (`line_break`: header injection into
//!   whatever later puts the subject in an email header). The message keeps
//!   `\n` and `\t`; `\r\n` and `\r` become `\n`.
//! - inbound emails ([`Mode::Strip`]) cannot be fixed by their sender, so
//!   the same characters are **stripped** (line breaks in single-line fields
//!   become spaces) and over-long text is truncated, never refused.
//! - HTML or script is not special: it is stored as the text it is, and no
//!   response ever echoes input.
//!
//! Unknown fields are ignored (HTML forms post their buttons and tokens);
//! the honeypot field [`HONEYPOT_FIELD`] filled in makes the whole post
//! [`Parsed::Honeypot`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest email address, in bytes (RFC 5321 path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Most metadata keys.
pub const MAX_METADATA_KEYS: usize = 20;
/// Largest metadata, serialized as JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 2_048;
/// Longest metadata key, in characters.
pub const MAX_METADATA_KEY_CHARS: usize = 64;
/// The field humans never see and bots fill in.
pub const HONEYPOT_FIELD: &str = "website";

/// A syntactically valid email address (ASCII, `local@domain.tld`), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates an address; the error is the field code.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("required");
        }
        if s.len() > MAX_EMAIL_BYTES {
            return Err("too_long");
        }
        let (local, domain) = s.rsplit_once('@').ok_or("invalid_email")?;
        if valid_local(local) && valid_domain(domain) {
            Ok(Self(s.to_string()))
        } else {
            Err("invalid_email")
        }
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_local(local: &str) -> bool {
    const SPECIAL: &[u8] = b"!#$%&'*+-/=?^_`{|}~.";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || SPECIAL.contains(&b))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    labels.len() >= 2
        && tld.len() >= 2
        && !tld.bytes().all(|b| b.is_ascii_digit())
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Where a contact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The website's contact form (the default).
    Form,
    /// The customer portal.
    Portal,
    /// An email forwarder.
    Email,
    /// A chat widget.
    Chat,
}

impl Source {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Portal => "portal",
            Self::Email => "email",
            Self::Chat => "chat",
        }
    }

    /// Parses a name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Form, Self::Portal, Self::Email, Self::Chat]
            .into_iter()
            .find(|x| x.as_str() == s.trim())
    }
}

/// Caller-supplied data: a flat map of strings, bounded. Stored, shown to
/// people, never used to decide anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// The map as JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// Adds an entry we set ourselves (inbound email facts).
    pub fn insert(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), Value::String(value));
    }
}

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

/// How hostile characters and over-long text are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse (web posts: the sender can fix and resend).
    Reject,
    /// Strip and truncate (inbound email: the sender cannot).
    Strip,
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
        if let Some(key) = k.strip_prefix("metadata[").and_then(|r| r.strip_suffix(']')) {
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
    if raw.honeypot.as_deref().is_some_and(|h| !h.trim().is_empty()) {
        return Ok(Parsed::Honeypot);
    }
    let mut errors = raw.errors;
    let email = match raw.email.as_deref().map(Email::parse) {
        Some(Ok(e)) => Some(e),
        Some(Err(code)) => note(&mut errors, "email", Err::<Email, _>(code)),
        None => note(&mut errors, "email", Err::<Email, _>("required")),
    };
    let name = text(raw.name.as_deref(), false, MAX_NAME_CHARS, mode);
    let name = note(&mut errors, "name", name);
    let subject = text(raw.subject.as_deref(), false, MAX_SUBJECT_CHARS, mode);
    let subject = note(&mut errors, "subject", subject);
    let message = text(raw.message.as_deref(), true, MAX_MESSAGE_CHARS, mode)
        .and_then(|m| m.ok_or("required"));
    let message = note(&mut errors, "message", message);
    let source = match raw.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Source::Form),
        Some(s) => Source::parse(s).ok_or("invalid_source"),
    };
    let source = note(&mut errors, "source", source);
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

/// Cleans one text field (see the module doc); `Ok(None)` when empty.
pub fn text(
    value: Option<&str>,
    multiline: bool,
    max_chars: usize,
    mode: Mode,
) -> Result<Option<String>, &'static str> {
    let Some(value) = value else { return Ok(None) };
    let unified = value.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len());
    for c in unified.chars() {
        match c {
            '\n' if multiline => out.push(c),
            '\t' if multiline => out.push(c),
            '\t' => out.push(' '),
            '\n' if mode == Mode::Reject => return Err("line_break"),
            '\n' => out.push(' '),
            c if c.is_control() && mode == Mode::Reject => return Err("control_characters"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > max_chars {
        return match mode {
            Mode::Reject => Err("too_long"),
            Mode::Strip => Ok(Some(trimmed.chars().take(max_chars).collect())),
        };
    }
    Ok(Some(trimmed.to_string()))
}

fn metadata(entries: Vec<(String, String)>, mode: Mode) -> Result<Metadata, &'static str> {
    let mut map = Map::new();
    for (k, v) in entries {
        let key = text(Some(&k), false, MAX_METADATA_KEY_CHARS, Mode::Reject)
            .map_err(|_| "invalid_key")?
            .ok_or("invalid_key")?;
        let value = text(Some(&v), false, MAX_METADATA_BYTES, mode)?.unwrap_or_default();
        map.insert(key, Value::String(value));
    }
    if map.len() > MAX_METADATA_KEYS {
        return Err("too_many_keys");
    }
    if Value::Object(map.clone()).to_string().len() > MAX_METADATA_BYTES {
        return Err("too_large");
    }
    Ok(Metadata(map))
}
