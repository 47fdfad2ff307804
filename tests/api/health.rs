//! `/api/health`: 200 with every check, 503 naming the failing one, bounded
//! in time when a store is down, never a secret in the body.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn health_is_ok_when_postgres_and_redis_answer() {
    let t = spawn_app().await;
    let res = t.get("/api/health").await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    let body = res.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["postgres"]["ok"], true);
    assert_eq!(body["checks"]["postgres"]["schema_current"], true);
    assert_eq!(body["checks"]["redis"]["ok"], true);
    assert_eq!(
        body["checks"]["config"]["integrations"]["hubspot"],
        "not_configured"
    );
    assert!(res.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn health_is_503_naming_redis_when_redis_is_down_and_answers_promptly() {
    let t = spawn_app_with(|v| {
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    let started = Instant::now();
    let res = t.get("/api/health").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "health hung on a dead Redis"
    );
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = res.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["redis"]["ok"], false);
    assert_eq!(body["checks"]["postgres"]["ok"], true);
}

#[tokio::test]
async fn health_is_503_naming_postgres_when_postgres_is_unreachable() {
    let t = spawn_app_with(|v| {
        v.insert(
            "DATABASE_URL".into(),
            "postgres://opsbridge:hunter2@127.0.0.1:1/nowhere?sslmode=disable".into(),
        );
        v.insert("MIGRATE_ON_START".into(), "false".into());
    })
    .await;
    let started = Instant::now();
    let res = t.get("/api/health").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "health hung on a dead Postgres"
    );
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = res.json();
    assert_eq!(body["checks"]["postgres"]["ok"], false);
    assert_eq!(body["checks"]["postgres"]["error"], "unreachable");
    assert_eq!(body["checks"]["redis"]["ok"], true);
    let text = String::from_utf8_lossy(&res.body);
    assert!(
        !text.contains("hunter2") && !text.contains("opsbridge:"),
        "secret leaked: {text}"
    );
}

#[tokio::test]
async fn health_reports_a_schema_that_was_never_migrated() {
    let t = spawn_app_with(|v| {
        v.insert("MIGRATE_ON_START".into(), "false".into());
    })
    .await;
    let res = t.get("/api/health").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["checks"]["postgres"]["schema_current"], false);
}
