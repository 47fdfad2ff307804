//! Business outcomes for `GET /api/admin/metrics` (behind the admin token),
//! computed from Postgres over the last [`WINDOW_DAYS`] days:
//! - payment → access delay: Stripe event `created` → the app webhook that
//!   carried its change was delivered (`access_deliveries`), p50/p95 in ms;
//! - failed-payment recovery: invoices that failed, how many were paid
//!   within 24 h of the first failure, and the rate among those whose 24 h
//!   have run out (or that recovered);
//! - paid checkouts, and how many of them left `lead` (reached a paid state).
//!
//! Ticket → first draft latency belongs to the support feature and is not
//! measured here yet.

use crate::db::Sql;
use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::http::ApiError;
use crate::state::App;

/// How far back the metrics look.
pub const WINDOW_DAYS: i64 = 30;

/// Route (merged into the admin function, so the admin auth covers it).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/admin/metrics", get(metrics))
        .with_state(app)
}

async fn metrics(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    let result = async {
        let client = app.db.get().await.context("Failed to get a connection")?;
        compute(&client, app.clock.now()).await
    }
    .await;
    result.map(Json).map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "metrics query failed");
        ApiError::unavailable("store_unavailable", 5)
    })
}

/// Every metric as JSON, for the window ending at `now`.
pub async fn compute(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let since = now - Duration::days(WINDOW_DAYS);
    Ok(json!({
        "window_days": WINDOW_DAYS,
        "since": since.to_rfc3339_opts(SecondsFormat::Secs, true),
        "payment_to_access": payment_to_access(client, since).await?,
        "failed_payment_recovery": recovery(client, since, now).await?,
        "paid_checkouts": checkouts(client, since).await?,
    }))
}

/// p50/p95 of Stripe event → app webhook delivered, in ms.
async fn payment_to_access(client: &impl Sql, since: DateTime<Utc>) -> anyhow::Result<Value> {
    let row = client
        .query_one(
            r#"WITH d AS (
                   SELECT GREATEST(extract(epoch FROM delivered_at - event_created) * 1000, 0)::float8 AS ms
                   FROM access_deliveries WHERE delivered_at >= $1)
               SELECT count(*),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
                      percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)
               FROM d"#,
            &[&since],
        )
        .await
        .context("Failed to compute the payment to access delay")?;
    let ms = |i: usize| row.get::<_, Option<f64>>(i).map(|v| v.round() as i64);
    Ok(json!({ "samples": row.get::<_, i64>(0), "p50_ms": ms(1), "p95_ms": ms(2) }))
}

/// Failed invoices and their recovery within 24 h.
async fn recovery(
    client: &impl Sql,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Value> {
    let row = client
        .query_one(
            r#"SELECT count(*),
                      count(*) FILTER (WHERE recovered_at <= failed_at + interval '24 hours'),
                      count(*) FILTER (WHERE recovered_at IS NULL AND failed_at > $2::timestamptz - interval '24 hours')
               FROM payment_failures WHERE failed_at >= $1"#,
            &[&since, &now],
        )
        .await
        .context("Failed to compute the failed-payment recovery")?;
    let (failed, recovered, awaiting): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let settled = failed - awaiting;
    let rate = (settled > 0).then(|| recovered as f64 / settled as f64);
    Ok(json!({
        "failed": failed,
        "recovered_within_24h": recovered,
        "awaiting": awaiting,
        "rate": rate,
    }))
}

/// Paid checkouts (paid at once, or a bank debit that settled later) and
/// how many of their members reached a paid state.
async fn checkouts(client: &impl Sql, since: DateTime<Utc>) -> anyhow::Result<Value> {
    let row = client
        .query_one(
            r#"SELECT count(*), count(*) FILTER (WHERE m.state IS NOT NULL AND m.state <> 'lead')
               FROM events e LEFT JOIN members m ON m.id = e.member_id
               WHERE e.source = 'stripe'
                 AND e.type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
                 AND e.payload -> 'data' -> 'object' ->> 'payment_status' = 'paid'
                 AND e.created >= $1"#,
            &[&since],
        )
        .await
        .context("Failed to count paid checkouts")?;
    Ok(json!({ "paid": row.get::<_, i64>(0), "reached_active": row.get::<_, i64>(1) }))
}
