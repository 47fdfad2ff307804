//! What a signature check returns, whatever the scheme: the accepted
//! timestamp and which configured secret matched, or one [`SignatureError`]
//! a caller can branch on (and answer with a stable `code`).
//!
//! Messages are written for logs and error bodies, so no variant carries the
//! secret, the body or a presented signature: only header names, fixed
//! reasons and the timestamp's age, none of which helps an attacker.

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedAt {
    /// The signed timestamp (unix seconds), already inside the window.
    pub timestamp: i64,
    /// Index, in the configured list, of the secret that matched: during a
    /// rotation, a match on the old secret says the sender has not moved yet.
    pub secret_index: usize,
}

/// Why a signature was not accepted.
///
/// Every variant but [`SignatureError::InvalidKey`] is the sender's problem
/// (an endpoint answers 401); `InvalidKey` is our configuration's (500, and
/// it should have been caught at start-up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header (or, for Standard Webhooks, one of the three
    /// headers) is absent or empty.
    #[error("missing {header} header")]
    MissingHeader {
        /// Name of the missing header, lowercase.
        header: &'static str,
    },
    /// A header is present but cannot be read: no or bad timestamp, too long,
    /// too many signatures, characters outside visible ASCII.
    #[error("malformed signature header: {reason}")]
    MalformedHeader {
        /// A fixed description of what is wrong (never the header itself).
        reason: &'static str,
    },
    /// The header is well formed but carries no `v1` signature (only `v0`,
    /// `v1a` or unknown schemes, which are never accepted: no downgrade).
    #[error("signature header has no v1 signature")]
    NoV1,
    /// A valid signature over a timestamp outside the window: too old
    /// (a replay, or a delivery stuck somewhere) or too far in the future.
    #[error("signature timestamp outside the tolerance window (age {age_secs} s)")]
    TimestampOutOfTolerance {
        /// `now - timestamp` in seconds; negative for a future timestamp.
        age_secs: i64,
    },
    /// No presented `v1` signature matches any configured secret.
    #[error("no signature matches a configured secret")]
    NoMatch,
    /// A configured Standard Webhooks secret is not `whsec_` followed by
    /// non-empty standard base64.
    #[error("signing secret is not whsec_ followed by base64")]
    InvalidKey,
}

impl SignatureError {
    /// A stable, machine-readable code for error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader { .. } => "missing_signature",
            Self::MalformedHeader { .. } => "malformed_signature",
            Self::NoV1 => "no_v1_signature",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Self::NoMatch => "signature_mismatch",
            Self::InvalidKey => "invalid_signing_key",
        }
    }

    /// Shorthand for [`SignatureError::MalformedHeader`].
    pub(crate) fn malformed(reason: &'static str) -> Self {
        Self::MalformedHeader { reason }
    }
}
