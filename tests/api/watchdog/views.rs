//! Where incidents show: the cron's own auth, `GET /api/admin/incidents`,
//! `checks.incidents` in health (200 stays 200), the admin overview.

use chrono::Duration;
use http::{Method, StatusCode};
use serde_json::json;

use super::{app, forged, paid_checkout, runs, slack_fake};
use crate::admin_console::{admin, get_json};
use crate::helpers::TestApp;

async fn open_signature_incident(t: &TestApp) {
    for _ in 0..5 {
        forged(t).await;
    }
    assert_eq!(runs(t).await.opened.len(), 1);
}

#[tokio::test]
async fn the_watchdog_cron_refuses_a_caller_without_the_cron_secret() {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    assert_eq!(
        t.get("/api/cron/watchdog").await.status,
        StatusCode::UNAUTHORIZED
    );
    let wrong = t
        .request(
            Method::GET,
            "/api/cron/watchdog",
            &[("authorization", "Bearer nope")],
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.count("incidents").await, 0);
}

#[tokio::test]
async fn the_admin_lists_incidents_newest_first_and_by_status() {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    open_signature_incident(&t).await;
    t.clock.advance(Duration::minutes(1));
    paid_checkout(&t, 1).await;
    assert_eq!(runs(&t).await.resolved.len(), 1);
    // Past the window of that verified delivery, refusals open a new one.
    t.clock.advance(Duration::minutes(11));
    open_signature_incident(&t).await;

    let (s, all) = get_json(&t, "/api/admin/incidents").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let list = all["incidents"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[1]["status"], "resolved");
    assert_eq!(list[0]["kind"], "stripe_signature_failures");
    assert_eq!(list[0]["key"], json!(null));
    assert_eq!(list[1]["opened_at"], "2026-11-23T10:00:00Z");
    assert_eq!(list[1]["resolved_at"], "2026-11-23T10:01:00Z");
    assert!(list[0]["summary"]
        .as_str()
        .unwrap()
        .contains("refused (401)"));

    let (_, open) = get_json(&t, "/api/admin/incidents?status=open").await;
    assert_eq!(open["incidents"].as_array().unwrap().len(), 1);
    let (_, resolved) = get_json(&t, "/api/admin/incidents?status=resolved").await;
    assert_eq!(resolved["incidents"][0]["status"], "resolved");
    let bad = admin(&t, Method::GET, "/api/admin/incidents?status=closed", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["error"]["code"], "invalid_filter");
    assert_eq!(
        t.get("/api/admin/incidents").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn health_counts_open_incidents_and_stays_200_and_the_overview_lists_them() {
    let slack = slack_fake().await;
    let t = app(&slack, |_| {}).await;
    let res = t.get("/api/health").await;
    assert_eq!(
        res.json()["checks"]["incidents"],
        json!({"ok": true, "open": 0})
    );
    open_signature_incident(&t).await;
    let res = t.get("/api/health").await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["incidents"], json!({"ok": true, "open": 1}));

    let (s, o) = get_json(&t, "/api/admin/overview").await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let incidents = o["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{o}");
    assert_eq!(incidents[0]["kind"], "stripe_signature_failures");
    assert_eq!(incidents[0]["status"], "open");
    let crons = o["crons"].as_array().unwrap();
    let watchdog = crons.iter().find(|c| c["name"] == "watchdog").unwrap();
    assert_eq!(watchdog["schedule"], "* * * * *");
    assert_eq!(watchdog["last_ok"], true);
}
