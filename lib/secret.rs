//! `Secret`: a string that never prints. Every token, key and URL with a
//! password in it is held in one, so a stray `{:?}` or a logged config cannot
//! leak it.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret value: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used (a header, a key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares a presented value with this secret in constant time
    /// (length differences are revealed, contents are not).
    pub fn matches(&self, presented: &str) -> bool {
        let a = self.0.as_bytes();
        let b = presented.as_bytes();
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new("sk_test_FAKE_123");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn matching_requires_the_exact_value() {
        let s = Secret::new("token-abc");
        assert!(s.matches("token-abc"));
        assert!(!s.matches("token-ab"));
        assert!(!s.matches("token-abd"));
        assert!(!s.matches(""));
    }
}
