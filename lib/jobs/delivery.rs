//! [`Delivery`]: how one job kind leaves the system. Each feature implements
//! it next to its upstream client (`crm`, `app`, `email`, `alerts`,
//! `support`, `ai`) and [`super::registry`] maps each kind to its delivery,
//! so the outbox runs, retries and dead-letters jobs without knowing any
//! feature.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use super::{Job, JobError};
use crate::db::Tx;
use crate::state::App;

/// Jobs of one batch run at once at most, when a kind delivers one by one.
pub const CONCURRENCY: usize = 8;

/// One job kind's way out. Futures are boxed so the registry can hold every
/// kind behind one `&dyn Delivery` and the sweep stays `Send`.
pub trait Delivery: Sync {
    /// Delivers one job; the error is classified where it happens
    /// (retryable, permanent, parked).
    fn deliver<'a>(&'a self, app: &'a App, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>>;

    /// Delivers a claimed batch of this kind; one result per job, in order.
    /// By default one job at a time (up to [`CONCURRENCY`] at once); a kind
    /// whose upstream takes batches (HubSpot) overrides it.
    fn deliver_batch<'a>(
        &'a self,
        app: &'a App,
        jobs: &'a [Job],
    ) -> BoxFuture<'a, Vec<Result<(), JobError>>> {
        Box::pin(
            stream::iter(jobs.iter().map(|job| self.deliver(app, job)))
                .buffered(CONCURRENCY)
                .collect(),
        )
    }

    /// Extra effects of one of its jobs going dead, in the transaction that
    /// records the death (e.g. a ticket goes to a person). None by default.
    fn on_dead<'a>(
        &'a self,
        _tx: &'a Tx,
        _job: &'a Job,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Work a feature adds to every sweep (reconciliation, pruning its own
/// tables), registered in [`super::registry`]: a name for the logs and the
/// work, which returns how many rows or jobs it touched.
pub struct SweepHook {
    /// A name for the logs.
    pub name: &'static str,
    /// Runs once per sweep.
    pub run: for<'a> fn(&'a App, DateTime<Utc>) -> BoxFuture<'a, anyhow::Result<u64>>,
}

/// Implements [`Delivery`] for the unit struct `$name` with the feature's
/// `async fn $deliver(&App, &Job) -> Result<(), JobError>`, delivering one
/// job at a time (the trait's default batch).
#[macro_export]
macro_rules! one_job_at_a_time {
    ($(#[$doc:meta])* $name:ident, $deliver:path) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::jobs::delivery::Delivery for $name {
            fn deliver<'a>(
                &'a self,
                app: &'a $crate::state::App,
                job: &'a $crate::jobs::Job,
            ) -> futures::future::BoxFuture<'a, Result<(), $crate::jobs::JobError>> {
                Box::pin($deliver(app, job))
            }
        }
    };
}
