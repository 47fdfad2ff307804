//! Catch-up ingest throughput: one cron run that recovers 10,000 events from
//! a zero-latency fake Stripe (the tests' fake, real pagination), into real
//! Postgres and Redis (`TEST_DATABASE_URL`, `TEST_REDIS_URL`), with the
//! production pool size. Prints events/s; the listing alone is timed too
//! (a dry run over the same range), so ingest and fetch costs separate.
//!
//! `source /tmp/ob-env; cargo bench --bench catchup` (`CATCHUP_EVENTS=n`,
//! `DB_POOL_SIZE=n` to vary the size and the concurrency).

#[path = "../tests/api/fake_stripe.rs"]
mod fake_stripe;
#[allow(dead_code)]
#[path = "../tests/api/fixtures.rs"]
mod fixtures;
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use opsbridge::catchup::run::{catch_up_range, Sink};
use serde_json::Value;

const KEY: &str = "rk_test_FAKE_catchup_bench";

/// `n` events: a checkout, a plan and a paid invoice per customer, spread
/// over the last 60 hours (several per second where dense).
fn events(n: usize, now: i64) -> Vec<Value> {
    let span = 60 * 3600;
    (0..n.div_ceil(3))
        .flat_map(|i| {
            let at = now - span + (i as i64 * span) / (n as i64 / 3).max(1);
            let cus = format!("cus_QxBench{i:06}");
            let email = format!("bench{i}@example.com");
            vec![
                fixtures::checkout_completed(&format!("evt_1Bn{i:06}a"), at, &cus, &email, None),
                fixtures::subscription(
                    &format!("evt_1Bn{i:06}b"),
                    "customer.subscription.updated",
                    at,
                    &cus,
                    "active",
                    "pro",
                ),
                fixtures::invoice(
                    &format!("evt_1Bn{i:06}c"),
                    "invoice.paid",
                    at,
                    &cus,
                    &format!("in_1Bn{i:06}"),
                    &email,
                    true,
                ),
            ]
        })
        .take(n)
        .collect()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("CATCHUP_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let fake = fake_stripe::FakeStripe::start(KEY).await;
    let uri = fake.uri();
    let t = helpers::spawn_app_with(move |v| {
        v.insert("STRIPE_SECRET_KEY".into(), KEY.into());
        v.insert("STRIPE_API_BASE".into(), uri);
        match std::env::var("DB_POOL_SIZE") {
            Ok(size) => v.insert("DB_POOL_SIZE".into(), size),
            Err(_) => v.remove("DB_POOL_SIZE"), // the production default
        };
    })
    .await;
    let now = t.clock_now().timestamp();
    fake.add(events(n, now));
    let api = t.app.config.stripe_api.clone().expect("configured");

    let started = Instant::now();
    let mut dry = Sink::DryRun {
        missing: 0,
        sample: Vec::new(),
    };
    let listed = catch_up_range(
        &t.app,
        &api,
        (now - 61 * 3600, now),
        Duration::from_secs(60),
        &mut dry,
    )
    .await;
    let list_ms = started.elapsed().as_millis();

    let started = Instant::now();
    // In a spawned task, as in production: `vercel_runtime` serves each
    // request in a task of a multi-threaded runtime, never on `block_on`'s
    // thread.
    let app = t.app.clone();
    let s = tokio::spawn(async move { opsbridge::catchup::catch_up(&app).await })
        .await
        .expect("the catch-up task ran")
        .unwrap()
        .expect("configured");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!((s.status, s.new as usize), ("ok", n), "{s:?}");
    assert_eq!(t.count("events").await as usize, n);
    println!(
        "catch-up: {n} events in {secs:.2} s = {:.0} events/s ({} pages; listing alone {} ms for {} events; pool {})",
        n as f64 / secs,
        s.pages,
        list_ms,
        listed.fetched,
        t.app.config.db_pool_size
    );
}
