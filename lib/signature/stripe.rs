//! Stripe webhook signatures: the `Stripe-Signature` header.
//!
//! Stripe sends `t=<unix secs>,v1=<hex>[,v1=<hex>…][,v0=<hex>]` and signs
//! `"{t}.{raw body}"` with HMAC-SHA256, keyed with the endpoint secret's bytes
//! (the whole `whsec_…` string, not a decoding of it; that is what Stripe's
//! libraries do). We verify over the raw bytes before any JSON parsing.
//!
//! Choices, each tested in `stripe_tests.rs`:
//! - Any `v1` may match any configured secret: Stripe sends one `v1` per
//!   active secret during a roll, and we may hold old and new (rotation).
//! - `v0` (test-mode filler) and unknown keys are ignored, never accepted.
//! - Items may carry spaces and come in any order; a repeated `t`, a header
//!   over [`MAX_HEADER_BYTES`] or more than [`MAX_V1_SIGNATURES`] `v1` values
//!   is malformed (hostile input should not buy unbounded HMAC work).
//! - Hex is decoded, so uppercase hex is accepted: Stripe sends lowercase, and
//!   the decoded 32 bytes are what is compared, so case cannot forge anything.
//! - The signature is checked before the timestamp, as Stripe's libraries
//!   do, so `TimestampOutOfTolerance` always means "genuine but stale" (a
//!   replay or a clock problem), never "forged".

use super::mac::{self, Tag, TAG_LEN};
use super::window::{self, parse_unix_secs};
use super::{SignatureError, VerifiedAt};
use crate::secret::Secret;
use std::fmt;

/// The header name, lowercase as `http` stores it.
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// Longest header accepted, in bytes (Stripe's is about 200).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Most `v1` values accepted in one header (Stripe sends one per active
/// secret, so two during a roll).
pub const MAX_V1_SIGNATURES: usize = 16;

/// A parsed `Stripe-Signature` header.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// `t`: when Stripe signed, unix seconds.
    pub timestamp: i64,
    /// Every `v1` value as sent, trimmed; possibly empty or not hex.
    pub v1: Vec<&'a str>,
}

impl<'a> SignatureHeader<'a> {
    /// Parses a header value (already known to be present and non-empty).
    pub fn parse(header: &'a str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::malformed("header longer than 8 KiB"));
        }
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for (key, value) in header.split(',').filter_map(|item| item.split_once('=')) {
            match key.trim() {
                "t" if timestamp.is_some() => {
                    return Err(SignatureError::malformed("more than one t"));
                }
                "t" => {
                    let t = parse_unix_secs(value.trim())
                        .ok_or(SignatureError::malformed("t is not unix seconds"))?;
                    timestamp = Some(t);
                }
                "v1" if v1.len() == MAX_V1_SIGNATURES => {
                    return Err(SignatureError::malformed("too many v1 signatures"));
                }
                "v1" => v1.push(value.trim()),
                // v0 (test-mode filler), future schemes, unknown keys.
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::malformed("missing t"))?;
        if v1.is_empty() {
            return Err(SignatureError::NoV1);
        }
        Ok(Self { timestamp, v1 })
    }
}

/// Prints the timestamp and how many `v1` values there are, never the values.
impl fmt::Debug for SignatureHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureHeader")
            .field("timestamp", &self.timestamp)
            .field("v1_count", &self.v1.len())
            .finish()
    }
}

/// Verifies a Stripe delivery: `header` is the `Stripe-Signature` value (None
/// when absent), `body` the raw request body, `secrets` the endpoint secrets
/// (several during a rotation), `tolerance_secs` the maximum age of `t`, and
/// `now_unix` the current time (a parameter so tests can pin it).
///
/// Empty secrets never match. See the module docs for every other rule.
///
/// ```
/// use opsbridge::secret::Secret;
/// use opsbridge::signature::stripe;
///
/// let secret = Secret::new("whsec_FAKE_example");
/// let header = stripe::sign(b"{}", &secret, 1_700_000_000);
/// let ok = stripe::verify(Some(&header), b"{}", &[secret], 300, 1_700_000_100);
/// assert_eq!(ok.map(|v| v.timestamp), Ok(1_700_000_000));
/// ```
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    tolerance_secs: u64,
    now_unix: i64,
) -> Result<VerifiedAt, SignatureError> {
    let header =
        header
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or(SignatureError::MissingHeader {
                header: SIGNATURE_HEADER,
            })?;
    let parsed = SignatureHeader::parse(header)?;
    let presented: Vec<Tag> = parsed.v1.iter().filter_map(|v| decode_hex(v)).collect();
    let signed_t = parsed.timestamp.to_string();
    let secret_index = secrets
        .iter()
        .position(|secret| {
            let key = secret.expose().as_bytes();
            if key.is_empty() || presented.is_empty() {
                return false;
            }
            let expected = mac::tag(key, &[signed_t.as_bytes(), b".", body]);
            presented.iter().any(|p| mac::equal(&expected, p))
        })
        .ok_or(SignatureError::NoMatch)?;
    window::check(parsed.timestamp, tolerance_secs, now_unix)?;
    Ok(VerifiedAt {
        timestamp: parsed.timestamp,
        secret_index,
    })
}

/// A valid `Stripe-Signature` value for `body`, signed with `secret` at
/// `timestamp` (unix seconds), exactly as Stripe formats it:
/// `t=<timestamp>,v1=<lowercase hex>`. For tests, `scripts/sign` and benches.
pub fn sign(body: &[u8], secret: &Secret, timestamp: i64) -> String {
    let t = timestamp.to_string();
    let tag = mac::tag(secret.expose().as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(tag))
}

/// Decodes a `v1` value into a tag; anything but exactly 64 hex digits
/// (empty, truncated, too long, not hex) is `None` and can never match.
fn decode_hex(value: &str) -> Option<Tag> {
    let mut out = [0u8; TAG_LEN];
    hex::decode_to_slice(value, &mut out).ok().map(|()| out)
}
