//! The list of Vercel functions: for each, its path, what it needs to start
//! and the router it serves. `api/*.rs` mains name an entry here; the local
//! server merges them all; a test checks this list matches `api/`.

use axum::Router;

use crate::config::Need;
use crate::state::App;

/// One Vercel function.
pub struct Function {
    /// Binary name (`[[bin]]` in Cargo.toml).
    pub name: &'static str,
    /// The source file under `api/`, which is also its Vercel path.
    pub file: &'static str,
    /// Secrets it cannot start without.
    pub needs: &'static [Need],
    /// Builds its router.
    pub router: fn(App) -> Router,
}

/// `GET /api/health`.
pub const HEALTH: Function = Function {
    name: "health",
    file: "api/health.rs",
    needs: &[],
    router: crate::health::router,
};

/// `POST /api/webhooks/stripe`.
pub const STRIPE_WEBHOOK: Function = Function {
    name: "webhooks-stripe",
    file: "api/webhooks/stripe.rs",
    needs: &[Need::StripeWebhook],
    router: crate::stripe::router,
};

/// `GET /api/cron/crm-sync` (the outbox sweep).
pub const CRM_SYNC: Function = Function {
    name: "cron-crm-sync",
    file: "api/cron/crm-sync.rs",
    needs: &[Need::Cron],
    router: crate::jobs::router,
};

/// `/api/admin/...` (API and console).
pub const ADMIN: Function = Function {
    name: "admin",
    file: "api/admin.rs",
    needs: &[Need::Admin],
    router: crate::admin::router,
};

/// `POST /api/support/intake` (public: rate limited, CORS allowlist).
pub const SUPPORT_INTAKE: Function = Function {
    name: "support-intake",
    file: "api/support/intake.rs",
    needs: &[],
    router: crate::support::router,
};

/// `POST /api/members/events` (the app's signups and leads in).
pub const MEMBERS_EVENTS: Function = Function {
    name: "members-events",
    file: "api/members/events.rs",
    needs: &[Need::AppApi],
    router: crate::product::events_router,
};

/// `GET /api/members/access` (the app's access answer).
pub const MEMBERS_ACCESS: Function = Function {
    name: "members-access",
    file: "api/members/access.rs",
    needs: &[Need::AppApi],
    router: crate::product::access_router,
};

/// `GET /api/cron/stripe-catchup` (recovers events the webhook lost).
pub const STRIPE_CATCHUP: Function = Function {
    name: "cron-stripe-catchup",
    file: "api/cron/stripe-catchup.rs",
    needs: &[Need::Cron],
    router: crate::catchup::router,
};

/// `POST /api/ai/draft` (admin token: draft a reply to a ticket).
pub const AI_DRAFT: Function = Function {
    name: "ai-draft",
    file: "api/ai/draft.rs",
    needs: &[Need::Admin],
    router: crate::ai::router,
};

/// `GET /api/cron/watchdog` (incident rules over the flows).
pub const WATCHDOG: Function = Function {
    name: "cron-watchdog",
    file: "api/cron/watchdog.rs",
    needs: &[Need::Cron],
    router: crate::watchdog::router,
};

/// Every function, in the order the local server mounts them.
pub const ALL: &[&Function] = &[
    &HEALTH,
    &STRIPE_WEBHOOK,
    &CRM_SYNC,
    &ADMIN,
    &SUPPORT_INTAKE,
    &MEMBERS_EVENTS,
    &MEMBERS_ACCESS,
    &STRIPE_CATCHUP,
    &AI_DRAFT,
    &WATCHDOG,
];

/// The merge of every function's router: what `scripts/dev` serves, so local
/// paths are exactly the Vercel paths.
pub fn all_routes(app: App) -> Router {
    ALL.iter()
        .fold(Router::new(), |r, f| r.merge((f.router)(app.clone())))
}
