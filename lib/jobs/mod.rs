//! The outbox: side effects leave the system only through here.
//!
//! A business write and its jobs share one transaction ([`enqueue`]); right
//! after the response the new jobs run via `wait_until` ([`run_now`]); the
//! cron sweep ([`sweep`]) runs whatever is due, rescues expired leases, holds
//! the kinds whose integration is not configured or paused, prunes, and
//! retries with backoff until a job succeeds or goes `dead`.
//!
//! - [`kind`]: job kinds and their retry policies.
//! - [`store`]: the SQL (enqueue, claim, record, rescue, prune).
//! - [`outcome`]: how an attempt ended, classified where it happens.
//! - [`retry`]: backoff with full jitter, `Retry-After` honoured.
//! - [`delivery`]: the [`delivery::Delivery`] trait each kind's feature
//!   implements, and [`delivery::SweepHook`] for work a feature adds to
//!   every sweep; [`registry`]: kind → delivery, and the hooks.
//! - [`sweep`]: the sweep and `run_now`; [`dispatch`]: runs a batch through
//!   its delivery; [`manage`]: requeue, discard, cancel;
//!   [`routes`]: the crm-sync cron that runs the sweep;
//!   [`webhook`]: a signed outbound webhook delivery (app, helpdesk).

pub mod delivery;
pub mod dispatch;
pub mod enqueue;
pub mod kind;
pub mod manage;
pub mod outcome;
pub mod registry;
pub mod retry;
pub mod routes;
pub mod store;
pub mod sweep;
pub mod webhook;

pub use enqueue::{enqueue, enqueue_many, insert_new, NewJob};
pub use kind::{JobKind, RetryPolicy};
pub use outcome::{JobError, Reason};
pub use routes::router;
pub use store::Job;
pub use sweep::{run_now, sweep, SweepSummary};
