//! Logging: one JSON object per line on stdout (where Vercel collects it),
//! with the request's span fields (`request_id`, ...) on every line, and the
//! helpers that keep personal data out of those lines.

use sha2::{Digest, Sha256};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the JSON subscriber once; later calls are no-ops (tests call it
/// from many places). `RUST_LOG` filters, default `info`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_postgres=warn"));
    let _ = fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}

/// Masks an email for logs: `jane@example.com` → `j***@example.com`.
/// Anything that is not an email masks to `***`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".to_string(),
    }
}

/// A stable, non-reversible id for an email (first 16 hex chars of SHA-256 of
/// the lower-cased address), for correlating log lines without the address.
pub fn hash_email(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_masked_to_its_first_letter_and_domain() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("not-an-email"), "***");
        assert_eq!(mask_email("@example.com"), "***");
    }

    #[test]
    fn the_email_hash_ignores_case_and_never_contains_the_address() {
        let h = hash_email("Jane@Example.com");
        assert_eq!(h, hash_email("jane@example.com"));
        assert_eq!(h.len(), 16);
        assert!(!h.contains("jane"));
    }
}
