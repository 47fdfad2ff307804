//! `GET /api/admin/events/export?since=&until=&cursor=&limit=`: stored Stripe
//! events as JSONL (one event payload per line, exactly what Stripe sent,
//! parsed back from `jsonb`), oldest first by Stripe `created`, then by
//! storage order. `scripts/replay` reads it to re-send events to another
//! deployment.
//!
//! `since`/`until` are RFC 3339 or unix seconds (default: the last 30 days up
//! to now; `since` inclusive, `until` exclusive). A page holds at most
//! [`MAX_LIMIT`] events (Vercel caps a response at 4.5 MB); when more remain,
//! the `x-next-cursor` header names the cursor for the next page.

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Actor;
use crate::db::Sql;
use crate::http::ApiError;
use crate::state::App;

/// Events per page by default.
pub const DEFAULT_LIMIT: i64 = 500;
/// Events per page at most.
pub const MAX_LIMIT: i64 = 1000;
/// The default window when `since` is absent.
pub const DEFAULT_DAYS: i64 = 30;

/// Routes (the admin router adds the auth layer).
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/admin/events/export", get(export))
        .with_state(app)
}

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

fn invalid(field: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
        format!("invalid {field}"),
    )
    .with_details(json!({ "field": field }))
}

/// RFC 3339 or unix seconds.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A cursor is `<created, unix µs>_<row id>` of the last event sent.
fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, i64)> {
    let (micros, id) = s.split_once('_')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

fn time_param(v: &Option<String>, field: &'static str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_time(s).map(Some).ok_or_else(|| invalid(field)),
    }
}

async fn export(
    State(app): State<App>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let now = app.clock.now();
    let since = time_param(&q.since, "since")?.unwrap_or(now - Duration::days(DEFAULT_DAYS));
    let until = time_param(&q.until, "until")?.unwrap_or(now + Duration::seconds(1));
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(parse_cursor(c).ok_or_else(|| invalid("cursor"))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let rows = page(&app, (since, until), after, limit)
        .await
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "admin event export failed");
            ApiError::unavailable("store_unavailable", 5)
        })?;
    let mut body = String::new();
    for (_, _, payload) in &rows {
        body.push_str(&payload.to_string());
        body.push('\n');
    }
    let next = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|(c, id, _)| format!("{}_{id}", c.timestamp_micros()))
        })
        .flatten();
    tracing::info!(actor = %actor.0, count = rows.len(), more = next.is_some(), "admin exported stripe events");
    let mut res = ([(CONTENT_TYPE, "application/x-ndjson")], body).into_response();
    res.headers_mut()
        .insert("x-count", HeaderValue::from(rows.len()));
    if let Some(n) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        res.headers_mut().insert("x-next-cursor", n);
    }
    Ok(res)
}

/// One page: (created, row id, payload), in order.
async fn page(
    app: &App,
    (since, until): (DateTime<Utc>, DateTime<Utc>),
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> anyhow::Result<Vec<(DateTime<Utc>, i64, Value)>> {
    let client = app.db.get().await.context("Failed to get a connection")?;
    let (after_created, after_id) = (after.map(|a| a.0), after.map(|a| a.1));
    let rows = client
        .query(
            r#"SELECT created, id, payload FROM events
               WHERE source = 'stripe' AND created >= $1 AND created < $2
                 AND ($3::timestamptz IS NULL OR (created, id) > ($3, $4::bigint))
               ORDER BY created, id LIMIT $5"#,
            &[&since, &until, &after_created, &after_id, &limit],
        )
        .await
        .context("Failed to read stored events")?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{parse_cursor, parse_time};

    #[test]
    fn times_are_rfc3339_or_unix_seconds_and_anything_else_is_refused() {
        assert_eq!(parse_time("1700000000").unwrap().timestamp(), 1_700_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap().timestamp(),
            1_700_000_000
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn a_cursor_is_micros_and_row_id() {
        let (t, id) = parse_cursor("1700000000000000_42").unwrap();
        assert_eq!((t.timestamp(), id), (1_700_000_000, 42));
        assert!(parse_cursor("42").is_none());
        assert!(parse_cursor("x_1").is_none());
    }
}
