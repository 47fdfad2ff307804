//! The CRM (HubSpot): the `crm_upsert` job kind's delivery. (The crm-sync
//! cron, which sweeps every kind, lives with the outbox: `jobs::routes`.)
//! A Stripe event becomes a CRM upsert like this (the crate map in `lib.rs`
//! has the whole path): `stripe::apply` prepares the member's change
//! (`members::change::prepare`), whose `Change::write` enqueues
//! `crm_upsert` in the ingest transaction; [`sync::upsert_batch`] sends it.

//!
//! - [`hubspot`]: a member as a HubSpot contact; the `crm_upsert` delivery.
//! - [`sync`]: which request each member needs (one contact per person).
//! - `merges`: contacts owed a merge, and an address another contact holds.
//! - [`api`]: HubSpot's contacts API, each request limited and classified.

pub mod api;
pub mod hubspot;
mod merges;
pub mod sync;

pub use sync::upsert_batch;
