//! The CRM (HubSpot): the `crm_upsert` job kind's delivery. (The crm-sync
//! cron, which sweeps every kind, lives with the outbox: `jobs::routes`.)
//! A Stripe event becomes a CRM upsert like this (the crate map in `lib.rs`
//! has the whole path): `stripe::apply` prepares the member's change
//! (`members::change::prepare`), whose `Change::write` enqueues
//! `crm_upsert` in the ingest transaction; [`hubspot::upsert_batch`] sends it.

pub mod hubspot;

pub use hubspot::upsert_batch;
