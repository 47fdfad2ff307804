//! Redis (Upstash in production), the fast path for idempotency claims, rate
//! limits and budgets. Never the source of truth: Postgres is.
//!
//! Every call has a short timeout ([`OP_TIMEOUT_MS`]); past it Redis counts as
//! down for that call and the caller falls back to Postgres. After a failed
//! connect, calls fail at once for [`RECONNECT_PAUSE_MS`] so a dead Redis
//! costs one timeout per second, not one per call. Keys carry the deploy's
//! prefix (see `config::redis_prefix`), so previews never collide.
//!
//! `rediss://` (Upstash) is verified against the system roots, or against
//! `REDIS_CA_CERT` when set. Upstash closes connections that sat idle; the
//! first command after that fails at once with a dropped connection, so it
//! is retried once on the replacement connection (the connection manager
//! reconnects by itself): the first request after a quiet hour does not take
//! the Redis-down path.
//!
//! Why the `redis` crate and not `upstash-redis-rs`: the latter (0.1.2) needs
//! nightly Rust (`#![feature(macro_metavar_expr)]`); Upstash speaks the Redis
//! protocol over TLS (`rediss://`), which `redis` handles on stable.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use tokio::sync::Mutex;

mod batch;

/// Cap on one Redis call, connecting included.
pub const OP_TIMEOUT_MS: u64 = 250;
/// After a failed connect, how long calls fail at once before trying again.
pub const RECONNECT_PAUSE_MS: u64 = 1_000;

/// Redis could not answer in time: the caller decides without it.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// Not reachable, timed out, or errored.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
}

/// The Redis handle: lazily connected, prefixed, time-bounded.
pub struct Kv {
    client: redis::Client,
    prefix: String,
    conn: Mutex<Conn>,
}

#[derive(Default)]
struct Conn {
    manager: Option<ConnectionManager>,
    failed_at: Option<Instant>,
}

impl Kv {
    /// A handle for `url` with every key under `prefix`; `rediss://` is
    /// verified against `ca_pem` when given. Does not connect.
    pub fn new(url: &str, ca_pem: Option<&str>, prefix: &str) -> Result<Self, KvError> {
        let client = match ca_pem {
            None => redis::Client::open(url),
            Some(pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.as_bytes().to_vec()),
                },
            ),
        }
        .map_err(|e| KvError::Unavailable(e.to_string()))?;
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            conn: Mutex::new(Conn::default()),
        })
    }

    /// The full key for `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn manager(&self) -> Result<ConnectionManager, KvError> {
        let mut conn = self.conn.lock().await;
        if let Some(m) = &conn.manager {
            return Ok(m.clone());
        }
        if let Some(at) = conn.failed_at {
            if at.elapsed() < Duration::from_millis(RECONNECT_PAUSE_MS) {
                return Err(KvError::Unavailable("recently unreachable".into()));
            }
        }
        let timeout = Duration::from_millis(OP_TIMEOUT_MS);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            timeout,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match made {
            Ok(Ok(m)) => {
                conn.manager = Some(m.clone());
                conn.failed_at = None;
                Ok(m)
            }
            Ok(Err(e)) => {
                conn.failed_at = Some(Instant::now());
                Err(KvError::Unavailable(e.to_string()))
            }
            Err(_) => {
                conn.failed_at = Some(Instant::now());
                Err(KvError::Unavailable("connect timed out".into()))
            }
        }
    }

    /// Runs one command with the timeout applied. `f` gets the connection
    /// and whether this is the retry: a command that met a connection the
    /// server had closed (idle) is run once more, on the replacement.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, KvError>
    where
        F: Fn(ConnectionManager, bool) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let m = self.manager().await?;
        let timeout = Duration::from_millis(OP_TIMEOUT_MS);
        match tokio::time::timeout(timeout, f(m.clone(), false)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if e.is_connection_dropped() || e.is_io_error() => {
                tracing::info!(error = %e, "redis connection was closed; retrying once");
                // The retry waits for the replacement connection (TCP and
                // TLS handshakes) and then the command: two budgets.
                match tokio::time::timeout(timeout * 2, f(m, true)).await {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(KvError::Unavailable(e.to_string())),
                    Err(_) => Err(KvError::Unavailable("command timed out".into())),
                }
            }
            Ok(Err(e)) => Err(KvError::Unavailable(e.to_string())),
            Err(_) => Err(KvError::Unavailable("command timed out".into())),
        }
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), KvError> {
        self.call(|mut c, _| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }

    /// `SET key value NX PX ttl`: true when this call created the key.
    /// `value` must be unique to the caller (a claim token): on the retry
    /// after a dropped connection, a key that already holds `value` was set
    /// by the first attempt, so it is ours.
    pub async fn set_nx(&self, key: &str, value: &str, ttl_ms: u64) -> Result<bool, KvError> {
        let k = self.key(key);
        let k = k.as_str();
        self.call(|mut c, retry| async move {
            let r: Option<String> = redis::cmd("SET")
                .arg(k)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut c)
                .await?;
            if r.is_none() && retry {
                let held: Option<String> = c.get(k).await?;
                return Ok(held.as_deref() == Some(value));
            }
            Ok(r.is_some())
        })
        .await
    }

    /// `SET key value PX ttl`.
    pub async fn set(&self, key: &str, value: &str, ttl_ms: u64) -> Result<(), KvError> {
        let k = self.key(key);
        let k = k.as_str();
        self.call(|mut c, _| async move { c.pset_ex::<_, _, ()>(k, value, ttl_ms).await })
            .await
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let k = self.key(key);
        let k = k.as_str();
        self.call(|mut c, _| async move { c.get(k).await }).await
    }

    /// Deletes `key` only while it still holds `value` (releasing a claim we
    /// own without removing someone else's).
    pub async fn del_if_eq(&self, key: &str, value: &str) -> Result<bool, KvError> {
        let k = self.key(key);
        let script = Script::new(
            r#"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"#,
        );
        let (k, script) = (k.as_str(), &script);
        self.call(|mut c, _| async move {
            let n: i64 = script.key(k).arg(value).invoke_async(&mut c).await?;
            Ok(n == 1)
        })
        .await
    }

    /// `INCRBY key by` and, on the first increment, `PEXPIRE key ttl`: a fixed
    /// window counter. Returns the new count and the window's remaining ms.
    pub async fn incr_window(
        &self,
        key: &str,
        by: i64,
        ttl_ms: u64,
    ) -> Result<(i64, i64), KvError> {
        let k = self.key(key);
        let script = Script::new(
            r#"local n = redis.call('INCRBY', KEYS[1], ARGV[1])
               if n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
               local ttl = redis.call('PTTL', KEYS[1])
               if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
               return {n, ttl}"#,
        );
        // A retry after a dropped connection may count one extra hit in the
        // rare case the first attempt reached Redis: a limit errs strict.
        let (k, script) = (k.as_str(), &script);
        self.call(|mut c, _| async move {
            let (n, ttl): (i64, i64) = script
                .key(k)
                .arg(by)
                .arg(ttl_ms)
                .invoke_async(&mut c)
                .await?;
            Ok((n, ttl))
        })
        .await
    }
}
