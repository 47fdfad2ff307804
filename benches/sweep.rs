//! Outbox sweep throughput and claim latency (needs the test stores:
//! `scripts/bench/sweep.sh` starts them). Seeds N members with one
//! `crm_upsert` job each, sweeps them against a zero-latency fake HubSpot,
//! and prints jobs/s; then adds 1,000,000 succeeded rows and times claiming
//! a batch of 100 before and after, to show claiming stays flat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opsbridge::clock::SystemClock;
use opsbridge::db::Sql;
use opsbridge::jobs::{store, JobKind};
use opsbridge::{App, Config};

#[path = "../tests/api/fake_hubspot.rs"]
#[allow(dead_code)]
mod fake_hubspot;

async fn app(schema: &str, hubspot: &str) -> App {
    let base =
        std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL (run scripts/bench/sweep.sh)");
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let vars: Vec<(&str, String)> = vec![
        (
            "DATABASE_URL",
            format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        ),
        (
            "REDIS_URL",
            std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL"),
        ),
        ("REDIS_KEY_PREFIX", format!("bench:{schema}:")),
        ("HUBSPOT_ACCESS_TOKEN", "pat-bench".into()),
        ("HUBSPOT_BASE_URL", hubspot.into()),
        ("HUBSPOT_REQUESTS_PER_10S", "10000".into()),
        ("DB_POOL_SIZE", "8".into()),
    ];
    let config = Config::from_lookup(
        |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()),
        &[],
    )
    .expect("config");
    let app = App::new(config, Arc::new(SystemClock)).expect("app");
    opsbridge::db::migrate::run(&app.db).await.expect("migrate");
    app
}

async fn seed(app: &App, from: i64, n: i64) {
    let client = app.db.get().await.expect("db");
    client
        .execute(
            r#"WITH m AS (
                 INSERT INTO members (email, state, sequence)
                 SELECT 'bench' || g || '@example.com', 'active', 1 FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) g RETURNING id)
               INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, max_attempts)
               SELECT 'crm_upsert', 'crm_upsert:' || id || ':1', jsonb_build_object('member_id', id, 'sequence', 1), id, 1, 8 FROM m"#,
            &[&from, &n],
        )
        .await
        .expect("seed");
}

async fn time_claim(app: &App) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let tx = app.db.begin().await.expect("tx");
        let t = Instant::now();
        let jobs = store::claim(&tx, JobKind::CrmUpsert, 100, None, chrono::Utc::now())
            .await
            .expect("claim");
        best = best.min(t.elapsed());
        assert_eq!(jobs.len(), 100);
        tx.rollback().await.expect("rollback");
    }
    best
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let server = fake_hubspot::start().await;
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let app = app(&schema, &server.uri()).await;
    seed(&app, 1, n).await;
    let started = Instant::now();
    let mut done = 0;
    while done < n as u64 {
        let s = opsbridge::jobs::sweep(&app, Duration::from_secs(60))
            .await
            .expect("sweep");
        done += s.succeeded;
        if s.claimed == 0 {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("sweep: {done} crm_upsert jobs claimed, sent in batches of 100 and completed in {secs:.2} s = {:.0} jobs/s", done as f64 / secs);

    seed(&app, n + 1, 200).await;
    let before = time_claim(&app).await;
    let client = app.db.get().await.expect("db");
    client
        .execute(
            r#"INSERT INTO jobs (kind, dedupe_key, payload, state, max_attempts, updated_at)
               SELECT 'crm_upsert', 'bench-done:' || g, '{}'::jsonb, 'succeeded', 8, now() FROM generate_series(1, 1000000) g"#,
            &[],
        )
        .await
        .expect("fill");
    client.batch_execute("ANALYZE jobs").await.expect("analyze");
    let after = time_claim(&app).await;
    println!("claim of 100 due jobs: {:.2} ms with {} done rows, {:.2} ms with 1,000,000 more succeeded rows", before.as_secs_f64() * 1e3, n, after.as_secs_f64() * 1e3);
}
