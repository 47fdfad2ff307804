//! Inbound email from Postmark's inbound webhook
//! (<https://postmarkapp.com/developer/webhooks/inbound-webhook>), posted to
//! `POST /api/support/intake?provider=postmark` and authenticated with HTTP
//! basic auth (Postmark sends the credentials of the webhook URL,
//! `https://user:password@…`) against `SUPPORT_INBOUND_USER` /
//! `SUPPORT_INBOUND_PASSWORD`; without them configured the provider is
//! refused (401).
//!
//! Mapping: `FromFull.Email` (else `From`) → email, `FromFull.Name` (else
//! `FromName`) → name, `Subject` → subject, `TextBody` (else
//! `StrippedTextReply`, else `HtmlBody` with tags removed) → message, source
//! `email`. Postmark's `MessageID` becomes the implicit Idempotency-Key, so
//! Postmark's own retries never add a contact twice. Attachments are not
//! stored (their count is kept in metadata). Text is stripped, never refused
//! ([`Mode::Strip`]): an email cannot be corrected by its sender.
//!
//! An automatic email ([`auto_reply::automatic`]: out-of-office replies, bounces, list
//! mail) is marked `Intake::automatic` and metadata `auto_submitted`: it is
//! kept but pages nobody (see [`auto_reply`]), so an autoresponder
//! answering our own emails can never start a loop.

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::auto_reply;
use super::input::{validate, InputError, Mode, Parsed, Raw};
use crate::config::BasicAuth;
use crate::secret::Secret;

/// Message text used when an email has no text at all (attachment only).
pub const EMPTY_BODY: &str = "(no text in this email)";

#[derive(Debug, Deserialize)]
struct Address {
    #[serde(rename = "Email")]
    email: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Header {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Value")]
    value: String,
}

#[derive(Debug, Deserialize)]
struct Inbound {
    #[serde(rename = "FromFull")]
    from_full: Option<Address>,
    #[serde(rename = "From")]
    from: Option<String>,
    #[serde(rename = "FromName")]
    from_name: Option<String>,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "TextBody")]
    text_body: Option<String>,
    #[serde(rename = "StrippedTextReply")]
    stripped_text_reply: Option<String>,
    #[serde(rename = "HtmlBody")]
    html_body: Option<String>,
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    #[serde(rename = "Headers", default)]
    headers: Vec<Header>,
    #[serde(rename = "Attachments", default)]
    attachments: Vec<IgnoredAny>,
}

/// Checks `Authorization: Basic …` against the configured pair, both parts
/// in constant time. The error is the 401 code.
pub fn authenticate(expected: Option<&BasicAuth>, headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(expected) = expected else {
        return Err("inbound_not_configured");
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("missing_credentials")?;
    let (user, password) = presented.split_once(':').ok_or("missing_credentials")?;
    let user_ok = Secret::new(expected.user.clone()).matches(user);
    let password_ok = expected.password.matches(password);
    if user_ok & password_ok {
        Ok(())
    } else {
        Err("invalid_credentials")
    }
}

/// Maps a Postmark inbound payload to a contact, plus the implicit
/// idempotency key (`postmark-<MessageID>`).
pub fn parse(body: &[u8]) -> Result<(Parsed, Option<String>), InputError> {
    let inbound: Inbound =
        serde_json::from_slice(body).map_err(|_| InputError::Malformed("invalid_json"))?;
    let key = inbound
        .message_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(|id| format!("postmark-{id}"));
    let from = inbound.from_full.as_ref();
    let message = [&inbound.text_body, &inbound.stripped_text_reply]
        .into_iter()
        .flatten()
        .find(|t| !t.trim().is_empty())
        .cloned()
        .or_else(|| inbound.html_body.as_deref().map(strip_tags))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| EMPTY_BODY.to_string());
    let mut raw = Raw {
        email: from.and_then(|f| f.email.clone()).or(inbound.from.clone()),
        name: from
            .and_then(|f| f.name.clone())
            .or(inbound.from_name.clone()),
        subject: inbound.subject.clone(),
        message: Some(message),
        source: Some("email".into()),
        ..Raw::default()
    };
    raw.metadata = facts(&inbound);
    let mut parsed = validate(raw, Mode::Strip)?;
    if let Parsed::Contact(c) = &mut parsed {
        c.automatic = automatic(&inbound.headers);
    }
    Ok((parsed, key))
}

/// Whether the email's headers mark it automatic ([`auto_reply::automatic`]).
fn automatic(headers: &[Header]) -> bool {
    auto_reply::automatic(headers.iter().map(|h| (h.name.as_str(), h.value.as_str())))
}

/// What is worth keeping about the email itself.
fn facts(inbound: &Inbound) -> Vec<(String, String)> {
    let header = |name: &str| {
        inbound
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.clone())
    };
    let auto = automatic(&inbound.headers);
    let mut out = vec![("provider".to_string(), "postmark".to_string())];
    if let Some(id) = &inbound.message_id {
        out.push(("postmark_message_id".into(), id.clone()));
    }
    if let Some(id) = header("Message-ID") {
        out.push(("email_message_id".into(), id));
    }
    if auto {
        out.push(("auto_submitted".into(), "true".into()));
    }
    if !inbound.attachments.is_empty() {
        out.push(("attachments".into(), inbound.attachments.len().to_string()));
    }
    out
}

/// HTML to rough text: tags removed (block tags become line breaks), the
/// five basic entities decoded. Only for emails without a text part.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag.trim_start_matches('/').to_ascii_lowercase();
                if ["br", "p", "div", "li", "tr"]
                    .iter()
                    .any(|t| name.starts_with(t))
                {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::input::Parsed;

    fn auth(user: &str, pass: &str) -> BasicAuth {
        BasicAuth {
            user: user.into(),
            password: Secret::new(pass),
        }
    }

    fn basic(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", value.parse().unwrap());
        h
    }

    #[test]
    fn basic_auth_passes_only_with_the_configured_pair() {
        let a = auth("postmark", "s3cret");
        let good = format!("Basic {}", STANDARD.encode("postmark:s3cret"));
        assert_eq!(authenticate(Some(&a), &basic(&good)), Ok(()));
        let bad = format!("Basic {}", STANDARD.encode("postmark:s3cres"));
        assert_eq!(
            authenticate(Some(&a), &basic(&bad)),
            Err("invalid_credentials")
        );
        assert_eq!(
            authenticate(Some(&a), &HeaderMap::new()),
            Err("missing_credentials")
        );
        assert_eq!(
            authenticate(Some(&a), &basic("Bearer x")),
            Err("missing_credentials")
        );
        assert_eq!(
            authenticate(None, &basic(&good)),
            Err("inbound_not_configured")
        );
    }

    #[test]
    fn an_html_only_email_becomes_text_and_keeps_no_markup() {
        let body = serde_json::json!({
            "FromFull": {"Email": "jane@example.com", "Name": "Jane"},
            "Subject": "Hi\r\n there", "TextBody": "", "MessageID": "abc-123",
            "HtmlBody": "<p>Hello <b>you</b></p><script>x</script>&lt;ok&gt;",
            "Headers": [{"Name": "Auto-Submitted", "Value": "auto-replied"}],
            "Attachments": [{"Name": "a.pdf", "Content": "AAAA"}]
        });
        let (parsed, key) = parse(body.to_string().as_bytes()).unwrap();
        let Parsed::Contact(c) = parsed else {
            panic!("honeypot")
        };
        assert_eq!(key.as_deref(), Some("postmark-abc-123"));
        assert_eq!(c.subject.as_deref(), Some("Hi  there"));
        assert_eq!(c.message, "Hello you\nx<ok>");
        assert!(c.automatic);
        let meta = c.metadata.to_json();
        assert_eq!(meta["auto_submitted"], "true");
        assert_eq!(meta["attachments"], "1");
    }
}
