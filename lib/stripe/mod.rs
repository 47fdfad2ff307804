//! Stripe: the webhook (`POST /api/webhooks/stripe`) and the ingest path it
//! shares with the catch-up cron.
//!
//! Flow: [`routes`] verifies the signature over the raw bytes and parses the
//! envelope ([`event`]) and what each type means ([`meaning`], extracted by
//! [`facts`]); [`writer`] gathers the events arriving together, from the
//! webhook and the catch-up alike (group commit), and [`batch`] claims and
//! writes each batch in one transaction with set-based statements, deciding
//! each event with [`apply::decide`]: a member change (which enqueues the
//! CRM upsert and app webhook) plus [`billing`] side effects (customer
//! emails, escalations). [`ingest`] stores one event alone (a batch's
//! merges, deleted customers and failed batches).

pub mod apply;
pub mod batch;
pub mod billing;
pub mod event;
pub mod facts;
pub mod ingest;
pub mod meaning;
pub mod routes;
pub mod writer;

pub use ingest::{IngestError, Ingested, Via};
pub use routes::router;
