//! The four rules, one file each, each with the same shape: its query as a
//! `pub const SQL` (so the plan tests and the benchmark explain exactly
//! what runs), `evaluate`, and a pure `decide` that turns what was read into
//! findings (unit-tested without stores).
//!
//! Every query reads an index over the window, never a large table:
//! - [`signature`]: Redis, one key per minute of the window.
//! - [`integration`]: `integration_requests_window`, per integration the
//!   newest success and the failures after it.
//! - [`provisioning`]: `jobs_paid_access_undelivered` (only undelivered
//!   paid changes are in it).
//! - [`backlog`]: `jobs_due`, the oldest due job of each kind.
//!
//! The three Postgres queries go in one read-only transaction, pipelined:
//! one round trip for all of them.

pub mod backlog;
pub mod integration;
pub mod provisioning;
pub mod signature;

use chrono::{DateTime, Utc};

use super::kind::Outcome;
use crate::db::Tx;
use crate::state::App;

/// Every rule's outcome, in [`super::Kind::ALL`] order.
pub async fn evaluate(app: &App, now: DateTime<Utc>) -> Vec<Outcome> {
    let postgres = async {
        let tx = Tx::new(app.db.get().await?);
        let read = tokio::try_join!(
            integration::evaluate(&tx, &app.config.watch, now),
            provisioning::evaluate(&tx, &app.config, now),
            backlog::evaluate(&tx, &app.config.watch, now),
        );
        match read {
            Ok(outcomes) => {
                tx.commit().await?;
                anyhow::Ok(outcomes)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    };
    let (sig, pg) = tokio::join!(signature::evaluate(app, now), postgres);
    let (integration, provisioning, backlog) = match pg {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "watchdog rules could not read Postgres");
            (
                Outcome::Unavailable,
                Outcome::Unavailable,
                Outcome::Unavailable,
            )
        }
    };
    vec![sig, integration, provisioning, backlog]
}
