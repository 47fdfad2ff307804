//! The CRM (HubSpot): the `crm_upsert` outbox adapter and the crm-sync cron.
//! A Stripe event becomes a CRM upsert like this: `stripe::ingest` saves the
//! member (`members::save`), which enqueues `crm_upsert`; `hubspot` sends it.

pub mod hubspot;
pub mod routes;

pub use hubspot::upsert_batch;
pub use routes::router;
