//! The crm-sync cron endpoint and the admin jobs API.

use axum::body::Body;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_hubspot::UPSERT_PATH;
use crate::fixtures::checkout_completed;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN_TOKEN, CRON_SECRET};

const ADMIN: &str = "Bearer test-admin-token";

async fn admin(t: &TestApp, m: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let res = t
        .request(
            m,
            path,
            &[
                ("authorization", ADMIN),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
    (res.status, res.json())
}

/// An app whose HubSpot always answers 400: every CRM job dies at once.
async fn app_with_dead_jobs(n: usize) -> (TestApp, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    let uri = server.uri();
    let t = spawn_app_with(move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-test".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    let base = t.clock_now().timestamp() - 100;
    for i in 0..n {
        let ev = checkout_completed(
            &format!("evt_AJ{i:04}"),
            base + i as i64,
            &format!("cus_AJ{i}"),
            &format!("aj{i}@example.com"),
            None,
        );
        t.post_stripe(&ev).await;
    }
    t.drain().await;
    (t, server)
}

#[tokio::test]
async fn the_sweep_cron_needs_the_cron_secret_and_answers_a_summary() {
    let t = spawn_app().await;
    let res = t.get("/api/cron/crm-sync").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = t
        .request(
            Method::GET,
            "/api/cron/crm-sync",
            &[("authorization", "Bearer wrong")],
            Body::empty(),
        )
        .await;
    assert_eq!(res.json()["error"]["code"], "invalid_token");
    let auth = format!("Bearer {CRON_SECRET}");
    let res = t
        .request(
            Method::GET,
            "/api/cron/crm-sync",
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let s = res.json();
    for k in [
        "claimed",
        "succeeded",
        "retried",
        "dead",
        "held",
        "remaining_due",
        "duration_ms",
    ] {
        assert!(s.get(k).is_some(), "summary lacks {k}");
    }
    assert_eq!(
        t.count_where("cron_runs", "name = 'crm-sync' AND ok").await,
        1
    );
}

#[tokio::test]
async fn the_admin_api_refuses_a_wrong_token_and_limits_guessing() {
    let t = spawn_app().await;
    let res = t.get("/api/admin/jobs").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // One failure above plus nine guesses: the tenth failure is the limit.
    for _ in 0..9 {
        let r = t
            .request(
                Method::GET,
                "/api/admin/jobs",
                &[("authorization", "Bearer guess")],
                Body::empty(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let res = t
        .request(
            Method::GET,
            "/api/admin/jobs",
            &[("authorization", ADMIN)],
            Body::empty(),
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers.contains_key("retry-after"));
    assert_eq!(ADMIN, format!("Bearer {ADMIN_TOKEN}"));
}

#[tokio::test]
async fn dead_jobs_are_listed_shown_retried_once_and_discarded() {
    let (t, _server) = app_with_dead_jobs(3).await;
    let (s, page) = admin(
        &t,
        Method::GET,
        "/api/admin/jobs?state=dead&kind=crm_upsert&reason=invalid_payload",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let jobs = page["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    let id = jobs[0]["id"].as_i64().unwrap();
    let (s, job) = admin(&t, Method::GET, &format!("/api/admin/jobs/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(job["history"].as_array().unwrap().len(), 1);
    assert_eq!(job["history"][0]["outcome"], "invalid_payload");
    let (_, r1) = admin(
        &t,
        Method::POST,
        &format!("/api/admin/jobs/{id}/retry"),
        None,
    )
    .await;
    let (_, r2) = admin(
        &t,
        Method::POST,
        &format!("/api/admin/jobs/{id}/retry"),
        None,
    )
    .await;
    assert_eq!(
        (r1["retried"].as_bool(), r2["retried"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(r2["state"], "pending");
    assert_eq!(
        t.count_where("jobs", "kind = 'crm_upsert'").await,
        3,
        "retry never creates a job"
    );
    let other = jobs[1]["id"].as_i64().unwrap();
    let (s, d) = admin(
        &t,
        Method::POST,
        &format!("/api/admin/jobs/{other}/discard"),
        Some(json!({"note": "customer deleted"})),
    )
    .await;
    assert_eq!(
        (s, d["state"].as_str()),
        (StatusCode::OK, Some("discarded"))
    );
    let (s, e) = admin(
        &t,
        Method::POST,
        &format!("/api/admin/jobs/{other}/discard"),
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("job_not_dead"))
    );
    let (s, e) = admin(&t, Method::GET, "/api/admin/jobs/999999", None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("job_not_found"))
    );
}

#[tokio::test]
async fn a_bulk_redrive_counts_first_then_retries_the_filtered_set() {
    let (t, _server) = app_with_dead_jobs(4).await;
    let body = json!({"state": "dead", "kind": "crm_upsert", "reason": "invalid_payload", "dry_run": true});
    let (s, r) = admin(&t, Method::POST, "/api/admin/jobs/retry", Some(body)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (r["matched"].as_i64(), r["retried"].as_i64()),
        (Some(4), Some(0))
    );
    assert_eq!(
        t.count_where("jobs", "state = 'dead' AND kind = 'crm_upsert'")
            .await,
        4
    );
    let body = json!({"state": "dead", "kind": "crm_upsert", "dry_run": false});
    let (_, r) = admin(
        &t,
        Method::POST,
        "/api/admin/jobs/retry",
        Some(body.clone()),
    )
    .await;
    assert_eq!(r["retried"], 4);
    let (_, r) = admin(&t, Method::POST, "/api/admin/jobs/retry", Some(body)).await;
    assert_eq!(r["retried"], 0, "a second redrive finds nothing dead");
}

#[tokio::test]
async fn hostile_filters_are_refused_with_422() {
    let t = spawn_app().await;
    for q in ["state=zombie", "kind=drop%20table", "reason=x%27%3B--"] {
        let (s, e) = admin(&t, Method::GET, &format!("/api/admin/jobs?{q}"), None).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_filter")),
            "{q}"
        );
    }
    let (s, _) = admin(
        &t,
        Method::POST,
        "/api/admin/jobs/retry",
        Some(json!({"state": "succeeded", "dry_run": true})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
