//! How Zendesk's failures end a job: 429 waits its `Retry-After`, 5xx and
//! timeouts retry, 401/403 are `auth_failed`, 422 `invalid_payload`; the
//! kill switch and a missing configuration hold jobs without a request.

use super::*;

#[tokio::test]
async fn a_429_waits_exactly_its_retry_after_and_a_5xx_retries() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.fail_next(429, Some(120));
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    let j = job(&t, &create_key(ours)).await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("pending"), Some("rate_limited"))
    );
    let run_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(j["run_at"].clone()).unwrap();
    assert_eq!(run_at, t.clock_now() + chrono::Duration::seconds(120));
    later(&t, 1).await;
    assert!(fake.tickets().is_empty(), "not before Retry-After");
    fake.fail_next(502, None);
    later(&t, 2).await;
    assert_eq!(job(&t, &create_key(ours)).await["reason"], "upstream_5xx");
    later(&t, 2).await;
    assert_eq!(fake.tickets().len(), 1);
    assert_eq!(job(&t, &create_key(ours)).await["state"], "succeeded");
}

#[tokio::test]
async fn a_rotated_token_or_a_missing_permission_is_auth_failed() {
    let fake = Fake::start().await;
    let t = app_with(&fake, |v| {
        v.insert("ZENDESK_API_TOKEN".into(), "FAKE-rotated-token".into());
    })
    .await;
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    let j = job(&t, &create_key(ours)).await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("dead"), Some("auth_failed"))
    );
    assert_eq!(j["upstream_status"], 401);

    let t = app(&fake).await;
    fake.fail_next(403, None);
    let ours = contact(&t, "ann@example.com", None, "Hello").await;
    t.drain().await;
    assert_eq!(job(&t, &create_key(ours)).await["reason"], "auth_failed");
    assert!(fake.tickets().is_empty());
}

#[tokio::test]
async fn a_ticket_zendesk_rejects_goes_dead_as_invalid_payload_with_one_alert() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    fake.fail_next(422, None);
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    let j = job(&t, &create_key(ours)).await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("dead"), Some("invalid_payload"))
    );
    assert_eq!(
        t.count_where(
            "jobs",
            "kind = 'slack_alert' AND dedupe_key LIKE 'slack:dead:%'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_zendesk_kill_switch_holds_jobs_without_a_request_until_resumed() {
    let fake = Fake::start().await;
    let t = app(&fake).await;
    let db = t.db().await;
    opsbridge::flags::set(&db, "zendesk", false, "test", "incident", t.clock_now())
        .await
        .unwrap();
    let ours = contact(&t, "jane@example.com", None, "Hello").await;
    t.drain().await;
    let j = job(&t, &create_key(ours)).await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("held"), Some("paused"))
    );
    assert!(fake.requests().await.is_empty());
    opsbridge::flags::set(&db, "zendesk", true, "test", "over", t.clock_now())
        .await
        .unwrap();
    t.drain().await;
    assert_eq!(fake.tickets().len(), 1);
}

#[tokio::test]
async fn without_zendesk_no_job_is_enqueued_and_a_leftover_one_waits_held() {
    let fake = Fake::start().await;
    let t = app_with(&fake, |v| {
        for k in ["ZENDESK_BASE_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"] {
            v.remove(k);
        }
    })
    .await;
    contact(&t, "jane@example.com", None, "Hello").await;
    assert_eq!(t.count_where("jobs", "kind = 'zendesk_ticket'").await, 0);
    t.db()
        .await
        .execute(
            "INSERT INTO jobs (kind, dedupe_key, payload, max_attempts) VALUES ('zendesk_ticket', 'zendesk_ticket:left', '{}', 10)",
            &[],
        )
        .await
        .unwrap();
    t.drain().await;
    let j = job(&t, "zendesk_ticket:left").await;
    assert_eq!(
        (j["state"].as_str(), j["reason"].as_str()),
        (Some("held"), Some("not_configured"))
    );
    assert!(fake.requests().await.is_empty());
}
