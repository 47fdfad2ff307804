//! `scripts/migrate`: applies pending migrations to `DATABASE_URL`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = opsbridge::Config::from_env(&[])?;
    let pool = opsbridge::db::connect(&config)?;
    let applied = opsbridge::db::migrate::run(&pool).await?;
    if applied.is_empty() {
        println!("migrations: up to date");
    } else {
        println!("migrations applied: {}", applied.join(", "));
    }
    Ok(())
}
