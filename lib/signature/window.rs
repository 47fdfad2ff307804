//! The replay window: how old, and how far in the future, a signed timestamp
//! may be. Shared by every scheme so that "tolerance" means one thing.
//!
//! The past bound is configurable (`STRIPE_WEBHOOK_TOLERANCE_SECS`); the
//! future bound is a small fixed skew, because a sender's clock may run a
//! little ahead of ours but a timestamp minutes ahead is not a clock problem.

use super::SignatureError;

/// Default maximum age of a signed timestamp, in seconds (Stripe's own
/// libraries use the same five minutes).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// How far in the future a signed timestamp may be, in seconds, to absorb
/// clock skew between the sender and us.
pub const FUTURE_SKEW_SECS: i64 = 60;

/// Accepts `timestamp` if it is at most `tolerance_secs` old and at most
/// [`FUTURE_SKEW_SECS`] ahead of `now_unix` (both bounds inclusive).
/// A tolerance of 0 means "this very second", not "no check".
pub(crate) fn check(
    timestamp: i64,
    tolerance_secs: u64,
    now_unix: i64,
) -> Result<(), SignatureError> {
    let age_secs = now_unix.saturating_sub(timestamp);
    let max_age_secs = i64::try_from(tolerance_secs).unwrap_or(i64::MAX);
    if age_secs > max_age_secs || age_secs < -FUTURE_SKEW_SECS {
        return Err(SignatureError::TimestampOutOfTolerance { age_secs });
    }
    Ok(())
}

/// Parses unix seconds as sent in a header: ASCII digits only (no sign, no
/// spaces, no fraction), and it must fit an `i64`.
pub(crate) fn parse_unix_secs(value: &str) -> Option<i64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bounds_of_the_window_are_inclusive() {
        assert!(check(1_000 - 300, 300, 1_000).is_ok());
        assert!(check(1_000 - 301, 300, 1_000).is_err());
        assert!(check(1_000 + FUTURE_SKEW_SECS, 300, 1_000).is_ok());
        assert!(check(1_000 + FUTURE_SKEW_SECS + 1, 300, 1_000).is_err());
    }

    #[test]
    fn extreme_values_neither_overflow_nor_pass() {
        assert!(check(i64::MIN, u64::MAX, i64::MAX).is_ok());
        assert!(check(i64::MIN, 300, i64::MAX).is_err());
        assert!(check(i64::MAX, 300, i64::MIN).is_err());
    }

    #[test]
    fn only_plain_digits_are_a_timestamp() {
        assert_eq!(parse_unix_secs("1700000000"), Some(1_700_000_000));
        for bad in [
            "",
            "-5",
            "+5",
            " 5",
            "5.0",
            "1e9",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_unix_secs(bad), None, "{bad:?}");
        }
    }
}
