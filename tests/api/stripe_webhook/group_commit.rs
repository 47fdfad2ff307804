//! The group commit: concurrent deliveries share one transaction per batch
//! and keep every rule of one event alone (order per member, dedupe, one
//! bad event never failing the others, a lost answer retried as a
//! duplicate).

use futures::future::join_all;
use http::StatusCode;
use opsbridge::db::Sql;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::Value;

use crate::fixtures::*;
use crate::helpers::{spawn_app_with, TestApp, TestResponse};

async fn quiet_app() -> TestApp {
    spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await
}

/// Four events of member `i`: paid checkout, failed invoice (email and
/// alert: effects), plan change, paid invoice; `created` in that order.
fn life_of(i: usize, t0: i64) -> Vec<Value> {
    let (cus, email) = (format!("cus_Gc{i:03}"), format!("gc{i:03}@example.com"));
    vec![
        checkout_completed(&format!("evt_gc{i}a"), t0, &cus, &email, None),
        invoice(
            &format!("evt_gc{i}b"),
            "invoice.payment_failed",
            t0 + 10,
            &cus,
            &format!("in_gc{i}b"),
            &email,
            false,
        ),
        subscription(
            &format!("evt_gc{i}c"),
            "customer.subscription.updated",
            t0 + 20,
            &cus,
            "active",
            "pro_monthly",
        ),
        invoice(
            &format!("evt_gc{i}d"),
            "invoice.paid",
            t0 + 30,
            &cus,
            &format!("in_gc{i}d"),
            &email,
            true,
        ),
    ]
}

/// What a member ends as, for comparing two histories.
async fn final_states(t: &TestApp) -> Vec<(String, String, Option<String>, String, bool)> {
    let rows = t
        .db()
        .await
        .query(
            "SELECT email, state, plan, access, past_due_since IS NULL FROM members \
             WHERE merged_into IS NULL ORDER BY email",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

async fn send_all(t: &TestApp, events: &[Value]) -> Vec<TestResponse> {
    join_all(events.iter().map(|e| t.post_stripe(e))).await
}

#[tokio::test]
async fn two_hundred_shuffled_concurrent_events_end_as_in_order() {
    let (ordered, shuffled) = tokio::join!(quiet_app(), quiet_app());
    let t0 = ordered.clock_now().timestamp() - 600;
    let mut events: Vec<Value> = (0..50).flat_map(|i| life_of(i, t0)).collect();
    for e in &events {
        assert_eq!(ordered.post_stripe(e).await.status, StatusCode::OK);
    }
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(21));
    let answers = send_all(&shuffled, &events).await;
    assert!(answers.iter().all(|r| r.status == StatusCode::OK));

    let expected = final_states(&ordered).await;
    assert_eq!(expected.len(), 50);
    assert!(expected
        .iter()
        .all(|m| m.1 == "active" && m.2.as_deref() == Some("pro_monthly") && m.4));
    assert_eq!(final_states(&shuffled).await, expected);
    assert_eq!(shuffled.count("events").await, 200);
    // Batches really formed: 200 events in far fewer transactions.
    let stats = shuffled.app.stripe_writer.stats();
    assert_eq!(stats["events"], 200, "{stats}");
    assert!(stats["batches"].as_u64().unwrap() <= 20, "{stats}");
}

#[tokio::test]
async fn one_event_violating_a_constraint_fails_alone() {
    let t = quiet_app().await;
    let s = &t.schema;
    t.direct()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION {s}.refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$;
             CREATE TRIGGER refuse_bad BEFORE INSERT ON {s}.events FOR EACH ROW
               WHEN (NEW.event_id = 'evt_gc_bad') EXECUTE FUNCTION {s}.refuse_bad();"
        ))
        .await
        .unwrap();
    let now = t.clock_now().timestamp();
    let mut events: Vec<Value> = (0..10)
        .map(|i| {
            let (cus, email) = (format!("cus_Gb{i}"), format!("gb{i}@example.com"));
            checkout_completed(&format!("evt_gb{i}"), now - 5, &cus, &email, None)
        })
        .collect();
    events.insert(
        4,
        checkout_completed("evt_gc_bad", now - 5, "cus_GbBad", "bad@example.com", None),
    );
    let answers = send_all(&t, &events).await;
    for (e, r) in events.iter().zip(&answers) {
        let want = if e["id"] == "evt_gc_bad" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status, want, "{}", e["id"]);
    }
    assert_eq!(t.count("events").await, 10);
    assert_eq!(t.count("members").await, 10);
    assert_eq!(t.count("jobs").await, 20);
    assert!(t.member_by_email("bad@example.com").await.is_none());
    assert_eq!(t.app.stripe_writer.stats()["batches"], 1, "one batch tried");

    // Stripe retries once the cause is gone: stored, once.
    t.direct()
        .await
        .batch_execute(&format!("DROP TRIGGER refuse_bad ON {s}.events"))
        .await
        .unwrap();
    let retry = t.post_stripe(&events[4]).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.json()["duplicate"], false);
    assert_eq!(t.count("members").await, 11);
}

/// The same event three times among others, all at once: stored once,
/// answered once as new; the copies are in flight (409) or duplicates.
async fn copies_in_one_burst(t: &TestApp) {
    let now = t.clock_now().timestamp();
    let twin = checkout_completed(
        "evt_gc_twin",
        now - 5,
        "cus_GcTwin",
        "twin@example.com",
        None,
    );
    let mut events: Vec<Value> = (0..5)
        .map(|i| {
            let (cus, email) = (format!("cus_Gd{i}"), format!("gd{i}@example.com"));
            checkout_completed(&format!("evt_gd{i}"), now - 5, &cus, &email, None)
        })
        .collect();
    events.insert(1, twin.clone());
    events.insert(3, twin.clone());
    events.push(twin);
    let answers = send_all(t, &events).await;
    let mut new = 0;
    for (e, r) in events.iter().zip(&answers) {
        if e["id"] != "evt_gc_twin" {
            assert_eq!(r.status, StatusCode::OK);
            continue;
        }
        match r.status {
            StatusCode::OK if r.json()["duplicate"] == false => new += 1,
            StatusCode::OK | StatusCode::CONFLICT => {}
            other => panic!("a copy answered {other}"),
        }
    }
    assert_eq!(new, 1, "exactly one copy is the new one");
    assert_eq!(t.count("events").await, 6);
    assert_eq!(t.count("members").await, 6);
    assert_eq!(t.count("jobs").await, 12);
}

#[tokio::test]
async fn copies_of_one_event_in_one_burst_are_stored_once() {
    copies_in_one_burst(&quiet_app().await).await;
}

#[tokio::test]
async fn copies_in_one_burst_are_stored_once_with_redis_down() {
    let t = spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    copies_in_one_burst(&t).await;
}

#[tokio::test]
async fn an_answer_lost_after_the_commit_is_a_duplicate_on_retry() {
    let t = quiet_app().await;
    let now = t.clock_now().timestamp();
    let ev = checkout_completed(
        "evt_gc_lost",
        now - 5,
        "cus_GcLost",
        "lost@example.com",
        None,
    );
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    // The instance died between its commit and its answer: its claim is
    // still in Redis, no done marker.
    t.app
        .kv
        .set("stripe:evt_gc_lost", "inflight:dead-instance", 300)
        .await
        .unwrap();
    let during = t.post_stripe(&ev).await;
    assert_eq!(during.status, StatusCode::CONFLICT, "claim still held");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let after = t.post_stripe(&ev).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.json()["duplicate"], true);
    assert_eq!(t.count("events").await, 1);
    assert_eq!(t.count("members").await, 1);
    assert_eq!(t.count("jobs").await, 2);
    assert_eq!(t.count("timeline").await, 2);
}

/// A batch inserts its change jobs without a conflict clause (their keys are
/// the member and its new sequence): should one exist after all, the batch
/// rolls back and its events are stored one by one, where the taken key is
/// skipped and nothing else is lost.
#[tokio::test]
async fn a_change_job_whose_key_is_taken_sends_the_batch_one_by_one() {
    let t = quiet_app().await;
    let now = t.clock_now().timestamp();
    let paid = checkout_completed("evt_gk1", now - 60, "cus_GkA", "gk@example.com", None);
    assert_eq!(t.post_stripe(&paid).await.status, StatusCode::OK);
    let member = t.member_by_email("gk@example.com").await.unwrap();
    let (id, seq) = (
        member["id"].as_str().unwrap().to_string(),
        member["sequence"].as_i64().unwrap(),
    );
    // The key the next change's app webhook will have, taken beforehand.
    t.db()
        .await
        .execute(
            "INSERT INTO jobs (kind, dedupe_key, payload, max_attempts, run_at, created_at, updated_at) \
             VALUES ('app_webhook', $1, '{}', 1, now(), now(), now())",
            &[&format!("app_webhook:{id}:{}", seq + 1)],
        )
        .await
        .unwrap();
    let failed = invoice(
        "evt_gk2",
        "invoice.payment_failed",
        now - 30,
        "cus_GkA",
        "in_gk2",
        "gk@example.com",
        false,
    );
    let other = checkout_completed("evt_gk3", now - 30, "cus_GkB", "gk3@example.com", None);
    let answers = send_all(&t, &[failed, other]).await;
    assert!(answers.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(t.count("events").await, 3);
    assert_eq!(
        t.member_by_email("gk@example.com").await.unwrap()["state"],
        "past_due"
    );
    assert!(t.member_by_email("gk3@example.com").await.is_some());
    // The CRM upsert of the change went in; its app webhook key was taken.
    assert_eq!(
        t.count_where(
            "jobs",
            &format!("dedupe_key = 'crm_upsert:{id}:{}'", seq + 1)
        )
        .await,
        1
    );
}
