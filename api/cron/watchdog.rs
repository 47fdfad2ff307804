//! `GET /api/cron/watchdog` (Vercel cron): see `opsbridge::watchdog::routes`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::WATCHDOG).await
}
