//! opsbridge: the shared library behind every Vercel function.
//!
//! Crate map:
//! - [`config`], [`secret`]: the environment, validated at cold start.
//! - [`state`]: `App`, what handlers share (pool, Redis, HTTP client, clock).
//! - [`db`] (Postgres pool, migrations), [`kv`] (Redis with short timeouts).
//! - [`http`]: error envelope, auth, background work, the tower-http stack and
//!   the ONE adapter to `vercel_runtime` ([`http::vercel`]).
//! - [`functions`]: the list of functions; `api/*.rs` are thin mains over it.
//! - Features, one module each with `router(app)`: [`health`], [`stripe`],
//!   [`crm`], [`support`], [`app`], [`catchup`], [`ai`], [`admin`].
//! - [`dev`]: the local server's crons (`scripts/dev`).
//! - [`telemetry`]: JSON logs, email masking; [`clock`]: injectable time.
//! - [`signature`]: webhook signatures (Stripe in, Standard Webhooks in and out).

pub mod admin;
pub mod ai;
pub mod alerts;
pub mod app;
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
pub mod secret;
pub mod signature;
pub mod state;
pub mod stripe;
pub mod support;
pub mod telemetry;

pub use config::{Config, Need};
pub use state::App;
