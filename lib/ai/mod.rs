//! AI drafts: the model drafts, deterministic rules decide, people approve.
//! Nothing here sends anything to a customer, and model output is data: it
//! never changes member state, priority, access, billing or ownership.
//!
//! - [`prompt`] + [`redact`]: the input, built only from approved fields.
//! - [`openai`]: the Chat Completions call (Structured Outputs);
//!   [`schema`]: the strict output contract and its parser.
//! - [`guard`]: the guardrails (`pending_approval` or `ready`), reading
//!   normalised text against meaning families kept as data.
//! - [`budget`]: daily per-member and global budgets in Redis.
//! - [`job`]: the `ai_draft` outbox job and the intake hook;
//!   [`store`]: the drafts SQL.
//! - [`routes`]: `POST /api/ai/draft`; [`admin`] + [`review`]: the admin
//!   drafts API.

pub mod admin;
pub mod budget;
pub mod guard;
pub mod job;
pub mod openai;
pub mod prompt;
pub mod redact;
pub mod review;
pub mod routes;
pub mod schema;
pub mod store;

pub use admin::admin_router;
pub use job::{draft, enqueue_for_ticket, on_dead};
pub use routes::router;
