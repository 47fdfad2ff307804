//! Integration tests against real Postgres and Redis (started by
//! `scripts/test`, which exports `TEST_DATABASE_URL` and `TEST_REDIS_URL`).
//! Each test gets its own Postgres schema and Redis key prefix, so tests run
//! in parallel without seeing each other.

mod admin_console;
mod admin_jobs;
mod ai_draft;
mod app_members;
mod crm_contacts;
mod db_tx;
mod fake_hubspot;
mod fake_stripe;
mod fixtures;
mod foundation;
mod fresh_plans;
mod health;
mod helpers;
mod instances;
mod outbox;
mod stores;
mod stripe_catchup;
mod stripe_ordering;
mod stripe_webhook;
mod support_intake;
mod watchdog;
mod zendesk;
