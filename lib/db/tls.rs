//! TLS to Postgres the way libpq does it, for the `sslmode` parsed in
//! [`super::url`]: `allow`/`prefer`/`require` encrypt without checking the
//! certificate, `verify-ca` checks the chain, `verify-full` the chain and the
//! host name. A Vercel function has no file to point `sslrootcert` at, so a
//! CA usually arrives as PEM text in `DATABASE_CA_CERT`:
//! [`certificates_from_pem`] reads it (a bundle too, and dashboards' literal
//! `\n` escapes). `sslmode=disable` is the caller's business (`NoTls`).

use std::fmt;

use native_tls::{Certificate, Protocol, TlsConnector};
use postgres_native_tls::MakeTlsConnector;

use super::url::SslMode;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Why no connector or certificate could be had.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The text holds no `BEGIN CERTIFICATE` block.
    #[error("no PEM certificate found")]
    NoCertificate,
    /// Certificate `index` (1-based) has no `END CERTIFICATE` line.
    #[error("certificate {index} has no END CERTIFICATE line")]
    Unterminated {
        /// Position in the text, from 1.
        index: usize,
    },
    /// Certificate `index` (1-based) does not parse.
    #[error("certificate {index} does not parse: {reason}")]
    InvalidCertificate {
        /// Position in the text, from 1.
        index: usize,
        /// The TLS library's words.
        reason: String,
    },
    /// `sslmode=disable` wants `tokio_postgres::NoTls`, not a connector.
    #[error("sslmode=disable takes no TLS connector (use NoTls)")]
    Disabled,
    /// The TLS library refused the configuration.
    #[error("{0}")]
    Native(#[from] native_tls::Error),
}

/// Parses PEM text holding one or more certificates (DATABASE_CA_CERT may
/// hold a chain/bundle; Vercel functions have no file to point at, so the CA
/// arrives as PEM text in an env var — literal `\n` escapes are accepted
/// too, as some dashboards store newlines that way). Text around the
/// certificate blocks (quotes, comments, other PEM blocks) is ignored. An
/// error when no certificate is found or one fails to parse.
pub fn certificates_from_pem(pem: &str) -> Result<Vec<Certificate>, TlsError> {
    let text = pem.replace("\\r\\n", "\n").replace("\\n", "\n");
    let mut certs = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(BEGIN) {
        let index = certs.len() + 1;
        let block = &rest[start..];
        let end = block.find(END).ok_or(TlsError::Unterminated { index })? + END.len();
        let cert = Certificate::from_pem(&block.as_bytes()[..end]).map_err(|e| {
            TlsError::InvalidCertificate {
                index,
                reason: e.to_string(),
            }
        })?;
        certs.push(cert);
        rest = &block[end..];
    }
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

/// The roots to verify against.
#[derive(Clone)]
pub enum Roots {
    /// The system's trusted roots.
    System,
    /// These certificates only (the system roots are not used).
    Custom(Vec<Certificate>),
}

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::System => f.write_str("System"),
            Roots::Custom(certs) => write!(f, "Custom({} certificates)", certs.len()),
        }
    }
}

/// libpq's rule: with a root certificate given (`sslrootcert`, or here
/// `DATABASE_CA_CERT`), `sslmode=require` behaves like `verify-ca`. Every
/// other mode is returned unchanged.
pub fn effective_mode(mode: SslMode, has_roots: bool) -> SslMode {
    match mode {
        SslMode::Require if has_roots => SslMode::VerifyCa,
        other => other,
    }
}

/// Builds the connector libpq's way: Allow/Prefer/Require → encrypted,
/// certificate and hostname NOT verified; VerifyCa → chain verified against
/// `roots`, hostname not checked; VerifyFull → chain and hostname verified.
/// Custom roots replace the system roots. Pass the mode through
/// [`effective_mode`] first. Like libpq: TLS 1.2 at least, ALPN
/// `postgresql` (needed by `sslnegotiation=direct`).
///
/// `Disable` returns [`TlsError::Disabled`] (use `tokio_postgres::NoTls`);
/// `Roots::Custom` with no certificate returns [`TlsError::NoCertificate`].
pub fn connector(mode: SslMode, roots: Roots) -> Result<MakeTlsConnector, TlsError> {
    let mut builder = TlsConnector::builder();
    match mode {
        SslMode::Disable => return Err(TlsError::Disabled),
        SslMode::Allow | SslMode::Prefer | SslMode::Require => {
            builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyCa => {
            builder.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull => {}
    }
    if let Roots::Custom(certs) = roots {
        if certs.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        builder.disable_built_in_roots(true);
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    builder.min_protocol_version(Some(Protocol::Tlsv12));
    postgres_native_tls::set_postgresql_alpn(&mut builder);
    Ok(MakeTlsConnector::new(builder.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway self-signed TEST certificate (P-256, CN "opsbridge TEST
    /// CA"; its key was discarded). It secures nothing.
    const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUGB387vBKa8PTFAn2hcPZcZ87ki0wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRb3BzYnJpZGdlIFRFU1QgQ0EwIBcNMjYxMjA2MTExNjU2WhgP
MjEyNjExMTIxMTE2NTZaMBwxGjAYBgNVBAMMEW9wc2JyaWRnZSBURVNUIENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdljt1wU1sPkJaZVreZXqNo1sgOEvCIr
qArQau0C05U3xfDzZMhUODZxWkpxgpw091+wiphSzIEDayWhHTPmnqNTMFEwHQYD
VR0OBBYEFEg/WEP9cvk2r8dlfoBIQQbKq11MMB8GA1UdIwQYMBaAFEg/WEP9cvk2
r8dlfoBIQQbKq11MMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
AJIt0FHxr+Kk8I3vVMxmGapHHgw4W3hnmfYsbiKoUlUlAiAvb9lFUFRHSIdNJdcY
cm59JKmBrSQKX7Osd9nR+WES+w==
-----END CERTIFICATE-----
";

    fn pem_error(text: &str) -> TlsError {
        certificates_from_pem(text).err().expect("an error")
    }

    #[test]
    fn a_single_pem_certificate_parses() {
        let certs = certificates_from_pem(TEST_CERT).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].to_der().unwrap()[0], 0x30);
    }

    #[test]
    fn a_bundle_yields_every_certificate_in_order() {
        let bundle = format!("# a comment\n{TEST_CERT}\n{TEST_CERT}\r\n");
        assert_eq!(certificates_from_pem(&bundle).unwrap().len(), 2);
    }

    #[test]
    fn literal_backslash_n_escapes_from_a_dashboard_are_accepted() {
        let escaped = TEST_CERT.replace('\n', "\\n");
        assert!(!escaped.contains('\n'));
        assert_eq!(certificates_from_pem(&escaped).unwrap().len(), 1);
        let quoted = format!("\"{}\"", TEST_CERT.replace('\n', "\\r\\n"));
        assert_eq!(certificates_from_pem(&quoted).unwrap().len(), 1);
    }

    #[test]
    fn text_without_a_certificate_is_refused() {
        for text in [
            "",
            "   ",
            "not a certificate",
            "-----BEGIN PRIVATE KEY-----",
        ] {
            let err = pem_error(text);
            assert!(matches!(err, TlsError::NoCertificate), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_certificate_without_its_end_line_is_refused() {
        let cut = &TEST_CERT[..TEST_CERT.len() - 30];
        let err = pem_error(&format!("{TEST_CERT}{cut}"));
        assert!(matches!(err, TlsError::Unterminated { index: 2 }), "{err}");
    }

    #[test]
    fn a_corrupt_certificate_is_refused_with_its_position() {
        let corrupt = TEST_CERT.replace("MIIBjzCC", "MIIB!!CC");
        let err = pem_error(&format!("{TEST_CERT}{corrupt}"));
        assert!(
            matches!(err, TlsError::InvalidCertificate { index: 2, .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("certificate 2 does not parse: "));
    }

    #[test]
    fn require_with_roots_becomes_verify_ca_and_nothing_else_changes() {
        use SslMode::*;
        let table = [
            (Disable, false, Disable),
            (Disable, true, Disable),
            (Allow, true, Allow),
            (Prefer, true, Prefer),
            (Require, false, Require),
            (Require, true, VerifyCa),
            (VerifyCa, false, VerifyCa),
            (VerifyCa, true, VerifyCa),
            (VerifyFull, false, VerifyFull),
            (VerifyFull, true, VerifyFull),
        ];
        for (mode, has_roots, want) in table {
            assert_eq!(
                effective_mode(mode, has_roots),
                want,
                "{mode:?} {has_roots}"
            );
        }
    }

    #[test]
    fn a_connector_builds_for_every_encrypting_mode_and_both_kinds_of_roots() {
        use SslMode::*;
        for mode in [Allow, Prefer, Require, VerifyCa, VerifyFull] {
            connector(mode, Roots::System).unwrap();
            let custom = Roots::Custom(certificates_from_pem(TEST_CERT).unwrap());
            connector(mode, custom).unwrap();
        }
    }

    #[test]
    fn disable_gets_no_connector() {
        let err = connector(SslMode::Disable, Roots::System).err().unwrap();
        assert!(matches!(err, TlsError::Disabled), "{err}");
    }

    #[test]
    fn custom_roots_without_a_certificate_are_refused() {
        let err = connector(SslMode::VerifyFull, Roots::Custom(Vec::new()))
            .err()
            .unwrap();
        assert!(matches!(err, TlsError::NoCertificate), "{err}");
    }

    #[test]
    fn roots_debug_counts_certificates() {
        let custom = Roots::Custom(certificates_from_pem(TEST_CERT).unwrap());
        assert_eq!(format!("{custom:?}"), "Custom(1 certificates)");
        assert_eq!(format!("{:?}", Roots::System), "System");
    }
}
