//! opsbridge: the shared library behind every Vercel function.
//!
//! # Crate map
//!
//! Every module, one line each (a test keeps this list complete).
//!
//! Foundations:
//! - [`config`]: the environment, read and checked once at cold start.
//! - [`secret`]: `Secret`, a string that never prints.
//! - [`state`]: `App`, what handlers share (pool, Redis, HTTP client, clock).
//! - [`db`]: Postgres: integration URLs, TLS, the pool and its one door
//!   (`Conn`, direct or through a transaction pooler), `Tx`, migrations.
//! - [`kv`]: Redis with short timeouts; never the source of truth.
//! - [`clock`]: injectable time (tests move a manual clock).
//! - [`telemetry`]: JSON log lines, email masking.
//! - [`http`]: error envelope, auth, background work, the tower-http stack
//!   and the ONE adapter to `vercel_runtime` ([`http::vercel`]).
//! - [`functions`]: the list of functions; `api/*.rs` are thin mains over it.
//! - [`signature`]: webhook signatures (Stripe in, Standard Webhooks in and out).
//! - [`dev`]: the local server behind `scripts/dev`, with the crons.
//!
//! Features (each with `router(app)` where it serves HTTP):
//! - [`stripe`]: the Stripe webhook and the ingest path the catch-up shares.
//! - [`catchup`]: the stripe-catchup cron (Stripe's Events API).
//! - [`members`]: the one source of truth about each person; every change
//!   enqueues its outbox jobs.
//! - [`product`]: the founder's own product (their app): `/api/members/*`
//!   in (group-committed like Stripe's events), signed member webhooks out.
//!   (`App` in [`state`] is our shared state.)
//! - [`support`]: support intake (form, Postmark, auto-replies kept quiet) and
//!   helpdesk delivery (Zendesk natively, or a signed webhook).
//! - [`ai`]: AI drafts behind approval.
//! - [`jobs`]: the outbox: enqueue, claim, retry, dead letters, the sweep and
//!   its cron (crm-sync); each kind's delivery lives with its feature and is
//!   registered in [`jobs::registry`].
//! - [`crm`]: HubSpot: the `crm_upsert` delivery.
//! - [`alerts`]: Slack alerts (escalations, dead letters).
//! - [`email`]: customer emails through Resend (fixed templates).
//! - [`flags`]: kill switches per integration.
//! - [`cronlog`]: the history of cron runs.
//! - [`health`]: `GET /api/health`.
//! - [`admin`]: the admin API and console.
//! - [`watchdog`]: incident rules over the flows (the watchdog cron), incidents
//!   and their Slack alerts.
//!
//! # Where a Stripe event becomes a CRM upsert
//!
//! `api/webhooks/stripe.rs` → [`stripe::routes`] (signature verified over
//! the raw bytes) → [`stripe::writer`] (group commit on
//! [`db::group_commit`]: the deliveries arriving together) →
//! [`stripe::batch`] (Redis claims, then one transaction for the batch) →
//! [`stripe::apply::decide`] per event → [`members::change::prepare`]
//! and [`members::change::write_all`], which enqueues each change's
//! `crm_upsert` through [`jobs::enqueue_many`] in that same transaction
//! ([`stripe::ingest`] is the same path for one event alone: a batch's
//! unusual events; the catch-up feeds the same writer) → after the answer,
//! [`jobs::run_now`] → [`jobs::dispatch::run`] → [`jobs::registry::delivery`]
//! → [`crm::hubspot::CrmUpsert`] → [`crm::sync::upsert_batch`] (one batch
//! update by contact id, one batch upsert by email). The crm-sync cron ([`jobs::sweep`]) retries
//! what failed.

pub mod admin;
pub mod ai;
pub mod alerts;
pub mod catchup;
pub mod clock;
pub mod config;
pub mod crm;
pub mod cronlog;
pub mod db;
pub mod dev;
pub mod email;
pub mod flags;
pub mod functions;
pub mod health;
pub mod http;
pub mod jobs;
pub mod kv;
pub mod members;
pub mod product;
pub mod secret;
pub mod signature;
pub mod state;
pub mod stripe;
pub mod support;
pub mod telemetry;
pub mod watchdog;

/// Every binary's allocator. Why mimalloc: under load a third of the
/// server's own (user) time was glibc's malloc and free; with mimalloc the
/// server took 56–68 µs of CPU per Stripe event against 65–72 µs (closed
/// loop, the two builds alternated, docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::{Config, Need};
pub use state::App;

#[cfg(test)]
mod crate_map_tests {
    /// Every `pub mod` of this file is named in the crate map above.
    #[test]
    fn the_crate_map_names_every_module() {
        let source = include_str!("lib.rs");
        let map: String = source
            .lines()
            .filter(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        let modules: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|l| l.trim_end_matches(';'))
            .collect();
        assert!(modules.len() > 20, "{modules:?}");
        for m in modules {
            assert!(
                map.contains(&format!("- [`{m}`]")),
                "`{m}` is missing from the crate map"
            );
        }
    }
}

#[cfg(test)]
mod table_owner_tests {
    use std::path::{Path, PathBuf};

    /// Each table and the one place (a module folder or file under `lib/`)
    /// whose SQL may write it; everyone else calls that module's functions.
    const OWNERS: &[(&str, &str)] = &[
        ("jobs", "lib/jobs/"),
        ("members", "lib/members/"),
        ("timeline", "lib/members/"),
        ("events", "lib/db/events.rs"),
        ("schema_migrations", "lib/db/migrate.rs"),
        ("tickets", "lib/support/"),
        ("ticket_messages", "lib/support/"),
        ("support_idempotency", "lib/support/"),
        ("ai_drafts", "lib/ai/"),
        ("access_deliveries", "lib/product/"),
        ("payment_failures", "lib/stripe/"),
        ("catchup_state", "lib/catchup/"),
        ("cron_runs", "lib/cronlog.rs"),
        ("feature_flags", "lib/flags.rs"),
        ("incidents", "lib/watchdog/"),
        ("integration_requests", "lib/watchdog/"),
    ];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The tables `text` writes: the word after INSERT INTO, UPDATE or DELETE FROM.
    fn written(text: &str) -> Vec<String> {
        let mut tables = Vec::new();
        for verb in ["INSERT INTO ", "UPDATE ", "DELETE FROM "] {
            for (at, _) in text.match_indices(verb) {
                let word: String = text[at + verb.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                tables.push(word);
            }
        }
        tables
    }

    #[test]
    fn every_table_is_written_only_by_its_owner() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // Every table the migrations create has an owner.
        let mut created = Vec::new();
        for entry in std::fs::read_dir(root.join("migrations")).unwrap() {
            let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for (at, _) in sql.match_indices("CREATE TABLE ") {
                let rest = sql[at + 13..].trim_start_matches("IF NOT EXISTS ");
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                created.push(name);
            }
        }
        for table in &created {
            assert!(
                OWNERS.iter().any(|(t, _)| t == table),
                "table `{table}` has no owner in OWNERS"
            );
        }
        let mut files = Vec::new();
        rust_files(&root.join("lib"), &mut files);
        for file in files {
            let rel = file
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&file).unwrap();
            for table in written(&text) {
                let Some((_, owner)) = OWNERS.iter().find(|(t, _)| *t == table) else {
                    continue; // not a table (prose)
                };
                assert!(
                    rel.starts_with(owner),
                    "{rel} writes `{table}`, which only {owner} may write"
                );
            }
        }
    }
}
