//! The founder's own product (their app; named `product` so it never reads
//! as our `App` state), both directions:
//! - in: `POST /api/members/events` (signups, profile changes, leads):
//!   [`events`] parses; [`writer`] queues concurrent events into one
//!   transaction per batch ([`batch`]), each decided by [`decide`];
//!   [`ingest`] stores one alone (a failed batch's events, merges);
//! - out: `GET /api/members/access` ([`access`]) and the member webhooks
//!   ([`webhook`], Standard Webhooks signed, in `sequence` order per member);
//! - [`metrics`]: the business outcomes the admin API serves.

pub mod access;
pub mod batch;
pub mod decide;
pub mod events;
#[cfg(test)]
mod events_tests;
pub mod ingest;
pub mod metrics;
pub mod routes;
pub mod webhook;
pub mod writer;

pub use metrics::router as metrics_router;
pub use routes::{access_router, events_router};
pub use webhook::deliver;
