//! Visibility: the `stripe_catchup` health check (last run, cursor age,
//! events recovered in the last 24 h) and the catch-up's two Slack alerts,
//! each at most once a day: the key is refused, or webhooks are being lost.
//!
//! Health fails only when the last run was `auth_failed`: a refused key
//! silently switches off the safety net, which is what health is for. A
//! partial run, a stale cursor or recovered events are reported, not failed.

use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Map, Value};

use super::cursor;
use crate::db::Sql;
use crate::health::Check;
use crate::jobs::JobKind;
use crate::state::App;

/// The check's own time limit (health answers fast even when Postgres hangs).
pub const CHECK_TIMEOUT_MS: u64 = 2_000;
/// An event counts as lost by the webhook only when the catch-up stored it
/// this long after Stripe created it: a run that merely beat a webhook
/// arriving seconds late is no sign of loss.
pub const LOST_AFTER_SECS: i64 = 300;

/// Events the catch-up stored in the last 24 h that the webhook had lost.
pub async fn recovered_24h(app: &App) -> anyhow::Result<i64> {
    let client = app.db.get().await.context("Failed to get a connection")?;
    let row = client
        .query_one(
            r#"SELECT count(*) FROM events
               WHERE via = 'catchup' AND received_at > $1::timestamptz - interval '24 hours'
                 AND received_at - created > make_interval(secs => $2)"#,
            &[&app.clock.now(), &(LOST_AFTER_SECS as f64)],
        )
        .await
        .context("Failed to count recovered events")?;
    Ok(row.get(0))
}

/// The `stripe_catchup` health check (also the admin status).
pub async fn health_check(app: &App) -> Check {
    let mut detail = Map::new();
    if app.config.stripe_api.is_none() {
        detail.insert("status".into(), "not_configured".into());
        return Check {
            name: "stripe_catchup",
            ok: true,
            detail,
        };
    }
    let limit = Duration::from_millis(CHECK_TIMEOUT_MS);
    let ok = match tokio::time::timeout(limit, details(app, &mut detail)).await {
        Ok(Ok(ok)) => ok,
        failed => {
            let error = failed.map_or("timed out".into(), |r| format!("{:#}", r.unwrap_err()));
            tracing::warn!(error = %error, "stripe catch-up health check failed");
            detail.insert("error".into(), "unavailable".into());
            true
        }
    };
    Check {
        name: "stripe_catchup",
        ok,
        detail,
    }
}

async fn details(app: &App, detail: &mut Map<String, Value>) -> anyhow::Result<bool> {
    let state = cursor::load(app).await?;
    let recovered = recovered_24h(app).await?;
    let now = app.clock.now();
    let status = state.last_status.as_deref().unwrap_or("never_run");
    let fields = json!({
        "status": status,
        "last_run_at": state.last_run_at,
        "last_ok_at": state.last_ok_at,
        "last_error": state.last_error,
        "cursor": state.cursor,
        "cursor_age_secs": state.cursor.map(|c| (now - c).num_seconds()),
        "recovered_24h": recovered,
        "webhooks_lost": recovered > 0,
    });
    if let Value::Object(m) = fields {
        detail.extend(m);
    }
    Ok(status != "auth_failed")
}

/// Alerts (once a day) that Stripe refuses the catch-up's key.
pub async fn alert_auth_failed(app: &App) {
    let text = ":rotating_light: The Stripe catch-up cannot read events: Stripe refused STRIPE_SECRET_KEY (auth_failed). Lost webhooks are not being recovered. Create a restricted key with read access to Events and set it.";
    alert(app, "auth_failed", text.to_string()).await;
}

/// Alerts (once a day) when the catch-up recovered events the webhook lost.
pub async fn alert_if_lost(app: &App) {
    match recovered_24h(app).await {
        Ok(0) => {}
        Ok(n) => {
            let text = format!(
                ":rotating_light: Stripe webhooks are being lost: the catch-up recovered {n} event(s) in the last 24 h that the webhook never delivered. Check the endpoint in Stripe (Developers → Webhooks: disabled, failing?) and STRIPE_WEBHOOK_SECRET."
            );
            alert(app, "webhooks_lost", text).await;
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not count recovered events"),
    }
}

/// Enqueues one Slack alert per `what` per day, and runs it now.
async fn alert(app: &App, what: &str, text: String) {
    let now = app.clock.now();
    let key = format!("stripe_catchup:{what}:{}", now.format("%Y-%m-%d"));
    let enqueued = async {
        let client = app.db.get().await?;
        crate::alerts::enqueue_alert(&client, key, text, None, now).await
    }
    .await;
    match enqueued {
        Ok(Some(id)) => crate::jobs::run_now(app, vec![(JobKind::SlackAlert, id)]).await,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), alert = what, "could not enqueue the alert")
        }
    }
}
