//! Field newtypes and text cleaning, shared by every input format.
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

    /// The optional `source` field: absent or blank is `Form`; anything
    /// unknown is `invalid_source`.
    pub fn field(value: Option<&str>) -> Result<Self, &'static str> {
        match value.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Self::Form),
            Some(s) => Self::parse(s).ok_or("invalid_source"),
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

/// How hostile characters and over-long text are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse (web posts: the sender can fix and resend).
    Reject,
    /// Strip and truncate (inbound email: the sender cannot).
    Strip,
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

pub(super) fn metadata(
    entries: Vec<(String, String)>,
    mode: Mode,
) -> Result<Metadata, &'static str> {
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
