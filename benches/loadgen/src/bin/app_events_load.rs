//! HTTP load for `POST /api/members/events` (the founder's app telling
//! opsbridge about its users) against `scripts/dev --release`:
//! `CONCURRENCY` connections send unique `user.signed_up` events (a new
//! member, its event row and outbox jobs per request) with the app's bearer
//! token (`APP_API_TOKEN`); closed loop, or open loop at `RATE`/s (see
//! `src/lib.rs`). Prints throughput and latency percentiles of accepted
//! events; any other answer is an error.

use opsbridge_loadgen as load;

#[tokio::main]
async fn main() {
    let target = load::target();
    let token = std::env::var("APP_API_TOKEN").expect("APP_API_TOKEN");
    let plan = load::Plan::from_env();
    let url = format!("{target}/api/members/events");
    let client = plan.client();
    let auth = format!("Bearer {token}");
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    load::run("app events load", plan, move |worker, n| {
        let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
        let user = format!("load_{}_{worker}_{n}", &nonce[..8]);
        let body = serde_json::json!({
            "id": format!("evt_{user}"),
            "type": "user.signed_up",
            "user_id": user,
            "email": format!("{user}@example.com"),
        });
        async move {
            let res = client
                .post(&url)
                .header("authorization", auth)
                .json(&body)
                .send()
                .await;
            matches!(res, Ok(r) if r.status().is_success())
        }
    })
    .await;
}
