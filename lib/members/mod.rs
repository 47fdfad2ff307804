//! Members: the one source of truth about each person (state, plan, access,
//! identities). Stripe, the CRM, the helpdesk and the app are synced FROM
//! here, never read as truth.
//!
//! - [`state`]: states and the access rules (pure, table-tested).
//! - [`store`]: the members table and the timeline.
//! - [`link`]: which member an inbound fact belongs to; merges.
//! - [`synced`]: the CRM and helpdesk bookkeeping on members.
//! - [`change`]: saving a member and enqueueing its exported change.
//! - [`hooks`]: what the sweep does for members (CRM reconciliation, grace
//!   expiry).

pub mod change;
pub mod hooks;
pub mod link;
pub mod state;
pub mod store;
pub mod synced;

pub use change::save;
pub use hooks::sweep_hooks;
pub use link::{resolve, Identity, Resolved};
pub use state::{access, legal, Access, AccessLevel, MemberState};
pub use store::Member;
