//! The admin's manual catch-up (dry run, then real), the cron's auth and
//! configuration, and the fake's own pagination checked both ways.

use axum::body::Body;
use chrono::TimeZone;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::fake_stripe::FakeStripe;
use crate::helpers::spawn_app;

#[tokio::test]
async fn without_a_stripe_key_the_cron_answers_not_configured() {
    let t = spawn_app().await;
    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "not_configured" }));
    let health = t.get("/api/health").await.json();
    assert_eq!(
        health["checks"]["stripe_catchup"]["status"],
        "not_configured"
    );
}

#[tokio::test]
async fn the_cron_refuses_a_missing_or_wrong_secret() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    for headers in [vec![], vec![("authorization", "Bearer nope")]] {
        let res = t.request(Method::GET, CRON, &headers, Body::empty()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn an_admin_dry_run_counts_missing_events_without_writing_then_a_real_run_stores_them() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let start = t.clock_now().timestamp() - 2 * 3600;
    let events = customers(0..10, start);
    for e in &events[..6] {
        t.post_stripe(e).await;
    }
    fake.add(events);
    let jobs = t.count("jobs").await;
    let since = chrono::Utc
        .timestamp_opt(start - 60, 0)
        .unwrap()
        .to_rfc3339();

    let (status, dry) = admin(&t, json!({ "since": since, "dry_run": true })).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        (dry["listed"].as_u64(), dry["missing"].as_u64()),
        (Some(30), Some(24))
    );
    assert_eq!(dry["missing_sample"].as_array().unwrap().len(), 20);
    assert_eq!((t.count("events").await, t.count("jobs").await), (6, jobs));

    let (_, real) = admin(&t, json!({ "since": since, "dry_run": false })).await;
    assert_eq!(
        (real["new"].as_u64(), real["duplicates"].as_u64()),
        (Some(24), Some(6)),
        "{real}"
    );
    each_event_applied_once(&t, 30).await;
    assert_eq!(
        cursor(&t).await,
        None,
        "a manual range never moves the cron's cursor"
    );

    let res = t
        .request(
            Method::POST,
            ADMIN,
            &[("content-type", "application/json")],
            json!({"since": since, "dry_run": true}).to_string(),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_fake_pages_like_stripe_both_ways() {
    let fake = FakeStripe::start(KEY).await;
    fake.add(customers(0..20, 1_795_000_000));
    let http = reqwest::Client::new();
    let get = |q: Vec<(&'static str, String)>| {
        let req = http
            .get(format!("{}/v1/events", fake.uri()))
            .bearer_auth(KEY)
            .query(&q);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (mut forward, mut after) = (Vec::new(), None::<String>);
    loop {
        let mut q = vec![("limit", "7".to_string())];
        q.extend(after.clone().map(|a| ("starting_after", a)));
        let page = get(q).await;
        forward.extend(ids(&page));
        if page["has_more"] == false {
            break;
        }
        after = forward.last().cloned();
    }
    assert_eq!(forward.len(), 60);
    let (mut backward, mut before) = (Vec::new(), forward.last().cloned());
    loop {
        let page = get(vec![
            ("limit", "7".into()),
            ("ending_before", before.clone().unwrap()),
        ])
        .await;
        let mut got = ids(&page);
        got.extend(backward);
        backward = got;
        if page["has_more"] == false {
            break;
        }
        before = backward.first().cloned();
    }
    assert_eq!(backward, forward[..59].to_vec());
}
