//! `/api/admin/...`: see `opsbridge::admin`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::ADMIN).await
}
