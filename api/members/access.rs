//! `GET /api/members/access`: see `opsbridge::product`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::MEMBERS_ACCESS).await
}
