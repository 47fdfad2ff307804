//! `GET /api/cron/stripe-catchup` and `POST /api/admin/stripe/catchup`:
//! events the webhook lost are recovered from a fake Stripe Events API,
//! each exactly once, whatever fails in between.

use std::time::Duration;

use axum::body::Body;
use chrono::TimeZone;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::fake_stripe::{Fault, FakeStripe, Recorded};
use crate::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN_TOKEN, CRON_SECRET};

const KEY: &str = "rk_test_51QxCatchupRestrictedKey";
const CRON: &str = "/api/cron/stripe-catchup";
const ADMIN: &str = "/api/admin/stripe/catchup";

async fn app_for(fake: &FakeStripe) -> TestApp {
    let uri = fake.uri();
    spawn_app_with(move |v| {
        v.insert("STRIPE_SECRET_KEY".into(), KEY.into());
        v.insert("STRIPE_API_BASE".into(), uri);
    })
    .await
}

async fn cron(t: &TestApp) -> (StatusCode, Value) {
    let auth = format!("Bearer {CRON_SECRET}");
    let res = t
        .request(Method::GET, CRON, &[("authorization", &auth)], Body::empty())
        .await;
    (res.status, res.json())
}

async fn admin(t: &TestApp, body: Value) -> (StatusCode, Value) {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let res = t
        .request(Method::POST, ADMIN, &headers, body.to_string())
        .await;
    (res.status, res.json())
}

/// Customer `i`'s three events (checkout, plan, paid invoice), all created
/// in the same second `at`, as Stripe often does.
fn customer_events(i: usize, at: i64) -> Vec<Value> {
    let cus = format!("cus_QxCatch{i:04}");
    let email = format!("member{i}@example.com");
    vec![
        checkout_completed(&format!("evt_1Cu{i:04}a"), at, &cus, &email, None),
        subscription(&format!("evt_1Cu{i:04}b"), "customer.subscription.updated", at, &cus, "active", "pro"),
        invoice(&format!("evt_1Cu{i:04}c"), "invoice.paid", at, &cus, &format!("in_1Cu{i:04}"), &email, true),
    ]
}

/// Customers `range`, five customers (fifteen events) per second from `start`.
fn customers(range: std::ops::Range<usize>, start: i64) -> Vec<Value> {
    range
        .flat_map(|i| customer_events(i, start + (i / 5) as i64))
        .collect()
}

async fn cursor(t: &TestApp) -> Option<chrono::DateTime<chrono::Utc>> {
    t.db()
        .await
        .query_opt("SELECT cursor_created FROM catchup_state WHERE name = 'stripe'", &[])
        .await
        .unwrap()
        .and_then(|r| r.get(0))
}

/// No event was applied twice: one `stripe_event` timeline line per event.
async fn each_event_applied_once(t: &TestApp, total: i64) {
    assert_eq!(t.count("events").await, total);
    assert_eq!(t.count_where("timeline", "kind = 'stripe_event'").await, total);
    let repeated = t
        .count_where(
            "(SELECT data->>'event_id' FROM timeline WHERE kind = 'stripe_event' GROUP BY 1 HAVING count(*) > 1) x",
            "true",
        )
        .await;
    assert_eq!(repeated, 0, "an event was applied twice");
}

async fn jobs_per_member(t: &TestApp) -> Vec<i64> {
    let rows = t
        .db()
        .await
        .query(
            "SELECT count(*) FROM jobs WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn missed_events_across_pages_are_applied_once_and_a_second_run_finds_nothing_new() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let start = t.clock_now().timestamp() - 8 * 60;
    let missed = customers(0..50, start);
    let delivered = customers(50..60, start + 10);
    for e in &delivered {
        assert_eq!(t.post_stripe(e).await.status, StatusCode::OK);
    }
    let before = jobs_per_member(&t).await;
    fake.add(missed.iter().chain(&delivered).cloned());

    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!((body["fetched"].as_u64(), body["new"].as_u64()), (Some(180), Some(150)));
    assert_eq!(body["duplicates"], 30);
    assert!(body["pages"].as_u64().unwrap() >= 2 && body["duration_ms"].is_u64());
    each_event_applied_once(&t, 180).await;
    assert_eq!(t.count_where("events", "via = 'catchup'").await, 150);
    assert_eq!(t.count_where("events", "outcome = 'applied'").await, 180);
    assert_eq!(t.count_where("timeline", "kind = 'recovered'").await, 150);
    assert_eq!(t.count_where("members", "state = 'active' AND plan = 'pro'").await, 60);
    let after = jobs_per_member(&t).await;
    assert_eq!(after.len(), 60);
    assert!(after.iter().all(|n| *n == before[0]), "every member got the same jobs once: {after:?}");

    let page2 = fake.requests().into_iter().find(|r| r.param("starting_after").is_some());
    let page2 = page2.expect("a second page was read");
    assert_eq!(page2.param("limit"), Some("100"));
    assert_eq!(page2.params("types[]").len(), opsbridge::stripe::event::HANDLED_TYPES.len());

    t.clock.advance(chrono::Duration::minutes(10));
    let (_, again) = cron(&t).await;
    assert_eq!(again["new"], 0, "{again}");
    assert_eq!(again["duplicates"], 180, "the overlap re-reads the last minutes");
    each_event_applied_once(&t, 180).await;

    let health = t.get("/api/health").await.json();
    let check = &health["checks"]["stripe_catchup"];
    assert_eq!((check["ok"].as_bool(), check["status"].as_str()), (Some(true), Some("ok")));
    assert_eq!(check["recovered_24h"], 150);
    assert_eq!(check["webhooks_lost"], true);
    assert_eq!(t.count_where("jobs", "dedupe_key LIKE 'slack:stripe_catchup:webhooks_lost:%'").await, 1);
    assert_eq!(t.count_where("cron_runs", "name = 'stripe-catchup' AND ok").await, 2);
}

#[tokio::test]
async fn a_failure_between_pages_stops_the_run_and_the_next_run_finishes_without_gaps_or_repeats() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let now = t.clock_now().timestamp();
    fake.add(customers(0..50, now - 60 * 3600));
    fake.add(customers(50..100, now - 3600));
    let recent = now - 24 * 3600;
    let page2_of_recent = move |r: &Recorded| {
        r.param("starting_after").is_some()
            && r.param("created[gte]").and_then(|v| v.parse::<i64>().ok()) >= Some(recent)
    };
    fake.fail(3, page2_of_recent, Fault::Status(500));

    let (status, first) = cron(&t).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!((first["status"].as_str(), first["stopped"].as_str()), (Some("partial"), Some("upstream_5xx")));
    assert_eq!(first["new"], 150, "the older slice was stored before the failure");
    let stored_until = cursor(&t).await.expect("cursor moved past the stored slice");
    assert!(stored_until.timestamp() < now - 3600, "cursor passed unstored events");

    t.clock.advance(chrono::Duration::minutes(10));
    let (_, second) = cron(&t).await;
    assert_eq!(second["status"], "ok", "{second}");
    assert_eq!(second["new"], 150);
    each_event_applied_once(&t, 300).await;
    assert_eq!(t.count_where("events", "via = 'catchup'").await, 300);
}

#[tokio::test]
async fn a_store_failure_mid_run_keeps_the_cursor_before_the_failed_event_and_the_next_run_fills_the_gap() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let start = t.clock_now().timestamp() - 3600;
    fake.add(customers(0..40, start));
    let sabotaged = "evt_1Cu0020a";
    t.db().await.batch_execute(&format!(
        r#"CREATE FUNCTION {s}.sabotage() RETURNS trigger AS $$
           BEGIN IF NEW.event_id = '{sabotaged}' THEN RAISE EXCEPTION 'sabotaged'; END IF; RETURN NEW; END
           $$ LANGUAGE plpgsql;
           CREATE TRIGGER sabotage BEFORE INSERT ON {s}.events FOR EACH ROW EXECUTE FUNCTION {s}.sabotage();"#,
        s = t.schema
    ))
    .await
    .unwrap();

    let (status, _) = cron(&t).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let failed_at = start + 20 / 5;
    assert!(cursor(&t).await.map(|c| c.timestamp()) < Some(failed_at), "cursor passed the failed event");
    let older = format!("created < to_timestamp({failed_at})");
    assert_eq!(t.count_where("events", &older).await, 60, "everything before it was stored");

    let drop = format!("DROP TRIGGER sabotage ON {}.events", t.schema);
    t.db().await.batch_execute(&drop).await.unwrap();
    let (_, second) = cron(&t).await;
    assert_eq!(second["status"], "ok", "{second}");
    each_event_applied_once(&t, 120).await;
    assert_eq!(t.count_where("events", "via = 'catchup'").await, 120);
}

#[tokio::test]
async fn webhook_and_catch_up_delivering_the_same_events_at_once_have_one_effect() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    // One event per customer: concurrent webhooks carry no order to keep.
    let at = t.clock_now().timestamp() - 30;
    let events: Vec<Value> = (0..20)
        .map(|i| checkout_completed(&format!("evt_1Race{i:04}"), at, &format!("cus_QxRace{i:04}"), &format!("race{i}@example.com"), None))
        .collect();
    fake.add(events.clone());
    let webhooks = futures::future::join_all(events.iter().map(|e| t.post_stripe(e)));
    let ((status, run), answers) = tokio::join!(cron(&t), webhooks);
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["status"], "ok", "{run}");
    for a in &answers {
        assert!(matches!(a.status, StatusCode::OK | StatusCode::CONFLICT), "{}", a.status);
    }
    let new_by_webhook = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK && a.json()["duplicate"] == false)
        .count() as u64;
    assert_eq!(run["new"].as_u64().unwrap() + new_by_webhook, 20, "{run}");
    each_event_applied_once(&t, 20).await;
    let jobs = jobs_per_member(&t).await;
    assert_eq!(jobs, vec![2; 20], "one CRM upsert and one app webhook per member");
}

#[tokio::test]
async fn a_refused_key_answers_auth_failed_and_alerts_once_across_runs() {
    let fake = FakeStripe::start("rk_test_the_right_key").await;
    let t = app_for(&fake).await;
    fake.add(customers(0..2, t.clock_now().timestamp() - 60));
    for _ in 0..2 {
        let (status, body) = cron(&t).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "auth_failed");
        t.clock.advance(chrono::Duration::minutes(10));
    }
    assert_eq!(t.count_where("jobs", "kind = 'slack_alert'").await, 1);
    assert_eq!(t.count("events").await, 0);
    assert_eq!(cursor(&t).await, None);
    let res = t.get("/api/health").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["checks"]["stripe_catchup"]["status"], "auth_failed");
    assert!(!String::from_utf8_lossy(&res.body).contains(KEY));
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_is_waited_out_within_the_run() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    fake.add(customers(0..3, t.clock_now().timestamp() - 60));
    let recent = t.clock_now().timestamp() - 24 * 3600;
    let newest = move |r: &Recorded| r.param("created[gte]").and_then(|v| v.parse().ok()) == Some(recent);
    fake.fail(1, newest, Fault::RateLimited { retry_after_secs: 1 });

    let (_, body) = cron(&t).await;
    assert_eq!((body["status"].as_str(), body["new"].as_u64()), (Some("ok"), Some(9)), "{body}");
    let hits: Vec<Recorded> = fake.requests().into_iter().filter(|r| newest(r)).collect();
    assert_eq!(hits.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    assert!(hits[1].at - hits[0].at >= Duration::from_secs(1), "Retry-After not honoured");
}

#[tokio::test]
async fn a_429_whose_wait_does_not_fit_stops_the_run_without_moving_the_cursor() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    fake.add(customers(0..3, t.clock_now().timestamp() - 60));
    fake.fail(1, |_| true, Fault::RateLimited { retry_after_secs: 120 });

    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["status"].as_str(), body["stopped"].as_str()), (Some("partial"), Some("rate_limited")));
    assert_eq!(fake.requests().len(), 1, "no retry before Retry-After");
    assert_eq!((t.count("events").await, cursor(&t).await), (0, None));

    let (_, next) = cron(&t).await;
    assert_eq!((next["status"].as_str(), next["new"].as_u64()), (Some("ok"), Some(9)), "{next}");
}

#[tokio::test]
async fn an_event_listed_late_inside_the_overlap_is_still_recovered() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let now = t.clock_now().timestamp();
    fake.add(customers(0..2, now - 120));
    assert_eq!(cron(&t).await.1["new"], 6);
    fake.add(customers(2..3, now - 5 * 60)); // listable only now: eventual consistency
    t.clock.advance(chrono::Duration::minutes(10));
    let (_, body) = cron(&t).await;
    assert_eq!(body["new"], 3, "{body}");
    each_event_applied_once(&t, 9).await;
}

#[tokio::test]
async fn without_a_stripe_key_the_cron_answers_not_configured() {
    let t = spawn_app().await;
    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "not_configured" }));
    let health = t.get("/api/health").await.json();
    assert_eq!(health["checks"]["stripe_catchup"]["status"], "not_configured");
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
    let since = chrono::Utc.timestamp_opt(start - 60, 0).unwrap().to_rfc3339();

    let (status, dry) = admin(&t, json!({ "since": since, "dry_run": true })).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!((dry["listed"].as_u64(), dry["missing"].as_u64()), (Some(30), Some(24)));
    assert_eq!(dry["missing_sample"].as_array().unwrap().len(), 20);
    assert_eq!((t.count("events").await, t.count("jobs").await), (6, jobs));

    let (_, real) = admin(&t, json!({ "since": since, "dry_run": false })).await;
    assert_eq!((real["new"].as_u64(), real["duplicates"].as_u64()), (Some(24), Some(6)), "{real}");
    each_event_applied_once(&t, 30).await;
    assert_eq!(cursor(&t).await, None, "a manual range never moves the cron's cursor");

    let res = t.request(Method::POST, ADMIN, &[("content-type", "application/json")], json!({"since": since, "dry_run": true}).to_string()).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_fake_pages_like_stripe_both_ways() {
    let fake = FakeStripe::start(KEY).await;
    fake.add(customers(0..20, 1_795_000_000));
    let http = reqwest::Client::new();
    let get = |q: Vec<(&'static str, String)>| {
        let req = http.get(format!("{}/v1/events", fake.uri())).bearer_auth(KEY).query(&q);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
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
        let page = get(vec![("limit", "7".into()), ("ending_before", before.clone().unwrap())]).await;
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
