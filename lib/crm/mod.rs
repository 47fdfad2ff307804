//! The CRM (HubSpot): the `crm_upsert` outbox adapter and the crm-sync cron.
//! A Stripe event becomes a CRM upsert like this (the crate map in `lib.rs`
//! has the whole path): `stripe::apply` prepares the member's change
//! (`members::change::prepare`), whose `Change::write` enqueues
//! `crm_upsert` in the ingest transaction; [`hubspot::upsert_batch`] sends it.

pub mod hubspot;
pub mod routes;

pub use hubspot::upsert_batch;
pub use routes::router;
