//! `POST /api/support/intake`: see `opsbridge::support`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::SUPPORT_INTAKE).await
}
