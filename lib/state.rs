//! `App`: what every handler shares, built once per instance (cold start):
//! configuration, the Postgres pool, Redis, one HTTP client, the clock.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Need};
use crate::db::{self, Db};
use crate::kv::Kv;

/// Outbound HTTP: connect timeout for every third-party call.
pub const OUTBOUND_CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Outbound HTTP: default total timeout (features may set shorter ones).
pub const OUTBOUND_TIMEOUT_MS: u64 = 10_000;

/// The shared application state (cheap to clone).
#[derive(Clone)]
pub struct App {
    /// Configuration.
    pub config: Arc<Config>,
    /// Postgres pool.
    pub db: Db,
    /// Redis.
    pub kv: Arc<Kv>,
    /// Outbound HTTP client (third-party APIs), shared for connection reuse.
    pub http: reqwest::Client,
    /// The clock.
    pub clock: SharedClock,
    /// The group commit of Stripe events (one per instance).
    pub stripe_writer: Arc<crate::stripe::writer::Writer>,
    /// The group commit of the app's events (one per instance).
    pub app_event_writer:
        Arc<crate::db::group_commit::GroupCommit<crate::product::writer::AppEvents>>,
}

impl App {
    /// Builds the state from a loaded configuration. Connects nothing yet.
    pub fn new(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let db = db::connect(&config).context("Failed to set up the Postgres pool")?;
        let kv = Kv::new(
            config.redis_url.expose(),
            config.redis_ca_cert.as_ref().map(|c| c.expose()),
            &config.redis_prefix,
        )
        .context("Failed to set up Redis")?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(OUTBOUND_CONNECT_TIMEOUT_MS))
            .timeout(Duration::from_millis(OUTBOUND_TIMEOUT_MS))
            .user_agent(concat!("opsbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Failed to build the HTTP client")?;
        Ok(Self {
            config: Arc::new(config),
            db,
            kv: Arc::new(kv),
            http,
            clock,
            stripe_writer: Default::default(),
            app_event_writer: Default::default(),
        })
    }

    /// Cold start: loads the environment (failing with every problem at once),
    /// builds the state and, unless `MIGRATE_ON_START=false`, checks the
    /// schema (one round trip when current) and migrates what is pending.
    /// A database that is down or a failed migration is logged and health
    /// reports it: the instance still starts so `/api/health` can say what is
    /// wrong. A TLS failure cannot heal by waiting (a wrong CA, a server
    /// without TLS under `sslmode=require`): it stops the cold start.
    pub async fn from_env(needs: &[Need]) -> anyhow::Result<Self> {
        let config = Config::from_env(needs)?;
        let app = Self::new(config, Arc::new(SystemClock))?;
        app.start().await?;
        Ok(app)
    }

    /// The cold-start checks of [`App::from_env`] on a built state.
    pub async fn start(&self) -> anyhow::Result<()> {
        if !self.config.migrate_on_start {
            return Ok(());
        }
        match db::migrate::on_start(&self.config, &self.db).await {
            Ok(applied) if !applied.is_empty() => {
                tracing::info!(applied = ?applied, "migrations applied")
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(tls) = db::tls_failure(&e) {
                    let shape = self.db.shape();
                    anyhow::bail!(
                        "Postgres TLS failed (sslmode={}{}): {tls}",
                        shape.ssl_mode.as_str(),
                        if shape.custom_ca {
                            ", CA from sslrootcert or DATABASE_CA_CERT"
                        } else {
                            ", system roots"
                        }
                    );
                }
                tracing::error!(error = %format!("{e:#}"), "migrations failed at start")
            }
        }
        Ok(())
    }
}
