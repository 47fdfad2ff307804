//! Support intake: every contact (form, portal, chat, inbound email) becomes
//! one ticket with the member's context, a deterministic priority and an
//! owner (`needs_human` or not), written with its outbox jobs in one
//! transaction and answered 202 before any third party is called.
//!
//! - [`routes`]: `POST /api/support/intake` (CORS, limits, the handler);
//!   [`error`]: its error enum.
//! - [`input`]: parsing and validation (JSON, form posts) into the newtypes
//!   of [`fields`];
//!   [`postmark`]: Postmark inbound email mapped to the same shape.
//! - [`rules`]: priority and routing, pure and table-tested.
//! - [`accept`]: the one transaction; [`store`]: the ticket SQL.
//! - [`idempotency`]: `Idempotency-Key`; [`limits`]: rate limits.
//! - [`auto_reply`]: automatic emails (out-of-office, bounces, list mail):
//!   kept, paging nobody.
//! - [`helpdesk`]: the `helpdesk_ticket` job adapter (Standard Webhooks).
//! - [`zendesk`]: what a contact becomes in Zendesk (the `zendesk_ticket`
//!   job, enqueued with the contact); [`zendesk_job`]: its delivery;
//!   [`zendesk_api`]: the Tickets API calls.
//! - [`admin`]: the admin tickets API (list, show, resolve).

pub mod accept;
pub mod admin;
pub mod auto_reply;
pub mod error;
pub mod fields;
pub mod helpdesk;
pub mod idempotency;
pub mod input;
pub mod limits;
pub mod postmark;
pub mod routes;
pub mod rules;
pub mod store;
pub mod zendesk;
pub mod zendesk_api;
pub mod zendesk_job;

#[cfg(test)]
mod input_tests;

pub use admin::admin_router;
pub use routes::router;
