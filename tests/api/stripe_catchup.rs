//! `GET /api/cron/stripe-catchup` and `POST /api/admin/stripe/catchup`:
//! events the webhook lost are recovered from a fake Stripe Events API,
//! each exactly once, whatever fails in between. Here: the exactly-once
//! paths and the shared helpers; [`failures`]: Stripe and Postgres failing
//! mid-run; [`manual`]: the admin range, configuration, auth, the fake.

#[allow(unused_imports)]
use opsbridge::db::Sql;
mod failures;
mod manual;

use axum::body::Body;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::fake_stripe::FakeStripe;
use crate::fixtures::*;
use crate::helpers::{spawn_app_with, TestApp, ADMIN_TOKEN, CRON_SECRET};

const KEY: &str = "rk_test_FAKE_catchup_restricted_key";
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
        .request(
            Method::GET,
            CRON,
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
    (res.status, res.json())
}

async fn admin(t: &TestApp, body: Value) -> (StatusCode, Value) {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
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
        subscription(
            &format!("evt_1Cu{i:04}b"),
            "customer.subscription.updated",
            at,
            &cus,
            "active",
            "pro",
        ),
        invoice(
            &format!("evt_1Cu{i:04}c"),
            "invoice.paid",
            at,
            &cus,
            &format!("in_1Cu{i:04}"),
            &email,
            true,
        ),
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
        .query_opt(
            "SELECT cursor_created FROM catchup_state WHERE name = 'stripe'",
            &[],
        )
        .await
        .unwrap()
        .and_then(|r| r.get(0))
}

/// No event was applied twice: one `stripe_event` timeline line per event.
async fn each_event_applied_once(t: &TestApp, total: i64) {
    assert_eq!(t.count("events").await, total);
    assert_eq!(
        t.count_where("timeline", "kind = 'stripe_event'").await,
        total
    );
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

/// Health reports the recovered events; Slack hears about it once a day.
async fn recovered_events_show_in_health_and_alert_once(t: &TestApp, recovered: i64) {
    let health = t.get("/api/health").await.json();
    let check = &health["checks"]["stripe_catchup"];
    assert_eq!(
        (check["ok"].as_bool(), check["status"].as_str()),
        (Some(true), Some("ok"))
    );
    assert_eq!(check["recovered_24h"], recovered);
    assert_eq!(check["webhooks_lost"], true);
    assert_eq!(
        t.count_where(
            "jobs",
            "dedupe_key LIKE 'slack:stripe_catchup:webhooks_lost:%'"
        )
        .await,
        1
    );
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
    let batches = || t.app.stripe_writer.stats()["batches"].as_u64().unwrap();
    let batches_before = batches();

    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(
        (body["fetched"].as_u64(), body["new"].as_u64()),
        (Some(180), Some(150))
    );
    assert_eq!(body["duplicates"], 30);
    // Different customers shared the writer's transactions (one customer's
    // three events are three batches, one after the other).
    let used = batches() - batches_before;
    assert!(
        (3..=50).contains(&used),
        "150 events in {used} transactions"
    );
    assert!(body["pages"].as_u64().unwrap() >= 2 && body["duration_ms"].is_u64());
    each_event_applied_once(&t, 180).await;
    assert_eq!(t.count_where("events", "via = 'catchup'").await, 150);
    assert_eq!(t.count_where("events", "outcome = 'applied'").await, 180);
    assert_eq!(t.count_where("timeline", "kind = 'recovered'").await, 150);
    // 150 new events on a young table: the run refreshed the planner's
    // statistics (a never-analyzed table has reltuples = -1).
    let reltuples: f32 = t
        .db()
        .await
        .query_one(
            "SELECT reltuples FROM pg_class WHERE oid = 'members'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(reltuples > 0.0, "members not analyzed: {reltuples}");
    assert_eq!(
        t.count_where("members", "state = 'active' AND plan = 'pro'")
            .await,
        60
    );
    let after = jobs_per_member(&t).await;
    assert_eq!(after.len(), 60);
    assert!(
        after.iter().all(|n| *n == before[0]),
        "every member got the same jobs once: {after:?}"
    );

    let page2 = fake
        .requests()
        .into_iter()
        .find(|r| r.param("starting_after").is_some());
    let page2 = page2.expect("a second page was read");
    assert_eq!(page2.param("limit"), Some("100"));
    assert_eq!(
        page2.params("types[]").len(),
        opsbridge::stripe::event::HANDLED_TYPES.len()
    );

    t.clock.advance(chrono::Duration::minutes(10));
    let (_, again) = cron(&t).await;
    assert_eq!(again["new"], 0, "{again}");
    assert_eq!(
        again["duplicates"], 180,
        "the overlap re-reads the last minutes"
    );
    each_event_applied_once(&t, 180).await;

    recovered_events_show_in_health_and_alert_once(&t, 150).await;
    let runs = "name = 'stripe-catchup' AND ok";
    assert_eq!(t.count_where("cron_runs", runs).await, 2);
}

#[tokio::test]
async fn webhook_and_catch_up_delivering_the_same_events_at_once_have_one_effect() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    // One event per customer: concurrent webhooks carry no order to keep.
    let at = t.clock_now().timestamp() - 30;
    let events: Vec<Value> = (0..20)
        .map(|i| {
            checkout_completed(
                &format!("evt_1Race{i:04}"),
                at,
                &format!("cus_QxRace{i:04}"),
                &format!("race{i}@example.com"),
                None,
            )
        })
        .collect();
    fake.add(events.clone());
    let webhooks = futures::future::join_all(events.iter().map(|e| t.post_stripe(e)));
    let ((status, run), answers) = tokio::join!(cron(&t), webhooks);
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["status"], "ok", "{run}");
    for a in &answers {
        assert!(
            matches!(a.status, StatusCode::OK | StatusCode::CONFLICT),
            "{}",
            a.status
        );
    }
    let new_by_webhook = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK && a.json()["duplicate"] == false)
        .count() as u64;
    assert_eq!(run["new"].as_u64().unwrap() + new_by_webhook, 20, "{run}");
    each_event_applied_once(&t, 20).await;
    let jobs = jobs_per_member(&t).await;
    assert_eq!(
        jobs,
        vec![2; 20],
        "one CRM upsert and one app webhook per member"
    );
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
    // Only the late three count as lost: the first six were stored two
    // minutes after Stripe created them, which a slow webhook may still beat.
    recovered_events_show_in_health_and_alert_once(&t, 3).await;
}

/// With Redis down the writer's claims are unavailable: Postgres alone
/// decides. Events the webhook stored are found as duplicates, the missed
/// ones are stored once, sharing transactions, and a second run adds nothing.
#[tokio::test]
async fn with_redis_down_the_catch_up_still_stores_each_missed_event_once() {
    let fake = FakeStripe::start(KEY).await;
    let uri = fake.uri();
    let t = spawn_app_with(move |v| {
        v.insert("STRIPE_SECRET_KEY".into(), KEY.into());
        v.insert("STRIPE_API_BASE".into(), uri);
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    let start = t.clock_now().timestamp() - 8 * 60;
    let missed = customers(0..20, start);
    let delivered = customers(20..24, start + 10);
    for e in &delivered {
        assert_eq!(t.post_stripe(e).await.status, StatusCode::OK);
    }
    fake.add(missed.iter().chain(&delivered).cloned());

    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["new"].as_u64(), body["duplicates"].as_u64()),
        (Some(60), Some(12)),
        "{body}"
    );
    each_event_applied_once(&t, 72).await;
    assert_eq!(
        t.count_where("members", "state = 'active' AND plan = 'pro'")
            .await,
        24
    );
    t.clock.advance(chrono::Duration::minutes(10));
    let (_, again) = cron(&t).await;
    assert_eq!(again["new"], 0, "{again}");
    each_event_applied_once(&t, 72).await;
}
