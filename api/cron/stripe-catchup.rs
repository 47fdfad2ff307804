//! `GET /api/cron/stripe-catchup` (Vercel cron): see `opsbridge::catchup`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::STRIPE_CATCHUP).await
}
