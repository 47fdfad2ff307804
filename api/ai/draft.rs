//! `POST /api/ai/draft`: see `opsbridge::ai`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::AI_DRAFT).await
}
