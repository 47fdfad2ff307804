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
        .with_writer(RedactingStdout)
        .try_init();
}

/// Stdout, with every email-looking string masked before it is written: a
/// last line of defence for addresses that reach a log line inside an
/// upstream or database error message (`Key (email)=(...) already exists`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStdout;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStdout {
    type Writer = LineBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        LineBuffer(Vec::with_capacity(256))
    }
}

/// One log line, buffered, redacted and written on drop.
pub struct LineBuffer(Vec<u8>);

impl std::io::Write for LineBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0);
        let out = redact_emails(&line);
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    }
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._%+-".contains(&c)
}

fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

/// Masks every `local@domain.tld` (or URL-encoded `local%40domain.tld`) in
/// `text` to `l***@domain.tld`. Already masked addresses are left alone.
pub fn redact_emails(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let at_len = if b[i] == b'@' {
            1
        } else if b[i..].starts_with(b"%40") {
            3
        } else {
            0
        };
        if at_len == 0 {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > copied && is_local(b[start - 1]) {
            start -= 1;
        }
        let mut end = i + at_len;
        while end < b.len() && is_domain(b[end]) {
            end += 1;
        }
        let domain = &text[i + at_len..end];
        if start < i && domain.contains('.') {
            out.push_str(&text[copied..start]);
            out.push_str(&text[start..start + 1]);
            out.push_str("***@");
            out.push_str(domain);
            copied = end;
        }
        i = end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
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
    fn emails_inside_log_lines_are_masked_wherever_they_appear() {
        let line = r#"{"error":"Key (email_lower)=(jane.doe@example.com) already exists","url":"/x?email=bob%40corp.io"}"#;
        let out = redact_emails(line);
        assert!(
            !out.contains("jane.doe@") && !out.contains("bob%40"),
            "{out}"
        );
        assert!(
            out.contains("(j***@example.com)") && out.contains("b***@corp.io"),
            "{out}"
        );
        assert_eq!(
            redact_emails("already j***@example.com masked"),
            "already j***@example.com masked"
        );
        assert_eq!(
            redact_emails("no email @ here, a@b, x@"),
            "no email @ here, a@b, x@"
        );
    }

    #[test]
    fn the_email_hash_ignores_case_and_never_contains_the_address() {
        let h = hash_email("Jane@Example.com");
        assert_eq!(h, hash_email("jane@example.com"));
        assert_eq!(h.len(), 16);
        assert!(!h.contains("jane"));
    }
}
