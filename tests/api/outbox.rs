//! The outbox against a fake HubSpot: retries, dead letters, leases, holds,
//! kill switches, concurrent sweeps.

#[allow(unused_imports)]
use opsbridge::db::Sql;
use std::time::Duration;

use chrono::Duration as Days;
use http::StatusCode;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_hubspot::{self, contact_id, emails, Upsert, UPSERT_PATH};
use crate::fixtures::checkout_completed;
use crate::helpers::{spawn_app_with, TestApp};

async fn app_with_crm(server: &MockServer) -> TestApp {
    let uri = server.uri();
    spawn_app_with(move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-FAKE-test-token".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
        v.insert("HUBSPOT_TIMEOUT_MS".into(), "300".into());
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await
}

async fn members(t: &TestApp, n: usize) {
    let base = t.clock_now().timestamp() - 1000;
    for i in 0..n {
        let ev = checkout_completed(
            &format!("evt_OB{i:05}"),
            base + i as i64,
            &format!("cus_OB{i:05}"),
            &format!("ob{i}@example.com"),
            None,
        );
        assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    }
}

async fn crm_job(t: &TestApp) -> serde_json::Value {
    t.db()
        .await
        .query_one("SELECT row_to_json(j)::jsonb FROM jobs j WHERE kind = 'crm_upsert' ORDER BY id LIMIT 1", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_crm_upsert_goes_by_email_in_a_batch_and_stores_the_contact_id() {
    let server = fake_hubspot::start().await;
    let t = app_with_crm(&server).await;
    members(&t, 3).await;
    let s = t.drain().await;
    assert_eq!(
        s.succeeded as i64,
        t.count_where("jobs", "kind = 'crm_upsert'").await
    );
    let reqs = server.received_requests().await.unwrap();
    let req = reqs.iter().find(|r| r.url.path() == UPSERT_PATH).unwrap();
    assert_eq!(req.headers["authorization"], "Bearer pat-FAKE-test-token");
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body["inputs"].as_array().unwrap().len(),
        3,
        "one batch for three jobs"
    );
    assert_eq!(body["inputs"][0]["idProperty"], "email");
    assert_eq!(
        body["inputs"][0]["properties"]["lifecyclestage"],
        "customer"
    );
    let m = t.member_by_email("ob1@example.com").await.unwrap();
    assert_eq!(m["crm_contact_id"], contact_id("ob1@example.com"));
    assert_eq!(m["crm_synced_seq"], m["sequence"]);
}

#[tokio::test]
async fn a_500_then_200_succeeds_after_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(Upsert)
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    t.drain().await;
    let job = crm_job(&t).await;
    assert_eq!(job["state"], "pending");
    assert_eq!(job["reason"], "upstream_5xx");
    t.clock.advance(Days::hours(2));
    t.drain().await;
    let job = crm_job(&t).await;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["history"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn always_500_goes_dead_with_max_attempts_and_one_alert() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    for _ in 0..12 {
        t.drain().await;
        t.clock.advance(Days::hours(2));
    }
    let job = crm_job(&t).await;
    assert_eq!(job["state"], "dead");
    assert_eq!(job["reason"], "max_attempts");
    assert_eq!(job["attempts"], 8);
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
async fn a_400_is_dead_at_once_with_invalid_payload() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    t.drain().await;
    let job = crm_job(&t).await;
    assert_eq!(
        (
            job["state"].as_str(),
            job["reason"].as_str(),
            job["attempts"].as_i64()
        ),
        (Some("dead"), Some("invalid_payload"), Some(1))
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let server = MockServer::start().await;
    let body = serde_json::json!({"status":"error","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"});
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(body),
        )
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    t.drain().await;
    let job = crm_job(&t).await;
    assert_eq!(job["reason"], "crm_rate_limited");
    let run_at: chrono::DateTime<chrono::Utc> = job["run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((run_at - t.clock_now()).num_seconds(), 7);
}

#[tokio::test]
async fn a_daily_limit_parks_the_job_until_tomorrow_without_spending_an_attempt() {
    let server = MockServer::start().await;
    let body = serde_json::json!({"status":"error","errorType":"RATE_LIMIT","policyName":"DAILY"});
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(429).set_body_json(body))
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    t.drain().await;
    let job = crm_job(&t).await;
    assert_eq!(job["state"], "pending");
    assert_eq!(job["attempts"], 0);
    let run_at: chrono::DateTime<chrono::Utc> = job["run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        run_at.date_naive(),
        (t.clock_now() + Days::days(1)).date_naive()
    );
}

#[tokio::test]
async fn a_timeout_is_crm_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    t.drain().await;
    let job = crm_job(&t).await;
    assert_eq!(
        (job["state"].as_str(), job["reason"].as_str()),
        (Some("pending"), Some("crm_timeout"))
    );
}

#[tokio::test]
async fn a_401_is_auth_failed_with_one_alert_for_many_jobs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let t = app_with_crm(&server).await;
    members(&t, 3).await;
    t.drain().await;
    assert_eq!(
        t.count_where(
            "jobs",
            "kind = 'crm_upsert' AND state = 'dead' AND reason = 'auth_failed'"
        )
        .await,
        3
    );
    assert_eq!(t.count_where("jobs", "kind = 'slack_alert'").await, 1);
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_rescued_after_its_lease_and_completed_once() {
    let server = fake_hubspot::start().await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    let client = t.db().await;
    let claimed = opsbridge::jobs::store::claim(
        &client,
        opsbridge::jobs::JobKind::CrmUpsert,
        10,
        None,
        t.clock_now(),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1, "the doomed worker holds it");
    assert_eq!(t.drain().await.claimed, 0, "a live lease is respected");
    t.clock
        .advance(Days::seconds(opsbridge::jobs::store::LEASE_SECS + 1));
    t.drain().await;
    assert_eq!(crm_job(&t).await["state"], "succeeded");
    assert_eq!(emails(&server).await.len(), 1);
}

#[tokio::test]
async fn without_credentials_jobs_are_held_and_drain_once_configured() {
    let server = fake_hubspot::start().await;
    let unconfigured = spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    members(&unconfigured, 2).await;
    unconfigured.drain().await;
    assert_eq!(
        unconfigured
            .count_where(
                "jobs",
                "kind = 'crm_upsert' AND state = 'held' AND reason = 'not_configured'"
            )
            .await,
        2
    );
    let (schema, uri) = (unconfigured.place.clone(), server.uri());
    let configured = spawn_app_with(move |v| {
        v.insert("DATABASE_URL".into(), crate::helpers::schema_url(&schema));
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-test".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
    })
    .await;
    configured.drain().await;
    assert_eq!(
        configured
            .count_where("jobs", "kind = 'crm_upsert' AND state = 'succeeded'")
            .await,
        2
    );
    assert_eq!(emails(&server).await.len(), 2);
}

#[tokio::test]
async fn a_paused_integration_holds_its_jobs_until_resumed() {
    let server = fake_hubspot::start().await;
    let t = app_with_crm(&server).await;
    members(&t, 2).await;
    let client = t.db().await;
    opsbridge::flags::set(
        &client,
        "hubspot",
        false,
        "test",
        "maintenance",
        t.clock_now(),
    )
    .await
    .unwrap();
    t.drain().await;
    assert_eq!(
        t.count_where(
            "jobs",
            "kind = 'crm_upsert' AND state = 'held' AND reason = 'paused'"
        )
        .await,
        2
    );
    assert!(emails(&server).await.is_empty());
    opsbridge::flags::set(&client, "hubspot", true, "test", "", t.clock_now())
        .await
        .unwrap();
    t.drain().await;
    assert_eq!(
        t.count_where("jobs", "kind = 'crm_upsert' AND state = 'succeeded'")
            .await,
        2
    );
}

#[tokio::test]
async fn concurrent_sweeps_never_run_a_job_twice_and_each_email_reaches_the_crm_once() {
    let server = fake_hubspot::start().await;
    let t = app_with_crm(&server).await;
    members(&t, 100).await;
    let budget = Duration::from_secs(30);
    let (a, b, c) = tokio::join!(
        opsbridge::jobs::sweep(&t.app, budget),
        opsbridge::jobs::sweep(&t.app, budget),
        opsbridge::jobs::sweep(&t.app, budget)
    );
    let claimed = a.unwrap().claimed + b.unwrap().claimed + c.unwrap().claimed;
    assert_eq!(claimed, 100);
    let mut seen = emails(&server).await;
    assert_eq!(seen.len(), 100);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100, "an email was sent twice");
}

#[tokio::test]
async fn a_stale_crm_copy_is_reconciled_by_the_sweep() {
    let server = fake_hubspot::start().await;
    let t = app_with_crm(&server).await;
    members(&t, 1).await;
    t.db()
        .await
        .execute(
            "UPDATE jobs SET state = 'discarded' WHERE kind = 'crm_upsert'",
            &[],
        )
        .await
        .unwrap();
    t.clock.advance(Days::minutes(5));
    let s = t.drain().await;
    assert_eq!(s.succeeded, 1, "the reconciled upsert ran");
    assert_eq!(emails(&server).await, vec!["ob0@example.com".to_string()]);
    let m = t.member_by_email("ob0@example.com").await.unwrap();
    assert_eq!(m["crm_synced_seq"], m["sequence"]);
}

#[tokio::test]
async fn several_jobs_enqueued_at_once_answer_in_order_and_skip_a_queued_dedupe_key() {
    use opsbridge::jobs::{enqueue, enqueue_many, JobKind, NewJob};
    let t = spawn_app_with(|_| {}).await;
    let client = t.db().await;
    let now = t.clock_now();
    let job = |kind, key: &str| NewJob {
        kind,
        dedupe_key: key.to_string(),
        payload: serde_json::json!({ "key": key }),
        member_id: None,
        sequence: Some(7),
    };
    let queued = enqueue(&client, job(JobKind::CrmUpsert, "crm_upsert:m:7"), now)
        .await
        .unwrap()
        .expect("new key");
    let jobs = [
        job(JobKind::AppWebhook, "app_webhook:m:7"),
        job(JobKind::CrmUpsert, "crm_upsert:m:7"),
        job(JobKind::SlackAlert, "slack:m:7"),
    ];
    let ids = enqueue_many(&client, &jobs.iter().collect::<Vec<_>>(), now)
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0].is_some() && ids[2].is_some(), "{ids:?}");
    assert_eq!(ids[1], None, "the queued key is not queued again");
    let rows = client
        .query(
            "SELECT id, kind, dedupe_key, payload->>'key', sequence, max_attempts FROM jobs ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (row, (id, job)) in rows[1..]
        .iter()
        .zip([(ids[0], &jobs[0]), (ids[2], &jobs[2])])
    {
        assert_eq!(row.get::<_, i64>(0), id.unwrap());
        assert_eq!(row.get::<_, &str>(1), job.kind.as_str());
        assert_eq!(row.get::<_, &str>(2), job.dedupe_key);
        assert_eq!(row.get::<_, &str>(3), job.dedupe_key);
        assert_eq!(row.get::<_, Option<i64>>(4), Some(7));
        assert_eq!(row.get::<_, i32>(5), job.kind.policy().max_attempts);
    }
    assert_eq!(rows[0].get::<_, i64>(0), queued);
}
