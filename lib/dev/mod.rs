//! The local server behind `scripts/dev`: every function's router on one
//! port (local paths are exactly the Vercel paths), plus the `vercel.json`
//! crons run on their schedule with the header Vercel sends. Vercel never
//! runs crons outside production; locally they run so the pipeline drains.

pub mod crons;

use std::net::SocketAddr;

use anyhow::Context;

use crate::config::Need;
use crate::state::App;

/// Serves every function on `127.0.0.1:$PORT` (default 3000) until Ctrl-C
/// or SIGTERM. Crons run unless `DEV_CRONS=off`.
pub async fn serve() -> anyhow::Result<()> {
    crate::telemetry::init();
    let app = App::from_env(Need::ALL).await?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse().context("PORT is not a port number"))
        .transpose()?
        .unwrap_or(3000);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("Failed to listen on {addr}"))?;
    let router = crate::http::finish(crate::functions::all_routes(app.clone()));
    if std::env::var("DEV_CRONS").as_deref() != Ok("off") {
        let entries = crons::from_vercel_json(crons::VERCEL_JSON)?;
        let secret = app.config.cron_secret.clone();
        tokio::spawn(crons::run(entries, format!("http://{addr}"), secret));
    }
    tracing::info!(%addr, "opsbridge local server listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
        .context("server failed")
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
