//! The local server (`scripts/dev`): every function on one port, crons included.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    opsbridge::dev::serve().await
}
