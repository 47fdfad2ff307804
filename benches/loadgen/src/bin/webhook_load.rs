//! HTTP load for `POST /api/webhooks/stripe` (run by `scripts/bench/webhook.sh`
//! against `scripts/dev --release`): `CONCURRENCY` connections send unique,
//! correctly signed `checkout.session.completed` events (each creates a
//! member and its outbox jobs); closed loop, or open loop at `RATE`/s (see
//! `src/lib.rs`). Prints throughput and latency percentiles. `TARGET`
//! (`http://127.0.0.1:3000`) and `WEBHOOK_PATH` (`/api/webhooks/stripe`) say
//! where: the same load drives opsbridge and the Node reference
//! (`benches/node-reference`).

use opsbridge_loadgen as load;

use serde_json::json;

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
    let target = load::target();
    let secret = std::env::var("STRIPE_WEBHOOK_SECRET").expect("STRIPE_WEBHOOK_SECRET");
    let plan = load::Plan::from_env();
    let url = format!(
        "{target}{}",
        load::env_or("WEBHOOK_PATH", "/api/webhooks/stripe")
    );
    let client = plan.client();
    load::run("webhook load", plan, move |worker, n| {
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        async move {
            let now = chrono::Utc::now().timestamp();
            let body = event(n, worker, now);
            let sig = load::stripe_signature(&body, &secret, now);
            let res = client
                .post(&url)
                .header("stripe-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            matches!(res, Ok(r) if r.status().is_success())
        }
    })
    .await;
}
