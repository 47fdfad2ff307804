//! `GET /api/health`: per-dependency checks, each bounded in time, so the
//! answer comes fast even when a store hangs. No secrets in the body.

mod checks;
mod routes;

pub use checks::{run as run_checks, Check, Report};
pub use routes::router;
