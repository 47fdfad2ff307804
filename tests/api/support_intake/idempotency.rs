//! Idempotency-Key: replay, in flight (409), reused with another body (422),
//! expiry after 24 h.

use super::*;
#[allow(unused_imports)]
use opsbridge::db::Sql;

/// The advisory lock `members::resolve` takes for the email `$1`.
const LOCK_KEY: &str = "hashtextextended('email:' || lower($1), 0)";

/// Takes `email`'s lock in a transaction on the returned connection, so a
/// post from that address stays in flight until `COMMIT` is sent on it.
async fn hold_email_lock(t: &TestApp, email: &str) -> tokio_postgres::Client {
    // A session of its own (around any pooler): the transaction stays open
    // across calls.
    let blocker = t.direct().await;
    blocker.batch_execute("BEGIN").await.unwrap();
    blocker
        .execute(
            &format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"),
            &[&email],
        )
        .await
        .unwrap();
    blocker
}

async fn wait_for_lock_waiter(t: &TestApp, email: &str) {
    wait_for_lock_waiters(t, email, 1).await
}

async fn wait_for_lock_waiters(t: &TestApp, email: &str, n: i64) {
    let sql = format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND ((classid::bigint << 32) | objid::bigint) = {LOCK_KEY}"
    );
    for _ in 0..300 {
        let waiting: i64 = t
            .db()
            .await
            .query_one(&sql, &[&email])
            .await
            .unwrap()
            .get(0);
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the requests never reached the lock");
}

/// Posts `body` with `key` in a task of its own: (status, replayed, body).
fn spawn_post(
    t: &TestApp,
    body: &Value,
    key: &'static str,
) -> tokio::task::JoinHandle<(StatusCode, bool, Value)> {
    let router = t.router.clone();
    let body = body.to_string();
    tokio::spawn(async move {
        let req = http::Request::post(URL)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body))
            .unwrap();
        let res = tower::ServiceExt::oneshot(router, req).await.unwrap();
        let (status, replayed) = (
            res.status(),
            res.headers().contains_key("idempotent-replayed"),
        );
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, replayed, serde_json::from_slice(&bytes).unwrap())
    })
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replay_the_first_response() {
    let t = app().await;
    let body = contact("jane@example.com", "first");
    let key = [(
        "idempotency-key",
        "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
    )];
    let first = post(&t, &body, &key).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    t.clock.advance(chrono::Duration::hours(2));
    let again = post(&t, &body, &key).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.json(), first.json());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        (t.count("tickets").await, t.count("ticket_messages").await),
        (1, 0)
    );
    let other = post(&t, &contact("jane@example.com", "changed"), &key).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json()["error"]["code"], "idempotency_key_reused");
    let bad = post(&t, &body, &[("idempotency-key", "has space")]).await;
    assert_eq!(bad.json()["error"]["code"], "invalid_idempotency_key");
    t.clock.advance(chrono::Duration::hours(23));
    let expired = post(&t, &body, &key).await;
    assert!(!expired.headers.contains_key("idempotent-replayed"));
    assert_eq!(
        t.count("ticket_messages").await,
        0,
        "after 25 h the contact opens a new ticket"
    );
    assert_eq!(t.count("tickets").await, 2);
}

#[tokio::test]
async fn a_key_still_in_flight_answers_409_and_another_body_422() {
    let t = app().await;
    let email = format!("inflight-{}@example.com", uuid::Uuid::new_v4().simple());
    let blocker = hold_email_lock(&t, &email).await;
    let key = [("idempotency-key", "key-in-flight")];
    let first = spawn_post(&t, &contact(&email, "first"), "key-in-flight");
    wait_for_lock_waiter(&t, &email).await;
    let res = post(&t, &contact(&email, "first"), &key).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["error"]["code"], "idempotency_in_flight");
    assert!(res.headers.contains_key("retry-after"));
    let res = post(&t, &contact(&email, "other"), &key).await;
    assert_eq!(res.json()["error"]["code"], "idempotency_key_reused");
    blocker.batch_execute("COMMIT").await.unwrap();
    assert_eq!(first.await.unwrap().0, StatusCode::ACCEPTED);
    let res = post(&t, &contact(&email, "first"), &key).await;
    assert_eq!(res.headers["idempotent-replayed"], "true");
    assert_eq!(t.count("tickets").await, 1);
}

#[tokio::test]
async fn with_redis_down_two_concurrent_posts_with_one_key_store_once_and_replay() {
    // No Redis claim: both requests reach Postgres; the key's unique record
    // makes the second roll its whole contact back and replay the first.
    let t = app_with(|v| {
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    let email = format!("twice-{}@example.com", uuid::Uuid::new_v4().simple());
    let blocker = hold_email_lock(&t, &email).await;
    let body = contact(&email, "the same post, sent twice");
    let posts = [
        spawn_post(&t, &body, "key-sent-twice"),
        spawn_post(&t, &body, "key-sent-twice"),
    ];
    wait_for_lock_waiters(&t, &email, 2).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    let mut answers = Vec::new();
    for p in posts {
        answers.push(p.await.unwrap());
    }
    answers.sort_by_key(|(_, replayed, _)| *replayed);
    let [(first, false, a), (second, true, b)] = answers.as_slice() else {
        panic!("expected one stored and one replayed answer: {answers:?}");
    };
    assert_eq!(
        (*first, *second),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(a, b, "the replay is the first response");
    assert_eq!(
        (t.count("tickets").await, t.count("ticket_messages").await),
        (1, 0),
        "the second contact was rolled back whole"
    );
    assert_eq!(t.count_where("jobs", "kind = 'helpdesk_ticket'").await, 1);
    assert_eq!(t.count("support_idempotency").await, 1);
}
