//! The Postgres pool, sized for serverless: a handful of connections per
//! instance (many instances run at once), short checkout and statement
//! timeouts so a slow database turns into a fast 503, never a hung request.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::config::SslMode;

use crate::config::Config;

/// The shared pool handle.
pub type Db = Pool;

/// How long a request waits for a pooled connection before giving up.
pub const POOL_WAIT_MS: u64 = 3_000;
/// How long opening a new connection may take.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Server-side cap on any one statement.
pub const STATEMENT_TIMEOUT_MS: u64 = 5_000;

/// Why the pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL could not be parsed.
    #[error("invalid database URL")]
    InvalidUrl,
    /// TLS could not be set up.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] native_tls::Error),
    /// The pool could not be built.
    #[error("pool setup failed: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
}

/// Builds the pool. Connections open lazily, so a cold start never blocks on
/// the database; TLS (postgres-native-tls) is used unless `sslmode=disable`.
pub fn connect(config: &Config) -> Result<Db, DbError> {
    let mut pg: tokio_postgres::Config = config
        .database_url
        .expose()
        .parse()
        .map_err(|_| DbError::InvalidUrl)?;
    let options = format!(
        "{} -c statement_timeout={STATEMENT_TIMEOUT_MS} -c idle_in_transaction_session_timeout=10000",
        pg.get_options().unwrap_or_default()
    );
    pg.options(options.trim());
    pg.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
    pg.application_name("opsbridge");
    let mgr_config = ManagerConfig {
        // Fast: a connection whose socket died (failover) reports closed and is
        // replaced; no extra round trip on every checkout.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if pg.get_ssl_mode() == SslMode::Disable {
        Manager::from_config(pg, tokio_postgres::NoTls, mgr_config)
    } else {
        let tls = native_tls::TlsConnector::new()?;
        Manager::from_config(
            pg,
            postgres_native_tls::MakeTlsConnector::new(tls),
            mgr_config,
        )
    };
    let pool = Pool::builder(manager)
        .max_size(config.db_pool_size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_millis(POOL_WAIT_MS)),
            create: Some(Duration::from_millis(CONNECT_TIMEOUT_MS + 500)),
            recycle: Some(Duration::from_millis(1_000)),
        })
        .build()?;
    Ok(pool)
}
