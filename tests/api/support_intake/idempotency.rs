//! Idempotency-Key: replay, in flight (409), reused with another body (422),
//! expiry after 24 h.

use super::*;

/// Holds the advisory lock `members::resolve` takes for `email`, so a post
/// from that address stays in flight until the returned transaction ends.
const LOCK_KEY: &str = "hashtextextended('email:' || lower($1), 0)";

async fn wait_for_lock_waiter(t: &TestApp, email: &str) {
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
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the first request never reached the lock");
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
    let mut blocker = t.db().await;
    let tx = blocker.transaction().await.unwrap();
    tx.execute(
        &format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"),
        &[&email],
    )
    .await
    .unwrap();
    let key = [("idempotency-key", "key-in-flight")];
    let first = {
        let router = t.router.clone();
        let body = contact(&email, "first").to_string();
        tokio::spawn(async move {
            let req = http::Request::post(URL)
                .header("content-type", "application/json")
                .header("idempotency-key", "key-in-flight")
                .body(Body::from(body))
                .unwrap();
            tower::ServiceExt::oneshot(router, req)
                .await
                .unwrap()
                .status()
        })
    };
    wait_for_lock_waiter(&t, &email).await;
    let res = post(&t, &contact(&email, "first"), &key).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["error"]["code"], "idempotency_in_flight");
    assert!(res.headers.contains_key("retry-after"));
    let res = post(&t, &contact(&email, "other"), &key).await;
    assert_eq!(res.json()["error"]["code"], "idempotency_key_reused");
    tx.commit().await.unwrap();
    assert_eq!(first.await.unwrap(), StatusCode::ACCEPTED);
    let res = post(&t, &contact(&email, "first"), &key).await;
    assert_eq!(res.headers["idempotent-replayed"], "true");
    assert_eq!(t.count("tickets").await, 1);
}
