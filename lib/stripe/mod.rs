//! Stripe: the webhook (`POST /api/webhooks/stripe`) and the ingest path it
//! shares with the catch-up cron.
//!
//! Flow: [`routes`] verifies the signature over the raw bytes, parses the
//! envelope ([`event`]) and what each type means ([`meaning`], extracted by
//! [`facts`]), then [`ingest`] claims and stores it, and [`apply`] turns it
//! into a member change (which enqueues the CRM upsert and app webhook) plus
//! [`billing`] side effects (customer emails, escalations). The webhook
//! stores concurrent events together: [`writer`] forms the batches (group
//! commit), [`batch`] writes each in one transaction with set-based
//! statements, deciding each event with the same [`apply::decide`].

pub mod apply;
pub mod batch;
pub mod billing;
pub mod event;
pub mod facts;
pub mod ingest;
pub mod meaning;
pub mod routes;
pub mod writer;

pub use ingest::{ingest, IngestError, Ingested, Via};
pub use routes::router;
