//! Zendesk, natively: `zendesk_ticket` jobs against a fake Zendesk that
//! behaves like the Tickets API (idempotency keys, requesters, comments,
//! 404 for a deleted ticket). Jobs run only when a test drains the outbox
//! (`TEST_BACKGROUND=off`), so every step is deterministic. Shared helpers
//! here, the tests by area below.

mod comments;
mod create;
mod fake;
mod outcomes;

use std::collections::HashMap;

use http::Method;
use opsbridge::db::Sql;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app_with, TestApp};
use fake::Fake;

/// The app pointed at `fake`, with limits out of the way; `edit` changes
/// anything else.
async fn app_with(fake: &Fake, edit: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let uri = fake.server.uri();
    spawn_app_with(|v| {
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "1000".into());
        v.insert("SUPPORT_RATE_LIMIT_PER_EMAIL".into(), "1000".into());
        v.insert("TEST_BACKGROUND".into(), "off".into());
        v.insert("ZENDESK_BASE_URL".into(), uri);
        v.insert("ZENDESK_EMAIL".into(), fake::EMAIL.into());
        v.insert("ZENDESK_API_TOKEN".into(), fake::TOKEN.into());
        edit(v);
    })
    .await
}

async fn app(fake: &Fake) -> TestApp {
    app_with(fake, |_| {}).await
}

/// Posts a contact; returns our ticket id.
async fn contact(t: &TestApp, email: &str, subject: Option<&str>, message: &str) -> Uuid {
    let body =
        json!({ "email": email, "name": "Jane Doe", "subject": subject, "message": message });
    let h = [("content-type", "application/json")];
    let res = t
        .request(Method::POST, "/api/support/intake", &h, body.to_string())
        .await;
    assert_eq!(res.status, 202, "{}", String::from_utf8_lossy(&res.body));
    res.json()["ticket_id"].as_str().unwrap().parse().unwrap()
}

/// Our ticket's Zendesk ticket id.
async fn zendesk_id(t: &TestApp, ticket: Uuid) -> Option<i64> {
    t.db()
        .await
        .query_one(
            "SELECT zendesk_ticket_id FROM tickets WHERE id = $1",
            &[&ticket],
        )
        .await
        .unwrap()
        .get(0)
}

/// One job as JSON (`state`, `reason`, `attempts`, `run_at`, ...).
async fn job(t: &TestApp, dedupe_key: &str) -> Value {
    t.db()
        .await
        .query_one(
            "SELECT to_jsonb(j) - 'payload' FROM jobs j WHERE dedupe_key = $1",
            &[&dedupe_key],
        )
        .await
        .unwrap()
        .get(0)
}

fn create_key(ticket: Uuid) -> String {
    format!("zendesk_ticket:{ticket}")
}

/// How many requests the fake got with this method and path.
async fn count(fake: &Fake, method: &str, path: &str) -> usize {
    fake.requests()
        .await
        .iter()
        .filter(|(m, p, _)| m == method && p == path)
        .count()
}

/// Moves the clock past any retry or wait, then drains.
async fn later(t: &TestApp, minutes: i64) {
    t.clock.advance(chrono::Duration::minutes(minutes));
    t.drain().await;
}
