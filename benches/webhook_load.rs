//! HTTP load for `POST /api/webhooks/stripe` (run by `scripts/bench/webhook.sh`
//! against `scripts/dev --release`): `CONCURRENCY` connections send unique,
//! correctly signed `checkout.session.completed` events (each creates a
//! member and its outbox jobs) for `DURATION_SECS`, then print throughput
//! and latency percentiles. A load generator, not a test: it asserts nothing.

use std::time::{Duration, Instant};

use opsbridge::secret::Secret;
use serde_json::json;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn event(n: u64, worker: u64, now: i64) -> Vec<u8> {
    let id = format!("evt_load{worker}x{n}x{now}");
    let body = json!({
        "id": id, "object": "event", "api_version": "2025-09-30.clover", "created": now, "livemode": false,
        "type": "checkout.session.completed",
        "data": { "object": {
            "id": format!("cs_load{worker}x{n}"), "object": "checkout.session", "mode": "subscription",
            "payment_status": "paid", "status": "complete", "currency": "usd", "amount_total": 2900,
            "customer": format!("cus_load{worker}x{n}x{now}"), "client_reference_id": null,
            "customer_details": { "email": format!("load{worker}x{n}x{now}@example.com"), "name": "Load Test" },
            "metadata": {}, "subscription": format!("sub_load{worker}x{n}")
        }}
    });
    serde_json::to_vec(&body).expect("json")
}

#[tokio::main]
async fn main() {
    let target = env_or("TARGET", "http://127.0.0.1:3000");
    let secret =
        Secret::new(std::env::var("STRIPE_WEBHOOK_SECRET").expect("STRIPE_WEBHOOK_SECRET"));
    let concurrency: u64 = env_or("CONCURRENCY", "64").parse().expect("CONCURRENCY");
    let duration = Duration::from_secs(
        env_or("DURATION_SECS", "10")
            .parse()
            .expect("DURATION_SECS"),
    );
    let url = format!("{target}/api/webhooks/stripe");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .expect("client");
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
            while started.elapsed() < duration {
                let now = chrono::Utc::now().timestamp();
                let body = event(n, w, now);
                let sig = opsbridge::signature::stripe::sign(&body, &secret, now);
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .header("stripe-signature", sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => lat.push(t.elapsed().as_micros() as u64),
                    _ => errors += 1,
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (lat, e) = w.await.expect("worker");
        all.extend(lat);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "webhook load: {} ok, {errors} errors in {secs:.1} s = {:.0} events/s at {concurrency} connections; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        all.len(), all.len() as f64 / secs, pct(0.50), pct(0.90), pct(0.99), pct(1.0)
    );
}
