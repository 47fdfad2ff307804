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
//! - [`sweep`]: the sweep and `run_now`; [`dispatch`]: kind → adapter;
//!   [`webhook`]: a signed outbound webhook delivery (app, helpdesk).

pub mod dispatch;
pub mod enqueue;
pub mod kind;
pub mod manage;
pub mod outcome;
pub mod retry;
pub mod store;
pub mod sweep;
pub mod webhook;

pub use enqueue::{enqueue, enqueue_many, NewJob};
pub use kind::{JobKind, RetryPolicy};
pub use outcome::{JobError, Reason};
pub use store::Job;
pub use sweep::{run_now, sweep, SweepSummary};
