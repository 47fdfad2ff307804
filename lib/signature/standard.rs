//! Standard Webhooks (<https://www.standardwebhooks.com>), symmetric `v1`.
//!
//! We sign our outbound webhooks (the app's member webhooks, the helpdesk
//! ticket webhook) with it, so a receiver can use any official library; and
//! we can verify inbound sources that follow it.
//!
//! The spec, as implemented by its reference libraries:
//! - the key is the base64 decoding of the secret after `whsec_`;
//! - the signed content is `{webhook-id}.{webhook-timestamp}.{body}`;
//! - `webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>`
//!   (several during a key rotation); other versions (`v1a`) are ignored.
//!
//! Our own rules on top, tested in `standard_tests.rs`: a secret must carry
//! the `whsec_` prefix (the reference libraries make it optional); ids we sign
//! must be visible ASCII without `.` (the spec's warning against ambiguous
//! signed content); the replay window is the same as Stripe's
//! ([`super::FUTURE_SKEW_SECS`] ahead, `tolerance_secs` behind).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;
use std::fmt;

use super::mac;
use super::window::{self, parse_unix_secs};
use super::{SignatureError, VerifiedAt};
use crate::secret::Secret;

/// The message id header: stable across retries, the receiver's dedupe key.
pub const ID_HEADER: &str = "webhook-id";
/// The attempt's unix timestamp header.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The space-separated signature list header.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix of a serialized symmetric secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Longest `webhook-signature` accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most `v1` signatures accepted in one header.
pub const MAX_V1_SIGNATURES: usize = 16;

const VERSION: &str = "v1";

/// A decoded signing key, ready to sign many messages. Build it once at
/// start-up: [`StandardSigner::new`] is also how configuration is validated.
#[derive(Clone)]
pub struct StandardSigner {
    key: Vec<u8>,
}

impl StandardSigner {
    /// Decodes a `whsec_<base64>` secret; anything else is
    /// [`SignatureError::InvalidKey`].
    pub fn new(secret: &Secret) -> Result<Self, SignatureError> {
        let encoded = secret
            .expose()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::InvalidKey)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::InvalidKey)?;
        if key.is_empty() {
            return Err(SignatureError::InvalidKey);
        }
        Ok(Self { key })
    }

    /// The `webhook-signature` value (`v1,<base64>`) for this message. Fails
    /// only for an id that is empty, has a `.` or is not visible ASCII, or a
    /// negative timestamp.
    pub fn sign(
        &self,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, SignatureError> {
        if msg_id.is_empty() || !msg_id.bytes().all(|b| b.is_ascii_graphic() && b != b'.') {
            return Err(SignatureError::malformed(
                "webhook-id must be visible ASCII without '.'",
            ));
        }
        if timestamp < 0 {
            return Err(SignatureError::malformed("webhook-timestamp is negative"));
        }
        Ok(format!(
            "{VERSION},{}",
            STANDARD.encode(self.tag(msg_id, timestamp, body))
        ))
    }

    /// The three headers of a delivery, as `(name, value)` pairs in the
    /// order `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub fn headers(
        &self,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<[(&'static str, String); 3], SignatureError> {
        let signature = self.sign(msg_id, timestamp, body)?;
        Ok([
            (ID_HEADER, msg_id.to_owned()),
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (SIGNATURE_HEADER, signature),
        ])
    }

    fn tag(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> mac::Tag {
        let t = timestamp.to_string();
        mac::tag(
            &self.key,
            &[msg_id.as_bytes(), b".", t.as_bytes(), b".", body],
        )
    }
}

/// Never prints the key.
impl fmt::Debug for StandardSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StandardSigner([redacted])")
    }
}

/// [`StandardSigner::sign`] with a one-off key.
pub fn sign(
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    StandardSigner::new(secret)?.sign(msg_id, timestamp, body)
}

/// [`StandardSigner::headers`] with a one-off key.
pub fn headers(
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[(&'static str, String); 3], SignatureError> {
    StandardSigner::new(secret)?.headers(msg_id, timestamp, body)
}

/// The three headers of a received delivery, each `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandardHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> StandardHeaders<'a> {
    /// Reads the three headers; a value that is not visible ASCII is
    /// malformed (rather than silently treated as absent).
    pub fn from_map(map: &'a HeaderMap) -> Result<Self, SignatureError> {
        let read = |name: &'static str| match map.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| SignatureError::malformed("header is not visible ASCII")),
        };
        Ok(Self {
            id: read(ID_HEADER)?,
            timestamp: read(TIMESTAMP_HEADER)?,
            signature: read(SIGNATURE_HEADER)?,
        })
    }
}

/// Verifies a delivery against any of `secrets` (several during a rotation):
/// headers present, timestamp digits, a `v1` signature matching, then the
/// timestamp inside the window (`tolerance_secs` old, [`super::FUTURE_SKEW_SECS`]
/// ahead, relative to `now_unix`). A malformed secret is
/// [`SignatureError::InvalidKey`], never skipped.
pub fn verify(
    secrets: &[Secret],
    headers: &StandardHeaders<'_>,
    body: &[u8],
    tolerance_secs: u64,
    now_unix: i64,
) -> Result<VerifiedAt, SignatureError> {
    let id = required(headers.id, ID_HEADER)?;
    let raw_timestamp = required(headers.timestamp, TIMESTAMP_HEADER)?;
    let signature = required(headers.signature, SIGNATURE_HEADER)?;
    let timestamp = parse_unix_secs(raw_timestamp).ok_or(SignatureError::malformed(
        "webhook-timestamp is not unix seconds",
    ))?;
    let presented = parse_signatures(signature)?;
    let signers = secrets
        .iter()
        .map(StandardSigner::new)
        .collect::<Result<Vec<_>, _>>()?;
    let secret_index = signers
        .iter()
        .position(|signer| {
            let expected = STANDARD.encode(signer.tag(id, timestamp, body));
            presented
                .iter()
                .any(|p| mac::equal(expected.as_bytes(), p.as_bytes()))
        })
        .ok_or(SignatureError::NoMatch)?;
    window::check(timestamp, tolerance_secs, now_unix)?;
    Ok(VerifiedAt {
        timestamp,
        secret_index,
    })
}

/// A present, non-empty header value, trimmed.
fn required<'a>(value: Option<&'a str>, header: &'static str) -> Result<&'a str, SignatureError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::MissingHeader { header })
}

/// The base64 part of every `v1,<base64>` entry, bounded in size and count.
fn parse_signatures(header: &str) -> Result<Vec<&str>, SignatureError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::malformed(
            "webhook-signature longer than 8 KiB",
        ));
    }
    let mut v1 = Vec::new();
    for entry in header.split(' ').filter(|e| !e.is_empty()) {
        match entry.split_once(',') {
            Some((VERSION, _)) if v1.len() == MAX_V1_SIGNATURES => {
                return Err(SignatureError::malformed("too many v1 signatures"));
            }
            Some((VERSION, sig)) => v1.push(sig),
            _ => {}
        }
    }
    if v1.is_empty() {
        return Err(SignatureError::NoV1);
    }
    Ok(v1)
}
