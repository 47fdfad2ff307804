//! `GET /api/health`: see `opsbridge::health`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::HEALTH).await
}
