//! `GET /api/admin/overview`: the console's first screen in one answer —
//! dependency health (the same checks as `/api/health`), the outbox by state
//! and by reason, how old the oldest waiting job is, each `vercel.json` cron's
//! last run and whether one was missed, Stripe signature failures in the last
//! hour, manual interventions this week, the open incidents, and the
//! business outcomes of `GET /api/admin/metrics`.
//!
//! A cron counts as missed when the run due after its last start is overdue
//! by more than max(2 min, 1.5 × its interval): 3 minutes for the
//! every-minute sweep, 25 for the 10-minute catch-up. Each part degrades on
//! its own (`null` plus an error code), so one failing store never blanks the
//! whole screen.

use std::str::FromStr;

use crate::db::Sql;
use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use crate::state::App;

/// How far back "manual interventions this week" looks.
pub const INTERVENTION_DAYS: i64 = 7;

/// Routes (the admin router adds the auth layer).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/admin/overview", get(overview))
        .with_state(app)
}

async fn overview(State(app): State<App>) -> Json<Value> {
    let now = app.clock.now();
    let (report, stores, sig) = tokio::join!(
        crate::health::run_checks(&app),
        from_postgres(&app, now),
        signature_failures(&app, now)
    );
    let mut body = json!({
        "generated_at": now,
        "health": report.to_json(),
        "signature_failures": sig,
        // This instance's group commit (in memory: other instances have their own).
        "stripe_writer": app.stripe_writer.stats(),
        "app_event_writer": app.app_event_writer.stats(),
    });
    match stores {
        Ok(Value::Object(parts)) => {
            if let Value::Object(b) = &mut body {
                b.extend(parts);
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "admin overview query failed");
            body["store_error"] = "store_unavailable".into();
        }
    }
    Json(body)
}

/// Everything read from Postgres, on one connection.
async fn from_postgres(app: &App, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let client = app.db.get().await.context("Failed to get a connection")?;
    let client = &client;
    let metrics = match crate::product::metrics::compute(client, now).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "overview could not compute metrics");
            Value::Null
        }
    };
    Ok(json!({
        "outbox": outbox(client, now).await?,
        "crons": crons(client, now).await?,
        "interventions": interventions(client, now).await?,
        "incidents": crate::watchdog::open_for_overview(client).await?,
        "metrics": metrics,
    }))
}

/// Jobs by state (succeeded: last 24 h only), by (state, kind, reason), and
/// the age of the oldest pending and oldest due job.
async fn outbox(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let mut by_state = Map::new();
    for s in ["pending", "running", "held", "dead", "discarded"] {
        by_state.insert(s.into(), 0.into());
    }
    let rows = client
        .query(
            "SELECT state, count(*) FROM jobs WHERE state <> 'succeeded' GROUP BY state",
            &[],
        )
        .await
        .context("Failed to count jobs by state")?;
    for r in &rows {
        by_state.insert(r.get::<_, String>(0), r.get::<_, i64>(1).into());
    }
    let reasons = client
        .query(
            r#"SELECT jsonb_build_object('state', state, 'kind', kind, 'reason', reason, 'count', count(*))
               FROM jobs WHERE state IN ('pending', 'running', 'held', 'dead') AND reason IS NOT NULL
               GROUP BY state, kind, reason ORDER BY count(*) DESC, state, kind, reason LIMIT 100"#,
            &[],
        )
        .await
        .context("Failed to count jobs by reason")?;
    let row = client
        .query_one(
            r#"SELECT (SELECT count(*) FROM jobs WHERE state = 'succeeded' AND updated_at > $1::timestamptz - interval '24 hours'),
                      (SELECT EXTRACT(EPOCH FROM ($1::timestamptz - min(created_at)))::float8 FROM jobs WHERE state = 'pending'),
                      (SELECT EXTRACT(EPOCH FROM ($1::timestamptz - min(run_at)))::float8 FROM jobs WHERE state = 'pending' AND run_at <= $1)"#,
            &[&now],
        )
        .await
        .context("Failed to read the oldest pending job")?;
    let secs = |i: usize| {
        row.get::<_, Option<f64>>(i)
            .map(|s| s.max(0.0).round() as i64)
    };
    Ok(json!({
        "by_state": by_state,
        "succeeded_last_24h": row.get::<_, i64>(0),
        "by_reason": reasons.iter().map(|r| r.get::<_, Value>(0)).collect::<Vec<_>>(),
        "oldest_pending_age_secs": secs(1),
        "oldest_due_age_secs": secs(2),
    }))
}

/// One cron's schedule facts: the next run due after `last`, and its grace.
fn next_due(schedule: &str, last: DateTime<Utc>) -> Option<(DateTime<Utc>, Duration)> {
    let cron = croner::Cron::from_str(schedule).ok()?;
    let next = cron.find_next_occurrence(&last, false).ok()?;
    let after = cron.find_next_occurrence(&next, false).ok()?;
    let grace = ((after - next) * 3 / 2).max(Duration::minutes(2));
    Some((next, grace))
}

/// `ok`, `failing` (last run not ok), `missed`, or `never_run`.
pub fn cron_status(
    schedule: &str,
    last: Option<(DateTime<Utc>, Option<bool>)>,
    now: DateTime<Utc>,
) -> &'static str {
    let Some((started, ok)) = last else {
        return "never_run";
    };
    match next_due(schedule, started) {
        Some((next, grace)) if now > next + grace => "missed",
        _ if ok == Some(false) => "failing",
        _ => "ok",
    }
}

/// Every `vercel.json` cron with its last recorded run.
async fn crons(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<Vec<Value>> {
    let entries = crate::dev::crons::from_vercel_json(crate::dev::crons::VERCEL_JSON)?;
    let mut out = Vec::new();
    for e in entries {
        let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
        let last = client
            .query_opt(
                "SELECT started_at, finished_at, ok, summary FROM cron_runs WHERE name = $1 ORDER BY started_at DESC LIMIT 1",
                &[&name],
            )
            .await
            .context("Failed to read cron runs")?;
        let started: Option<DateTime<Utc>> = last.as_ref().map(|r| r.get(0));
        let ok: Option<bool> = last.as_ref().and_then(|r| r.get(2));
        let status = cron_status(&e.schedule, started.map(|s| (s, ok)), now);
        out.push(json!({
            "name": name,
            "path": e.path,
            "schedule": e.schedule,
            "last_started_at": started,
            "last_finished_at": last.as_ref().and_then(|r| r.get::<_, Option<DateTime<Utc>>>(1)),
            "last_ok": ok,
            "last_summary": last.as_ref().map(|r| r.get::<_, Value>(3)),
            "status": status,
            "missed": status == "missed",
        }));
    }
    Ok(out)
}

/// Admin retries/discards of jobs and switch flips in the last week.
async fn interventions(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let since = now - Duration::days(INTERVENTION_DAYS);
    let row = client
        .query_one(
            r#"SELECT (SELECT count(*) FROM jobs WHERE updated_at >= $1
                         AND (note LIKE 'retried by %' OR note LIKE 'bulk retried by %' OR note LIKE 'discarded by %')),
                      (SELECT count(*) FROM feature_flags WHERE updated_at >= $1)"#,
            &[&since],
        )
        .await
        .context("Failed to count interventions")?;
    let (jobs, flags): (i64, i64) = (row.get(0), row.get(1));
    Ok(json!({
        "since": since,
        "job_actions": jobs,
        "flag_changes": flags,
        "total": jobs + flags,
    }))
}

/// Stripe signature failures: this hour's and the previous hour's Redis
/// counters (so "last hour" covers between one and two hours).
async fn signature_failures(app: &App, now: DateTime<Utc>) -> Value {
    let hour = now.timestamp() / 3600;
    let read = |h: i64| async move {
        let v = app.kv.get(&format!("stats:stripe_sig_fail:{h}")).await?;
        Ok::<i64, crate::kv::KvError>(v.and_then(|s| s.parse().ok()).unwrap_or(0))
    };
    match tokio::join!(read(hour), read(hour - 1)) {
        (Ok(this), Ok(previous)) => json!({
            "last_hour": this + previous,
            "this_hour": this,
            "previous_hour": previous,
            "available": true,
        }),
        _ => json!({ "last_hour": null, "available": false, "error": "redis_unavailable" }),
    }
}

#[cfg(test)]
mod tests {
    use super::cron_status;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn a_minute_cron_is_missed_after_three_minutes_and_a_ten_minute_one_after_twenty_five() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let minute = "* * * * *";
        assert_eq!(
            cron_status(minute, Some((t, Some(true))), t + Duration::seconds(179)),
            "ok"
        );
        assert_eq!(
            cron_status(minute, Some((t, Some(true))), t + Duration::seconds(181)),
            "missed"
        );
        let ten = "*/10 * * * *";
        assert_eq!(
            cron_status(ten, Some((t, Some(true))), t + Duration::minutes(24)),
            "ok"
        );
        assert_eq!(
            cron_status(ten, Some((t, Some(true))), t + Duration::minutes(26)),
            "missed"
        );
    }

    #[test]
    fn a_cron_that_never_ran_or_last_failed_says_so() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(cron_status("* * * * *", None, t), "never_run");
        assert_eq!(
            cron_status("* * * * *", Some((t, Some(false))), t),
            "failing"
        );
    }
}
