//! The HTTP load driver shared by the load generators (`webhook_load`,
//! `intake_load`, `access_load`): `CONCURRENCY` connections for `DURATION_SECS`, either
//! closed-loop (each connection sends as soon as its previous answer is in:
//! the saturation throughput) or open-loop at `RATE` requests/s (each request
//! has a scheduled send time and its latency counts from that time, so a
//! stalled server cannot hide its queue: no coordinated omission). A load
//! generator, not a test: it asserts nothing.

use std::future::Future;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What to run, from the environment.
pub struct Plan {
    /// Connections (concurrent clients).
    pub concurrency: u64,
    /// How long to send.
    pub duration: Duration,
    /// Offered requests per second (open loop); `None` = closed loop.
    pub rate: Option<f64>,
}

/// `name` from the environment, else `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The server under load: `TARGET` (`http://127.0.0.1:3000`).
pub fn target() -> String {
    env_or("TARGET", "http://127.0.0.1:3000")
}

impl Plan {
    /// `CONCURRENCY` (64), `DURATION_SECS` (10), `RATE` (unset: closed loop).
    pub fn from_env() -> Self {
        Self {
            concurrency: env_or("CONCURRENCY", "64").parse().expect("CONCURRENCY"),
            duration: Duration::from_secs(
                env_or("DURATION_SECS", "10")
                    .parse()
                    .expect("DURATION_SECS"),
            ),
            rate: std::env::var("RATE")
                .ok()
                .filter(|r| !r.is_empty())
                .map(|r| r.parse().expect("RATE (requests/s)")),
        }
    }
}

impl Plan {
    /// An HTTP client keeping one idle connection per worker, so each
    /// worker reuses its own.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .pool_max_idle_per_host(self.concurrency as usize)
            .build()
            .expect("client")
    }
}

/// Runs `send(worker, n)` (true = success) per `plan` and prints one line:
/// `label: ok, errors, achieved rate, latency percentiles`.
pub async fn run<F, Fut>(label: &str, plan: Plan, send: F)
where
    F: Fn(u64, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let started = Instant::now();
    let interval = plan
        .rate
        .map(|r| Duration::from_secs_f64(plan.concurrency as f64 / r));
    let mut workers = Vec::new();
    for w in 0..plan.concurrency {
        let (send, duration, conc) = (send.clone(), plan.duration, plan.concurrency);
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
            // Open loop: worker w's n-th request is due at start + (n + w/conc) * interval
            // (workers' phases spread evenly over one interval).
            let offset = interval.map(|i| i.mul_f64(w as f64 / conc as f64));
            loop {
                let due = match (interval, offset) {
                    (Some(i), Some(o)) => started + o + i * n as u32,
                    _ => Instant::now(),
                };
                if due.duration_since(started) >= duration {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                if send(w, n).await {
                    let at = due.duration_since(started).as_millis() as u64;
                    lat.push((due.elapsed().as_micros() as u64, at));
                } else {
                    errors += 1;
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let (mut timed, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (lat, e) = w.await.expect("worker");
        timed.extend(lat);
        errors += e;
    }
    if let Some(slow_ms) = std::env::var("SLOW_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        print_slow(&timed, slow_ms);
    }
    let mut all: Vec<u64> = timed.into_iter().map(|(lat, _)| lat).collect();
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let mode = match plan.rate {
        Some(r) => format!("open loop, {r:.0}/s offered"),
        None => "closed loop".to_string(),
    };
    println!(
        "{label}: {} ok, {errors} errors in {secs:.1} s = {:.0}/s at {} connections ({mode}); latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        all.len(),
        all.len() as f64 / secs,
        plan.concurrency,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}

/// `SLOW_MS`: when the requests slower than `slow_ms` were due, per 100 ms
/// of the run (a periodic stall shows as a few dense slots, a queue as
/// many thin ones).
fn print_slow(timed: &[(u64, u64)], slow_ms: u64) {
    let mut slots = std::collections::BTreeMap::new();
    for (lat, at) in timed {
        if *lat > slow_ms * 1000 {
            *slots.entry(at / 100).or_insert(0u64) += 1;
        }
    }
    let line: Vec<String> = slots
        .iter()
        .map(|(slot, n)| format!("{:.1}s:{n}", *slot as f64 / 10.0))
        .collect();
    println!("slower than {slow_ms} ms, by due time: {}", line.join(" "));
}

/// The `Stripe-Signature` header Stripe sends for `body` at `timestamp`
/// (`t=...,v1=` HMAC-SHA256 of `"{t}.{body}"`, as Stripe documents it),
/// written here rather than taken from opsbridge so the load generator does
/// not link the code it measures.
pub fn stripe_signature(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}
