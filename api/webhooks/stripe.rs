//! `POST /api/webhooks/stripe`: see `opsbridge::stripe`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::STRIPE_WEBHOOK).await
}
