//! Stripe: the webhook (`POST /api/webhooks/stripe`) and the ingest path it
//! shares with the catch-up cron.
//!
//! Flow: [`routes`] verifies the signature over the raw bytes, parses the
//! envelope ([`event`]) and what each type means ([`meaning`], extracted by
//! [`facts`]), then [`ingest`] claims and stores it, and [`apply`] turns it
//! into a member change (which enqueues the CRM upsert and app webhook) plus
//! [`billing`] side effects (customer emails, escalations).

pub mod apply;
pub mod billing;
pub mod event;
pub mod facts;
pub mod ingest;
pub mod meaning;
pub mod routes;

pub use ingest::{ingest, IngestError, Ingested, Via};
pub use routes::router;
