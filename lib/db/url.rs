//! Parsing of the Postgres URLs that Vercel's Neon and Supabase integrations
//! (and Prisma-style configs) put in `DATABASE_URL` / `POSTGRES_URL`.
//!
//! `tokio_postgres::Config::from_str` is not enough for them: it refuses the
//! parameters poolers and ORMs add (`supa`, `pgbouncer`, `connection_limit`,
//! ...), knows only three of libpq's six `sslmode`s, reads `tcp_user_timeout`
//! in seconds (libpq: milliseconds) and cannot take a raw `@` in a password.
//! So the URL is parsed here, libpq's way, into a `tokio_postgres::Config`
//! plus what the caller needs for TLS ([`SslMode`], [`RootCert`]) and for
//! picking the pooler mode. Errors never carry the URL or the password.

use std::fmt;

mod decode;
mod parts;
use decode::{decode_str, percent_decode};
use parts::{strip_scheme, Parts};

/// libpq's sslmode, ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server insists (treated like `Prefer`: tokio-postgres tries TLS first).
    Allow,
    /// TLS if the server offers it, certificate not verified.
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified, host name not checked.
    VerifyCa,
    /// TLS required, certificate chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling: `"disable"` ... `"verify-full"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What to give `tokio_postgres::Config::ssl_mode`: `Disable` for
    /// `Disable`, `Prefer` for `Allow`/`Prefer`, `Require` otherwise.
    pub fn tokio_ssl_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as T;
        match self {
            SslMode::Disable => T::Disable,
            SslMode::Allow | SslMode::Prefer => T::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => T::Require,
        }
    }

    fn parse(s: &str) -> Option<SslMode> {
        use SslMode::*;
        let all = [Disable, Allow, Prefer, Require, VerifyCa, VerifyFull];
        all.into_iter().find(|m| m.as_str() == s)
    }
}

/// Where `sslrootcert` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A file path, as given.
    File(String),
    /// `sslrootcert=system` (libpq 16): the system roots, with `verify-full`.
    System,
}

/// A parsed URL.
#[derive(Clone)]
pub struct DbUrl {
    /// Hosts, ports, user, password, dbname and the connection parameters
    /// from the URL. `ssl_mode` is left at its default: set it from
    /// [`SslMode::tokio_ssl_mode`]. `options` is NOT set here (see
    /// [`DbUrl::options`]): a `Config` cannot unset it once set.
    pub pg: tokio_postgres::Config,
    /// `sslmode`; `Prefer` (libpq's default) when absent, `Require` for
    /// `requiressl=1`, `VerifyFull` for `sslrootcert=system`.
    pub ssl_mode: SslMode,
    /// `sslrootcert`, if given (and not empty).
    pub root_cert: Option<RootCert>,
    /// Why `DATABASE_POOLER=auto` would pick transaction mode: `"port 6543"`,
    /// `"host contains pooler"` or `"pgbouncer=true"` (first that applies).
    pub pooler_hint: Option<&'static str>,
    /// `connect_timeout` in seconds as given, unclamped. 0 or negative
    /// means "no limit" to libpq (and Prisma) and gives `None`, like no
    /// parameter: the caller's own limit applies.
    pub connect_timeout_secs: Option<u64>,
    /// The `options` parameter, if given and not empty. Left out of `pg`
    /// because transaction poolers refuse it: the caller decides.
    pub options: Option<String>,
    /// `options.is_some()`.
    pub has_options: bool,
    /// Names (never values) of the parameters that were ignored, sorted and
    /// deduplicated, for one startup warning.
    pub ignored: Vec<String>,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres prints the password as `_` (a test checks it).
        f.debug_struct("DbUrl")
            .field("pg", &self.pg)
            .field("ssl_mode", &self.ssl_mode)
            .field("root_cert", &self.root_cert)
            .field("pooler_hint", &self.pooler_hint)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("options", &self.options)
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

/// Why a URL was refused. The message never holds the URL or the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `postgres://` or `postgresql://`.
    #[error("not a postgres:// or postgresql:// URL")]
    NotPostgres,
    /// A raw `/`, `?` or `#` in the password cut the URL in the wrong place.
    #[error("a raw '/', '?' or '#' in the password must be percent-encoded")]
    RawDelimiterInPassword,
    /// Neither a host nor a hostaddr.
    #[error("no host")]
    NoHost,
    /// `sslmode` is not one of libpq's six.
    #[error("invalid sslmode (disable, allow, prefer, require, verify-ca or verify-full)")]
    InvalidSslMode,
    /// The named parameter or URL part (`host`, `port`, `dbname`...) has a
    /// value we cannot use (bad number, unknown keyword, empty or badly
    /// bracketed host, not UTF-8 once percent-decoded).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A query segment without `=`.
    #[error("invalid query string (expected name=value pairs)")]
    MalformedQuery,
    /// Parameters that libpq refuses together; the message says which.
    #[error("{0}")]
    Inconsistent(&'static str),
}

/// Parses a `postgres://` or `postgresql://` URL the way libpq does (see the
/// module docs). Userinfo ends at the last `@` of the authority, the user at
/// the first `:` of the userinfo, so a raw `@`, `:` or `%` in a password works;
/// a raw `/`, `?` or `#` cannot (percent-encode it), nor can a raw `@` in the
/// database name. Query parameters override the authority's parts; a repeated
/// parameter's last value wins (`host`, `hostaddr` and `port` take comma lists).
pub fn parse(url: &str) -> Result<DbUrl, UrlError> {
    let rest = strip_scheme(url).ok_or(UrlError::NotPostgres)?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (tail, fragment) = tail.split_once('#').unwrap_or((tail, ""));
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    // An '@' after the authority is where a password's raw '/', '?' or '#' cut it.
    let key_has_at = |kv: &str| kv.split('=').next().is_some_and(|k| k.contains('@'));
    if path.contains('@') || fragment.contains('@') || query.split('&').any(key_has_at) {
        return Err(UrlError::RawDelimiterInPassword);
    }

    let mut parts = Parts::default();
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            parts.set("user", &decode_str(user, "user")?)?;
            parts.set_password(password);
            hostport
        }
        None => authority,
    };
    parts.authority_hosts(hostport)?;
    parts.set(
        "dbname",
        &decode_str(path.strip_prefix('/').unwrap_or(path), "dbname")?,
    )?;
    for pair in query.split('&').filter(|kv| !kv.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or(UrlError::MalformedQuery)?;
        parts.param(&String::from_utf8_lossy(&percent_decode(key)), value)?;
    }
    parts.finish()
}

#[cfg(test)]
mod tests;
