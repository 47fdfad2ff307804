//! The Postgres pool, sized for serverless: a handful of connections per
//! instance (many instances run at once), short checkout and statement
//! timeouts so a slow database turns into a fast 503, never a hung request.
//!
//! [`connect`] reads any URL a Vercel integration sets ([`super::url`]),
//! picks the database mode ([`Mode`]: `DATABASE_POOLER`, or what the URL
//! says), builds TLS libpq's way ([`super::tls`]) and hands out only
//! [`Conn`]s, the one door to Postgres.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};

use super::conn::{Conn, Mode};
use super::tls::{self, Roots, TlsError};
use super::url::{self, RootCert, SslMode, UrlError};
use super::Tx;
use crate::config::{Config, Pooler};

/// How long a request waits for a pooled connection before giving up.
pub const POOL_WAIT_MS: u64 = 3_000;
/// How long opening a new connection may take (a URL's `connect_timeout`
/// may shorten it, never lengthen it: a request answers within 10 s).
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Server-side cap on any one statement.
pub const STATEMENT_TIMEOUT_MS: u64 = 5_000;
/// Server-side cap on a transaction left idle (a crashed instance's locks).
pub const IDLE_IN_TRANSACTION_TIMEOUT_MS: u64 = 10_000;

/// Why the pool could not be built (never names the URL or its password).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL could not be parsed.
    #[error("invalid database URL: {0}")]
    Url(#[from] UrlError),
    /// `sslrootcert` names a file that cannot be read.
    #[error("sslrootcert cannot be read: {0}")]
    RootCertFile(std::io::Error),
    /// TLS could not be set up (bad PEM, no certificate).
    #[error("TLS setup failed: {0}")]
    Tls(#[from] TlsError),
    /// The pool could not be built.
    #[error("pool setup failed: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
}

/// What the pool connects through, as health reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The database mode.
    pub mode: Mode,
    /// The effective `sslmode` (libpq's: `require` with a CA is `verify-ca`).
    pub ssl_mode: SslMode,
    /// Whether a CA was given (`sslrootcert` or `DATABASE_CA_CERT`).
    pub custom_ca: bool,
}

/// The shared pool handle: hands out [`Conn`]s only.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    shape: Shape,
}

impl Db {
    /// A connection from the pool (waits at most [`POOL_WAIT_MS`]).
    pub async fn get(&self) -> Result<Conn, deadpool_postgres::PoolError> {
        Ok(Conn::new(self.pool.get().await?, self.shape.mode))
    }

    /// A transaction on a pooled connection (`BEGIN` goes with its first
    /// statement).
    pub async fn begin(&self) -> Result<Tx, deadpool_postgres::PoolError> {
        Ok(self.get().await?.begin())
    }

    /// Mode and TLS of this pool.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The pool's own figures (size, idle connections, waiters).
    pub fn status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }
}

/// Builds the pool from the configuration. Connections open lazily, so a
/// cold start never blocks on the database.
pub fn connect(config: &Config) -> Result<Db, DbError> {
    connect_url(
        config.database_url.expose(),
        config.database_pooler,
        config.database_ca_cert.as_ref().map(|c| c.expose()),
        config.db_pool_size,
    )
}

/// Builds a pool for `url` (also used for the migrations' direct URL).
pub fn connect_url(
    url: &str,
    pooler: Pooler,
    ca_pem: Option<&str>,
    size: usize,
) -> Result<Db, DbError> {
    let parsed = url::parse(url)?;
    let mode = match pooler {
        Pooler::Transaction => Mode::Transaction,
        Pooler::None => Mode::Direct,
        Pooler::Auto if parsed.pooler_hint.is_some() => Mode::Transaction,
        Pooler::Auto => Mode::Direct,
    };
    if !parsed.ignored.is_empty() {
        tracing::warn!(parameters = ?parsed.ignored, "database URL: unknown parameters ignored");
    }
    let mut pg = parsed.pg.clone();
    pg.ssl_mode(parsed.ssl_mode.tokio_ssl_mode());
    let connect_ms = parsed.connect_timeout_secs.map_or(CONNECT_TIMEOUT_MS, |s| {
        s.saturating_mul(1_000).min(CONNECT_TIMEOUT_MS)
    });
    pg.connect_timeout(Duration::from_millis(connect_ms));
    if pg.get_application_name().is_none() {
        pg.application_name("opsbridge");
    }
    match mode {
        // A session of our own: the limits are startup options.
        Mode::Direct => {
            let options = format!(
                "{} -c statement_timeout={STATEMENT_TIMEOUT_MS} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}",
                parsed.options.as_deref().unwrap_or_default()
            );
            pg.options(options.trim());
        }
        // Poolers refuse the `options` startup parameter; the limits go with
        // each BEGIN instead (see `Conn`).
        Mode::Transaction if parsed.options.is_some() => {
            tracing::warn!("database URL: `options` dropped (a transaction pooler refuses it)");
        }
        Mode::Transaction => {}
    }
    let roots = match (&parsed.root_cert, ca_pem) {
        (Some(RootCert::File(path)), _) => {
            let pem = std::fs::read_to_string(path).map_err(DbError::RootCertFile)?;
            Some(Roots::Custom(tls::certificates_from_pem(&pem)?))
        }
        (Some(RootCert::System), _) => Some(Roots::System),
        (None, Some(pem)) => Some(Roots::Custom(tls::certificates_from_pem(pem)?)),
        (None, None) => None,
    };
    let custom_ca = roots.is_some();
    let ssl_mode = tls::effective_mode(parsed.ssl_mode, custom_ca);
    let mgr_config = ManagerConfig {
        // Fast: a connection whose socket died (failover, a pooler restart)
        // reports closed and is replaced; no extra round trip per checkout.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if ssl_mode == SslMode::Disable {
        Manager::from_config(pg, tokio_postgres::NoTls, mgr_config)
    } else {
        let connector = tls::connector(ssl_mode, roots.unwrap_or(Roots::System))?;
        Manager::from_config(pg, connector, mgr_config)
    };
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_millis(POOL_WAIT_MS)),
            create: Some(Duration::from_millis(connect_ms + 500)),
            recycle: Some(Duration::from_millis(1_000)),
        })
        .build()?;
    Ok(Db {
        pool,
        shape: Shape {
            mode,
            ssl_mode,
            custom_ca,
        },
    })
}

/// The TLS part of a failed connection, if that is what failed: the
/// handshake (a certificate not signed by the given CA, a host name that
/// does not match) or a server without TLS under `sslmode=require`. Only
/// the TLS library's words are returned (no host, user or URL).
pub fn tls_failure(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        let text = cause.to_string();
        let is_tls = cause.downcast_ref::<native_tls::Error>().is_some()
            || text.contains("TLS handshake")
            || text.contains("server does not support TLS");
        if !is_tls {
            return None;
        }
        // The innermost cause says most (OpenSSL's reason).
        let mut inner: &dyn std::error::Error = cause;
        while let Some(next) = inner.source() {
            inner = next;
        }
        Some(inner.to_string())
    })
}
