//! One watchdog run against a database with 1,000,000 old jobs, 1,000,000
//! old events and 1,000,000 old integration requests (needs the test stores:
//! `scripts/bench/watchdog.sh` starts them). Old rows are spread over the
//! last 7 days minus the window (nothing to prune, nothing in the window);
//! a live window's worth of each sits on top, healthy, so no incident opens.
//!
//! For each rule query it prints the plan's scans with the rows they read
//! and the buffers touched, and FAILS if any plan scans a table; then it
//! times `RUNS` whole runs (Redis reads, the three Postgres queries, the
//! open-incident read) and prints median, p95 and max, then each part
//! alone, and the sweep's prune of `integration_requests` (a sweep hook).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use opsbridge::clock::SystemClock;
use opsbridge::db::Sql;
use opsbridge::watchdog::requests;
use opsbridge::watchdog::rules::{backlog, integration, provisioning};
use opsbridge::{App, Config};
use serde_json::Value;

const OLD_ROWS: i64 = 1_000_000;

async fn setup(schema: &str) -> (App, tokio_postgres::Client) {
    let base = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL (run scripts/bench/watchdog.sh)");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("schema");
    let vars: Vec<(&str, String)> = vec![
        ("DATABASE_URL", url.clone()),
        (
            "REDIS_URL",
            std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL"),
        ),
        ("REDIS_KEY_PREFIX", format!("bench:{schema}:")),
        ("APP_WEBHOOK_URL", "http://127.0.0.1:9/hook".into()),
        ("APP_WEBHOOK_SECRET", "whsec_FAKEappHOOKkey00".into()),
    ];
    let config = Config::from_lookup(
        |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()),
        &[],
    )
    .expect("config");
    let app = App::new(config, Arc::new(SystemClock)).expect("app");
    opsbridge::db::migrate::run(&app.db).await.expect("migrate");
    // Seeding runs on a session of its own: the pool's 5 s statement limit
    // is for requests, not for writing a million rows.
    let (seeder, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    (app, seeder)
}

/// Old rows: `g` from 1 to 1M, `at` spread from 7 days ago + 1 h to 1 h ago.
const SEED: &str = r#"
INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, state, attempts, max_attempts, run_at, created_at, updated_at)
SELECT k, k || ':old:' || g,
       CASE WHEN k = 'app_webhook' THEN jsonb_build_object(
           'body', jsonb_build_object('type', 'member.access_changed', 'id', 'chg_old' || g,
                                      'data', jsonb_build_object('state', 'active', 'access', 'full', 'sequence', 1)),
           'meta', jsonb_build_object('event_type', 'invoice.paid', 'event_created', at))
       ELSE jsonb_build_object('member_id', gen_random_uuid(), 'sequence', 1) END,
       gen_random_uuid(), 1, 'succeeded', 1, 8, at, at, at
FROM (SELECT g, (ARRAY['crm_upsert', 'app_webhook', 'slack_alert', 'customer_email'])[1 + g % 4] AS k,
             now() - interval '7 days' + interval '1 hour' + (g * (interval '7 days' - interval '2 hours') / 1000000) AS at
      FROM generate_series(1, 1000000) g) s;
INSERT INTO events (source, event_id, type, created, livemode, payload, outcome, via, received_at)
SELECT 'stripe', 'evt_old' || g, 'invoice.paid', at, false,
       jsonb_build_object('id', 'evt_old' || g, 'object', 'event', 'type', 'invoice.paid'), 'applied', 'webhook', at
FROM (SELECT g, now() - interval '7 days' + interval '1 hour' + (g * (interval '7 days' - interval '2 hours') / 1000000) AS at
      FROM generate_series(1, 1000000) g) s;
INSERT INTO integration_requests (integration, at, ok, reason, status, jobs)
SELECT (ARRAY['hubspot', 'app_webhook', 'slack', 'resend', 'helpdesk', 'openai'])[1 + g % 6],
       now() - interval '7 days' + interval '1 hour' + (g * (interval '7 days' - interval '2 hours') / 1000000),
       g % 50 <> 0, CASE WHEN g % 50 = 0 THEN 'upstream_5xx' END, CASE WHEN g % 50 = 0 THEN 503 END, 1
FROM generate_series(1, 1000000) g;
-- The live window: recent successes and a few failures per integration,
-- pending jobs not yet due, paid changes just stored and not yet delivered.
INSERT INTO integration_requests (integration, at, ok, reason, status, jobs)
SELECT (ARRAY['hubspot', 'app_webhook', 'slack', 'resend', 'helpdesk', 'openai'])[1 + g % 6],
       now() - (g * interval '1 second'), g % 10 <> 0, CASE WHEN g % 10 = 0 THEN 'upstream_5xx' END, CASE WHEN g % 10 = 0 THEN 503 END, 1
FROM generate_series(1, 540) g;
INSERT INTO jobs (kind, dedupe_key, payload, member_id, sequence, state, max_attempts, run_at, created_at, updated_at)
SELECT 'app_webhook', 'app_webhook:live:' || g,
       jsonb_build_object('body', jsonb_build_object('type', 'member.access_changed', 'id', 'chg_live' || g,
                                                   'data', jsonb_build_object('state', 'active')),
                          'meta', jsonb_build_object('event_type', 'checkout.session.completed')),
       gen_random_uuid(), 1, 'pending', 12, now() + interval '1 minute', now() - interval '2 minutes', now()
FROM generate_series(1, 50) g;
INSERT INTO jobs (kind, dedupe_key, payload, state, max_attempts, run_at, created_at, updated_at)
SELECT 'crm_upsert', 'crm_upsert:live:' || g, '{}'::jsonb, 'pending', 8, now() - interval '1 minute', now(), now()
FROM generate_series(1, 200) g;
ANALYZE jobs; ANALYZE events; ANALYZE integration_requests;"#;

/// Scan nodes of a JSON plan: (node, relation, index, rows read).
fn scans(node: &Value, out: &mut Vec<(String, String, String, f64)>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    if let Some(rel) = node["Relation Name"].as_str() {
        let loops = node["Actual Loops"].as_f64().unwrap_or(1.0);
        let rows = node["Actual Rows"].as_f64().unwrap_or(0.0) * loops
            + node["Rows Removed by Filter"].as_f64().unwrap_or(0.0) * loops
            + node["Rows Removed by Index Recheck"]
                .as_f64()
                .unwrap_or(0.0);
        let index = node["Index Name"].as_str().unwrap_or("-").to_string();
        out.push((kind.to_string(), rel.to_string(), index, rows));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        scans(child, out);
    }
}

async fn explain(
    app: &App,
    name: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) {
    let client = app.db.get().await.expect("db");
    let row = client
        .query_one(
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"),
            params,
        )
        .await
        .expect("explain");
    let plan: Value = row.get(0);
    let root = &plan[0];
    let mut found = Vec::new();
    scans(&root["Plan"], &mut found);
    let buffers = root["Plan"]["Shared Hit Blocks"].as_f64().unwrap_or(0.0)
        + root["Plan"]["Shared Read Blocks"].as_f64().unwrap_or(0.0);
    let read: f64 = found.iter().map(|s| s.3).sum();
    println!(
        "{name}: {:.0} rows read, {buffers:.0} buffers, {:.3} ms",
        read,
        root["Execution Time"].as_f64().unwrap_or(0.0)
    );
    for (kind, rel, index, rows) in &found {
        println!("    {kind} on {rel} using {index}: {rows:.0} rows");
        assert!(!kind.starts_with("Seq Scan"), "{name} scans {rel}: {plan}");
    }
}

fn stats(times: &mut [Duration]) -> String {
    times.sort();
    let n = times.len();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms(times[n / 2]),
        ms(times[n * 95 / 100]),
        ms(times[n - 1])
    )
}

/// The parts of a run, each timed alone: where the time goes.
async fn breakdown(app: &App, runs: usize) {
    let mut parts: [(&str, Vec<Duration>); 4] = Default::default();
    for (i, name) in [
        "open incidents",
        "rules (Redis + one Postgres round trip)",
        "prune (sweep hook)",
        "SELECT 1",
    ]
    .into_iter()
    .enumerate()
    {
        parts[i].0 = name;
    }
    for _ in 0..runs {
        let now = Utc::now();
        let t = Instant::now();
        let client = app.db.get().await.expect("db");
        opsbridge::watchdog::store::open_incidents(&client)
            .await
            .expect("open");
        parts[0].1.push(t.elapsed());
        let t = Instant::now();
        opsbridge::watchdog::rules::evaluate(app, now).await;
        parts[1].1.push(t.elapsed());
        let t = Instant::now();
        opsbridge::watchdog::requests::prune(&client, now)
            .await
            .expect("prune");
        parts[2].1.push(t.elapsed());
        let t = Instant::now();
        client.query_one("SELECT 1", &[]).await.expect("select 1");
        parts[3].1.push(t.elapsed());
    }
    for (name, times) in parts.iter_mut() {
        println!("    {name}: {}", stats(times));
    }
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let (app, seeder) = setup(&schema).await;
    let started = Instant::now();
    seeder.batch_execute(SEED).await.expect("seed");
    let counts = seeder
        .query_one("SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM events), (SELECT count(*) FROM integration_requests)", &[])
        .await
        .expect("count");
    println!(
        "seeded {} jobs, {} events, {} integration requests in {:.1} s",
        counts.get::<_, i64>(0),
        counts.get::<_, i64>(1),
        counts.get::<_, i64>(2),
        started.elapsed().as_secs_f64()
    );
    assert!(counts.get::<_, i64>(0) > OLD_ROWS && counts.get::<_, i64>(1) >= OLD_ROWS);

    let now = Utc::now();
    let watch = &app.config.watch;
    let names = integration::integrations();
    let window = now - chrono::Duration::minutes(watch.window_minutes);
    explain(
        &app,
        "integration_failing",
        integration::SQL,
        &[&names, &window],
    )
    .await;
    let late = now - chrono::Duration::minutes(watch.provision_minutes);
    explain(&app, "provisioning_delayed", provisioning::SQL, &[&late]).await;
    let kinds: Vec<&str> = opsbridge::jobs::JobKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let overdue = now - chrono::Duration::minutes(watch.backlog_minutes);
    explain(
        &app,
        "outbox_backlog",
        backlog::SQL,
        &[&kinds, &overdue, &backlog::COUNT_CAP],
    )
    .await;
    let cutoff = now - chrono::Duration::days(requests::RETENTION_DAYS);
    explain(
        &app,
        "prune (nothing older than 7 days)",
        requests::PRUNE_SQL,
        &[&cutoff, &requests::PRUNE_BATCH],
    )
    .await;
    println!("stripe_signature_failures: {} Redis keys (one per minute of the window, and the verified marker)", watch.window_minutes + 1);

    for _ in 0..10 {
        opsbridge::watchdog::run(&app).await.expect("warm-up run");
    }
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let s = opsbridge::watchdog::run(&app).await.expect("run");
        times.push(t.elapsed());
        assert!(
            s.opened.is_empty() && s.open.is_empty(),
            "the seeded data is healthy: {s:?}"
        );
    }
    println!(
        "watchdog run ({runs} runs): {} (target < 50 ms)",
        stats(&mut times)
    );
    breakdown(&app, runs).await;
    seeder
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .ok();
}
