//! HTTP load for `GET /api/members/access` (run by `scripts/bench/access.sh`
//! against `scripts/dev --release`): `CONCURRENCY` connections ask for one
//! seeded member (`USER_ID`) with the app's bearer token; closed loop, or
//! open loop at `RATE`/s (see `src/lib.rs`). Prints throughput and latency
//! percentiles.

use opsbridge_loadgen as load;

#[tokio::main]
async fn main() {
    let target = load::target();
    let token = std::env::var("APP_API_TOKEN").expect("APP_API_TOKEN");
    let user_id = std::env::var("USER_ID").expect("USER_ID (a seeded member)");
    let plan = load::Plan::from_env();
    let url = format!("{target}/api/members/access?user_id={user_id}");
    let client = plan.client();
    let auth = format!("Bearer {token}");
    load::run("access load", plan, move |_, _| {
        let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
        async move {
            let res = client.get(&url).header("authorization", auth).send().await;
            matches!(res, Ok(r) if r.status().is_success())
        }
    })
    .await;
}
