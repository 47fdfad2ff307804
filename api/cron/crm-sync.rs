//! `GET /api/cron/crm-sync` (Vercel cron): see `opsbridge::crm::routes`.

#[tokio::main]
async fn main() -> Result<(), vercel_runtime::Error> {
    opsbridge::http::vercel::serve(&opsbridge::functions::CRM_SYNC).await
}
