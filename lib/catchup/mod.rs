//! Catching up with Stripe: the `stripe-catchup` cron lists missed events
//! from Stripe's Events API and feeds each through the webhook's own ingest
//! path, so nothing the webhook lost stays lost and nothing is applied twice.
//!
//! - [`client`]: `GET /v1/events`, one page, failures classified.
//! - [`fetch`]: one time slice listed completely (pages newest first, then
//!   reversed); 429/5xx backed off within the budget.
//! - [`batch`]: a chunk ingested oldest first, per customer in order, and how
//!   far its stored prefix reaches; the dry run's missing count.
//! - [`cursor`]: the stored cursor and run state (`catchup_state`).
//! - [`run`]: the bounded run (cron: from the cursor; admin: a chosen range).
//! - [`stats`]: planner statistics refreshed when a large first catch-up
//!   made them stale.
//! - [`status`]: the health check and the once-a-day Slack alerts.
//! - [`stop`]: why a run stopped early.
//! - [`walk`]: slices listed and ingested in order, the cursor moved after
//!   each chunk.
//! - [`routes`]: the cron and admin endpoints.

pub mod batch;
pub mod client;
pub mod cursor;
pub mod fetch;
pub mod routes;
pub mod run;
pub mod stats;
pub mod status;
pub mod stop;
pub mod walk;

pub use routes::{admin_router, router};
pub use run::{catch_up, Summary};
pub use status::health_check;
