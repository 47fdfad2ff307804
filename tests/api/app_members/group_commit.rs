//! The app events' group commit: concurrent events share one transaction
//! per batch and keep every rule of one event alone (the stale rule per
//! member, `email_taken` writing nothing, dedupe, one bad event never
//! failing the others).

use futures::future::join_all;
use http::StatusCode;
use opsbridge::db::Sql;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};

use super::post_event;
use crate::helpers::{spawn_app_with, TestApp, TestResponse};

async fn quiet_app() -> TestApp {
    spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await
}

async fn send_all(t: &TestApp, events: &[Value]) -> Vec<TestResponse> {
    join_all(events.iter().map(|e| post_event(t, e))).await
}

/// User `i`'s four events, `occurred_at` in this order: a signup, two email
/// changes, a name change.
fn life_of(i: usize) -> Vec<Value> {
    let (user, at) = (format!("usr_gc{i}"), |m: u32| {
        format!("2026-01-01T00:0{m}:00Z")
    });
    vec![
        json!({"id": format!("evt_agc{i}a"), "type": "user.signed_up", "user_id": user,
               "email": format!("gc{i}@example.com"), "name": "First", "occurred_at": at(1)}),
        json!({"id": format!("evt_agc{i}b"), "type": "user.updated", "user_id": user,
               "email": format!("gc{i}.b@example.com"), "name": "First", "occurred_at": at(2)}),
        json!({"id": format!("evt_agc{i}c"), "type": "user.updated", "user_id": user,
               "email": format!("gc{i}.c@example.com"), "name": "First", "occurred_at": at(3)}),
        json!({"id": format!("evt_agc{i}d"), "type": "user.updated", "user_id": user,
               "email": format!("gc{i}.c@example.com"), "name": "Last", "occurred_at": at(4)}),
    ]
}

/// What each member ends as: user id, email, name.
async fn final_states(t: &TestApp) -> Vec<(Option<String>, Option<String>, Option<String>)> {
    let rows = t
        .db()
        .await
        .query(
            "SELECT app_user_id, email, name FROM members WHERE merged_into IS NULL \
             ORDER BY app_user_id",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn two_hundred_shuffled_concurrent_app_events_end_as_in_order() {
    let (ordered, shuffled) = tokio::join!(quiet_app(), quiet_app());
    let mut events: Vec<Value> = (0..50).flat_map(life_of).collect();
    for e in &events {
        assert_eq!(post_event(&ordered, e).await.status, StatusCode::ACCEPTED);
    }
    events.shuffle(&mut rand::rngs::StdRng::seed_from_u64(21));
    let answers = send_all(&shuffled, &events).await;
    for (e, r) in events.iter().zip(&answers) {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", e["id"]);
    }

    let expected = final_states(&ordered).await;
    assert_eq!(expected.len(), 50);
    assert!(expected.iter().all(|m| m
        .1
        .as_deref()
        .is_some_and(|e| e.ends_with(".c@example.com"))
        && m.2.as_deref() == Some("Last")));
    assert_eq!(final_states(&shuffled).await, expected);
    assert_eq!(shuffled.count("events").await, 200);
    // Each member's answers name one member.
    for i in 0..50 {
        let ids: std::collections::HashSet<String> = events
            .iter()
            .zip(&answers)
            .filter(|(e, _)| e["user_id"] == format!("usr_gc{i}"))
            .map(|(_, r)| r.json()["member_id"].to_string())
            .collect();
        assert_eq!(ids.len(), 1, "usr_gc{i}");
    }
    // Batches really formed: 200 events in far fewer transactions.
    let stats = shuffled.app.app_event_writer.stats();
    assert_eq!(stats["events"], 200, "{stats}");
    assert!(stats["batches"].as_u64().unwrap() <= 20, "{stats}");
}

#[tokio::test]
async fn an_email_taken_in_a_batch_is_refused_alone_and_its_id_stays_usable() {
    let t = quiet_app().await;
    let owner = json!({"id": "evt_own", "type": "user.signed_up", "user_id": "usr_own",
                       "email": "owner@example.com"});
    assert_eq!(post_event(&t, &owner).await.status, StatusCode::ACCEPTED);
    let (events0, jobs0) = (t.count("events").await, t.count("jobs").await);
    let mut events: Vec<Value> = (0..8)
        .map(|i| {
            json!({"id": format!("evt_et{i}"), "type": "user.signed_up",
                        "user_id": format!("usr_et{i}"), "email": format!("et{i}@example.com")})
        })
        .collect();
    let thief = json!({"id": "evt_thief", "type": "user.signed_up", "user_id": "usr_thief",
                       "email": "OWNER@example.com"});
    events.insert(3, thief.clone());
    let answers = send_all(&t, &events).await;
    for (e, r) in events.iter().zip(&answers) {
        if e["id"] == "evt_thief" {
            assert_eq!(r.status, StatusCode::CONFLICT);
            assert_eq!(r.json()["error"]["code"], "email_taken");
        } else {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", e["id"]);
        }
    }
    assert_eq!(t.count("events").await, events0 + 8);
    assert_eq!(t.count("jobs").await, jobs0 + 16);
    assert_eq!(
        t.member_by_email("owner@example.com").await.unwrap()["app_user_id"],
        "usr_own"
    );
    // The refused id was not burnt: once fixed, the same id is accepted.
    let fixed = json!({"id": "evt_thief", "type": "user.signed_up", "user_id": "usr_thief",
                       "email": "thief@example.com"});
    assert_eq!(post_event(&t, &fixed).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn one_app_event_violating_a_constraint_fails_alone() {
    let t = quiet_app().await;
    let s = &t.schema;
    t.direct()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION {s}.refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$;
             CREATE TRIGGER refuse_bad BEFORE INSERT ON {s}.events FOR EACH ROW
               WHEN (NEW.event_id = 'evt_ab_bad') EXECUTE FUNCTION {s}.refuse_bad();"
        ))
        .await
        .unwrap();
    let signup = |id: &str, n: &str| {
        json!({"id": id, "type": "user.signed_up", "user_id": format!("usr_{n}"),
               "email": format!("{n}@example.com")})
    };
    let mut events: Vec<Value> = (0..10)
        .map(|i| signup(&format!("evt_ab{i}"), &format!("ab{i}")))
        .collect();
    events.insert(4, signup("evt_ab_bad", "abbad"));
    let answers = send_all(&t, &events).await;
    for (e, r) in events.iter().zip(&answers) {
        let want = if e["id"] == "evt_ab_bad" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::ACCEPTED
        };
        assert_eq!(r.status, want, "{}", e["id"]);
    }
    assert_eq!(t.count("events").await, 10);
    assert_eq!(t.count("members").await, 10);
    assert_eq!(t.count("jobs").await, 20);
    assert!(t.member_by_email("abbad@example.com").await.is_none());
    assert_eq!(
        t.app.app_event_writer.stats()["batches"],
        1,
        "one batch tried"
    );

    // The app retries once the cause is gone: stored, once.
    t.direct()
        .await
        .batch_execute(&format!("DROP TRIGGER refuse_bad ON {s}.events"))
        .await
        .unwrap();
    let retry = post_event(&t, &events[4]).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED);
    assert_eq!(t.count("members").await, 11);
}

/// The same event three times among others, all at once: stored once,
/// answered once as new; the copies are in flight (409) or duplicates of
/// the same member.
async fn copies_in_one_burst(t: &TestApp) {
    let signup = |id: &str, n: &str| {
        json!({"id": id, "type": "user.signed_up", "user_id": format!("usr_{n}"),
               "email": format!("{n}@example.com")})
    };
    let twin = signup("evt_ad_twin", "adtwin");
    let mut events: Vec<Value> = (0..5)
        .map(|i| signup(&format!("evt_ad{i}"), &format!("ad{i}")))
        .collect();
    events.insert(1, twin.clone());
    events.insert(3, twin.clone());
    events.push(twin);
    let answers = send_all(t, &events).await;
    let (mut new, mut members) = (0, std::collections::HashSet::new());
    for (e, r) in events.iter().zip(&answers) {
        if e["id"] != "evt_ad_twin" {
            assert_eq!(r.status, StatusCode::ACCEPTED);
            continue;
        }
        match r.status {
            StatusCode::ACCEPTED => new += 1,
            StatusCode::OK => assert_eq!(r.json()["duplicate"], true),
            StatusCode::CONFLICT => continue,
            other => panic!("a copy answered {other}"),
        }
        members.insert(r.json()["member_id"].to_string());
    }
    assert_eq!(new, 1, "exactly one copy is the new one");
    assert_eq!(members.len(), 1, "every answer names one member");
    assert_eq!(t.count("events").await, 6);
    assert_eq!(t.count("members").await, 6);
    assert_eq!(t.count("jobs").await, 12);
}

#[tokio::test]
async fn copies_of_one_app_event_in_one_burst_are_stored_once() {
    copies_in_one_burst(&quiet_app().await).await;
}

#[tokio::test]
async fn copies_of_one_app_event_are_stored_once_with_redis_down() {
    let t = spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    copies_in_one_burst(&t).await;
}
