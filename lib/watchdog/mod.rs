//! The watchdog: hear about a broken flow before a customer does.
//!
//! `GET /api/cron/watchdog` (every minute) evaluates four rules over the
//! last `WATCH_WINDOW_MINUTES`; an incident opens once per (kind, key) with
//! ONE Slack alert, stays open silently while the rule holds, and resolves
//! at the first run after it stops holding, with ONE more alert. Both alerts
//! go through the outbox (`slack_alert`), so the Slack kill switch holds
//! them and nothing is lost.
//!
//! What the rules count is recorded where it is cheap:
//! - [`signals`]: Stripe signature failures per minute and the last
//!   verified delivery, in Redis (next to the overview's hourly counter; a
//!   flood of forged requests never reaches Postgres).
//! - [`requests`]: one `integration_requests` row per request an outbox
//!   batch made, written with the batch's results (pruned by the sweep).
//! - paid changes and their app delivery: the `app_webhook` job rows
//!   themselves, through a partial index of the undelivered ones
//!   (migration 0011).
//!
//! - [`kind`]: incident kinds and what a rule reports.
//! - [`rules`]: the four rules, one file each, each query on an index.
//! - [`store`]: the `incidents` SQL; [`alert`]: the Slack texts.
//! - [`run`]: one run (evaluate, open, resolve).
//! - [`routes`]: the cron and `GET /api/admin/incidents`.
//! - [`status`]: `checks.incidents` for health and the overview's list.

pub mod alert;
pub mod kind;
pub mod requests;
pub mod routes;
pub mod rules;
pub mod run;
pub mod signals;
pub mod status;
pub mod store;

pub use kind::Kind;
pub use requests::record as record_requests;
pub use routes::{admin_router, router};
pub use run::{run, Summary};
pub use status::{health_check, open_for_overview};
