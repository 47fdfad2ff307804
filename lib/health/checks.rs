//! The checks: configuration, Postgres (with schema version), Redis.
//! Each runs concurrently under its own timeout.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::db::migrate;
use crate::db::url::SslMode;
use crate::db::Sql;
use crate::state::App;

/// Per-check time limit.
pub const CHECK_TIMEOUT_MS: u64 = 2_000;

/// One dependency's result.
#[derive(Debug, Clone)]
pub struct Check {
    /// Name (`postgres`, `redis`, `config`).
    pub name: &'static str,
    /// Passed?
    pub ok: bool,
    /// Detail fields (latency, versions, error kind; never secrets).
    pub detail: Map<String, Value>,
}

/// All checks.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Names of the failing checks.
    pub fn failing(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect()
    }

    /// The response body.
    pub fn to_json(&self) -> Value {
        let mut checks = Map::new();
        for c in &self.checks {
            let mut d = c.detail.clone();
            d.insert("ok".into(), Value::Bool(c.ok));
            checks.insert(c.name.into(), Value::Object(d));
        }
        json!({
            "status": if self.ok() { "ok" } else { "degraded" },
            "checks": checks,
            "version": std::env::var("VERCEL_GIT_COMMIT_SHA").ok().map(|s| s.chars().take(12).collect::<String>()),
        })
    }
}

/// Runs every check concurrently.
pub async fn run(app: &App) -> Report {
    let (pg, redis, catchup, incidents) = tokio::join!(
        postgres(app),
        redis(app),
        crate::catchup::health_check(app),
        crate::watchdog::health_check(app)
    );
    Report {
        checks: vec![config(app), pg, redis, catchup, incidents],
    }
}

fn config(app: &App) -> Check {
    let mut detail = Map::new();
    detail.insert("deploy_env".into(), app.config.deploy_env.as_str().into());
    let integrations: Map<String, Value> = app
        .config
        .integrations()
        .into_iter()
        .map(|(name, on)| {
            let state = if on { "configured" } else { "not_configured" };
            (name.to_string(), Value::from(state))
        })
        .collect();
    detail.insert("integrations".into(), Value::Object(integrations));
    Check {
        name: "config",
        ok: true,
        detail,
    }
}

async fn timed<T, E: std::fmt::Display>(
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> (Result<T, String>, u64) {
    let start = Instant::now();
    let r = match tokio::time::timeout(Duration::from_millis(CHECK_TIMEOUT_MS), fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_string()),
    };
    (r, start.elapsed().as_millis() as u64)
}

async fn postgres(app: &App) -> Check {
    let (r, ms) = timed(async {
        let client = app.db.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        client.query_one("SELECT 1", &[]).await?;
        let version = migrate::current_version(&client).await?;
        let queue = if version.is_some() {
            queue(&client, app.clock.now()).await.ok()
        } else {
            None
        };
        anyhow::Ok((version, queue))
    })
    .await;
    let mut detail = Map::new();
    detail.insert("latency_ms".into(), ms.into());
    // How the pool reaches Postgres (never the URL): the mode and the TLS
    // that was asked for, and whether the certificate is checked and
    // against which roots.
    let shape = app.db.shape();
    detail.insert("pooler".into(), shape.mode.pooler().into());
    detail.insert("tls".into(), shape.ssl_mode.as_str().into());
    let verified = matches!(shape.ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull);
    let roots = match (verified, shape.custom_ca) {
        (false, _) => Value::Null,
        (true, true) => "custom".into(),
        (true, false) => "system".into(),
    };
    detail.insert("tls_roots".into(), roots);
    let ok = match r {
        Ok((version, queue)) => {
            let current = version.as_deref() == Some(migrate::latest_version());
            detail.insert("schema".into(), version.into());
            detail.insert("schema_current".into(), current.into());
            if let Some(q) = queue {
                detail.insert("queue".into(), q);
            }
            current
        }
        Err(e) => {
            detail.insert("error".into(), classify(&e).into());
            false
        }
    };
    Check {
        name: "postgres",
        ok,
        detail,
    }
}

/// Outbox figures: what is waiting, what is dead, how late the oldest due job is.
async fn queue(
    client: &crate::db::Conn,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Value> {
    let row = client
        .query_one(
            r#"SELECT count(*) FILTER (WHERE state = 'pending'),
                      count(*) FILTER (WHERE state = 'pending' AND run_at <= $1),
                      count(*) FILTER (WHERE state = 'held'),
                      count(*) FILTER (WHERE state = 'dead'),
                      EXTRACT(EPOCH FROM ($1 - min(run_at) FILTER (WHERE state = 'pending' AND run_at <= $1)))::float8
               FROM jobs WHERE state IN ('pending', 'held', 'dead')"#,
            &[&now],
        )
        .await?;
    let oldest: Option<f64> = row.get(4);
    Ok(json!({
        "pending": row.get::<_, i64>(0),
        "due": row.get::<_, i64>(1),
        "held": row.get::<_, i64>(2),
        "dead": row.get::<_, i64>(3),
        "oldest_due_age_secs": oldest.map(|s| s.max(0.0).round() as i64),
    }))
}

async fn redis(app: &App) -> Check {
    let (r, ms) = timed(app.kv.ping()).await;
    let mut detail = Map::new();
    detail.insert("latency_ms".into(), ms.into());
    let tls = app.config.redis_url.expose().starts_with("rediss://");
    detail.insert("tls".into(), tls.into());
    if let Err(e) = &r {
        detail.insert("error".into(), classify(e).into());
    }
    Check {
        name: "redis",
        ok: r.is_ok(),
        detail,
    }
}

/// A short, secret-free description of a failure (driver messages can echo
/// host names or users, so only the kind is reported).
fn classify(error: &str) -> &'static str {
    let e = error.to_lowercase();
    if e.contains("timed out") || e.contains("timeout") {
        "timeout"
    } else if e.contains("refused") || e.contains("unreachable") || e.contains("connect") {
        "unreachable"
    } else if e.contains("password") || e.contains("auth") {
        "auth_failed"
    } else {
        "error"
    }
}
