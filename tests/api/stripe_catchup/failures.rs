//! The catch-up when things fail mid-run: Stripe 5xx between pages, a
//! sabotaged database, a refused key, 429 with `Retry-After`. Each stop leaves
//! the cursor before the first unstored event; the next run fills the gap.

use std::time::Duration;

use http::StatusCode;

use super::*;
use crate::fake_stripe::{FakeStripe, Fault, Recorded};

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
    assert_eq!(
        (first["status"].as_str(), first["stopped"].as_str()),
        (Some("partial"), Some("upstream_5xx"))
    );
    assert_eq!(
        first["new"], 150,
        "the older slice was stored before the failure"
    );
    let stored_until = cursor(&t)
        .await
        .expect("cursor moved past the stored slice");
    assert!(
        stored_until.timestamp() < now - 3600,
        "cursor passed unstored events"
    );

    t.clock.advance(chrono::Duration::minutes(10));
    let (_, second) = cron(&t).await;
    assert_eq!(second["status"], "ok", "{second}");
    assert_eq!(second["new"], 150);
    each_event_applied_once(&t, 300).await;
    assert_eq!(t.count_where("events", "via = 'catchup'").await, 300);
}

#[tokio::test]
async fn a_store_failure_mid_run_keeps_the_cursor_before_the_failed_event_and_the_next_run_fills_the_gap(
) {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let start = t.clock_now().timestamp() - 3600;
    fake.add(customers(0..40, start));
    let sabotaged = "evt_1Cu0020a";
    t.direct().await.batch_execute(&format!(
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
    assert!(
        cursor(&t).await.map(|c| c.timestamp()) < Some(failed_at),
        "cursor passed the failed event"
    );
    let older = format!("created < to_timestamp({failed_at})");
    assert_eq!(
        t.count_where("events", &older).await,
        60,
        "everything before it was stored"
    );

    let drop = format!("DROP TRIGGER sabotage ON {}.events", t.schema);
    t.direct().await.batch_execute(&drop).await.unwrap();
    let (_, second) = cron(&t).await;
    assert_eq!(second["status"], "ok", "{second}");
    each_event_applied_once(&t, 120).await;
    assert_eq!(t.count_where("events", "via = 'catchup'").await, 120);
}

#[tokio::test]
async fn a_refused_key_answers_auth_failed_and_alerts_once_across_runs() {
    let fake = FakeStripe::start("rk_test_FAKE_the_right_key").await;
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
    assert_eq!(
        res.json()["checks"]["stripe_catchup"]["status"],
        "auth_failed"
    );
    assert!(!String::from_utf8_lossy(&res.body).contains(KEY));
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_is_waited_out_within_the_run() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    fake.add(customers(0..3, t.clock_now().timestamp() - 60));
    let recent = t.clock_now().timestamp() - 24 * 3600;
    let newest =
        move |r: &Recorded| r.param("created[gte]").and_then(|v| v.parse().ok()) == Some(recent);
    fake.fail(
        1,
        newest,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );

    let (_, body) = cron(&t).await;
    assert_eq!(
        (body["status"].as_str(), body["new"].as_u64()),
        (Some("ok"), Some(9)),
        "{body}"
    );
    let hits: Vec<Recorded> = fake.requests().into_iter().filter(|r| newest(r)).collect();
    assert_eq!(
        hits.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    assert!(
        hits[1].at - hits[0].at >= Duration::from_secs(1),
        "Retry-After not honoured"
    );
}

#[tokio::test]
async fn a_429_whose_wait_does_not_fit_stops_the_run_without_moving_the_cursor() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    fake.add(customers(0..3, t.clock_now().timestamp() - 60));
    fake.fail(
        1,
        |_| true,
        Fault::RateLimited {
            retry_after_secs: 120,
        },
    );

    let (status, body) = cron(&t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), body["stopped"].as_str()),
        (Some("partial"), Some("rate_limited"))
    );
    assert_eq!(fake.requests().len(), 1, "no retry before Retry-After");
    assert_eq!((t.count("events").await, cursor(&t).await), (0, None));

    let (_, next) = cron(&t).await;
    assert_eq!(
        (next["status"].as_str(), next["new"].as_u64()),
        (Some("ok"), Some(9)),
        "{next}"
    );
}
