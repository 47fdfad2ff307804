//! HTTP load for `POST /api/support/intake` (run by `scripts/bench/intake.sh`
//! against `scripts/dev --release`): `CONCURRENCY` connections post unique
//! contacts (a new email per request, so every post creates a member, a
//! ticket and its outbox jobs in one transaction); closed loop, or open loop
//! at `RATE`/s (see `src/lib.rs`). Prints throughput and latency
//! percentiles of accepted (202) tickets; any other answer is an error.

use opsbridge_loadgen as load;

#[tokio::main]
async fn main() {
    let target = load::target();
    let plan = load::Plan::from_env();
    let url = format!("{target}/api/support/intake");
    let client = plan.client();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    load::run("intake load", plan, move |worker, n| {
        let (client, url) = (client.clone(), url.clone());
        let body = serde_json::json!({
            "email": format!("bench-{}-{worker}-{n}@example.com", &nonce[..8]),
            "name": "Bench",
            "subject": "Load test",
            "message": format!("Ticket {n}: where is my invoice?"),
            "source": "form",
        });
        async move {
            let res = client.post(&url).json(&body).send().await;
            matches!(res, Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED)
        }
    })
    .await;
}
