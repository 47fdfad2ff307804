//! Configuration, loaded once per instance from the environment.
//!
//! Every function names what it needs ([`Need`]); loading checks all of it at
//! once and fails with ONE error listing every missing or invalid variable,
//! so a broken deploy is fixed in one round trip, not one variable at a time.
//! Integrations (HubSpot, OpenAI, Resend, ...) are optional: absent means
//! *not configured* and their jobs wait as `held`.

mod env;
mod load;
mod read;
mod watch;
mod zendesk;

pub use env::{redis_prefix, DeployEnv};
pub use load::{ConfigError, Problem};
pub use watch::WatchSettings;
pub use zendesk::Zendesk;

use crate::secret::Secret;

/// What a function cannot start without (beyond Postgres and Redis, which every
/// function needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `STRIPE_WEBHOOK_SECRET`.
    StripeWebhook,
    /// `CRON_SECRET`.
    Cron,
    /// `ADMIN_TOKEN`.
    Admin,
    /// `APP_API_TOKEN`.
    AppApi,
}

impl Need {
    /// Everything: what the local server, which serves every function, needs.
    pub const ALL: &'static [Need] = &[Need::StripeWebhook, Need::Cron, Need::Admin, Need::AppApi];
}

/// `DATABASE_POOLER`: how statements reach Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooler {
    /// Transaction mode when the URL says so (port 6543, a host containing
    /// `pooler`, `pgbouncer=true`), else direct.
    Auto,
    /// Through a transaction-mode pooler (PgBouncer, Supavisor).
    Transaction,
    /// A direct connection (prepared-statement cache).
    None,
}

impl Pooler {
    /// Parses `DATABASE_POOLER`; `None` for an unknown value.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "transaction" => Some(Self::Transaction),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// HubSpot (CRM) settings.
#[derive(Debug, Clone)]
pub struct HubSpot {
    /// Private-app access token.
    pub token: Secret,
    /// API base, `https://api.hubapi.com` unless overridden for tests.
    pub base_url: String,
    /// Request timeout (`HUBSPOT_TIMEOUT_MS`, default 10 000).
    pub timeout_ms: u64,
    /// Our own limit per 10-second window (`HUBSPOT_REQUESTS_PER_10S`, default 190).
    pub requests_per_10s: i64,
}

/// OpenAI settings.
#[derive(Debug, Clone)]
pub struct OpenAi {
    /// API key.
    pub api_key: Secret,
    /// API base, `https://api.openai.com/v1` unless overridden.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// Request timeout (`OPENAI_TIMEOUT_MS`, default 20 000).
    pub timeout_ms: u64,
}

/// AI draft budgets and guardrail settings (used when OpenAI is configured).
#[derive(Debug, Clone)]
pub struct AiSettings {
    /// Hosts a draft's links may point to, subdomains included
    /// (`AI_LINK_ALLOWLIST`, comma-separated; default none: every link needs a person).
    pub link_allowlist: Vec<String>,
    /// Model calls per member per UTC day (`AI_DAILY_REQUESTS_PER_MEMBER`, default 20).
    pub daily_requests_per_member: i64,
    /// Estimated tokens per member per UTC day (`AI_DAILY_TOKENS_PER_MEMBER`, default 50 000).
    pub daily_tokens_per_member: i64,
    /// Model calls per UTC day in total (`AI_DAILY_REQUESTS`, default 2 000).
    pub daily_requests: i64,
    /// Estimated tokens per UTC day in total (`AI_DAILY_TOKENS`, default 2 000 000).
    pub daily_tokens: i64,
    /// Ticket tags the intake never drafts for (`AI_SKIP_TAGS`, default
    /// `dispute,security,legal`).
    pub skip_tags: Vec<String>,
}

impl Default for AiSettings {
    fn default() -> Self {
        Self {
            link_allowlist: Vec::new(),
            daily_requests_per_member: 20,
            daily_tokens_per_member: 50_000,
            daily_requests: 2_000,
            daily_tokens: 2_000_000,
            skip_tags: vec!["dispute".into(), "security".into(), "legal".into()],
        }
    }
}

/// Resend (customer email) settings.
#[derive(Debug, Clone)]
pub struct Resend {
    /// API key.
    pub api_key: Secret,
    /// API base, `https://api.resend.com` unless overridden.
    pub base_url: String,
    /// The `from` address of follow-up emails.
    pub from: String,
}

/// An outbound webhook signed with Standard Webhooks.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// Where to POST.
    pub url: String,
    /// `whsec_` base64 signing key.
    pub secret: Secret,
}

/// HTTP basic-auth credentials an inbound webhook sender presents.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
}

/// Stripe API access for the catch-up cron.
#[derive(Debug, Clone)]
pub struct StripeApi {
    /// Secret or restricted key (read access to Events is enough).
    pub key: Secret,
    /// API base, `https://api.stripe.com` unless overridden.
    pub base_url: String,
}

/// The whole configuration of one instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// Postgres connection URL (`DATABASE_URL` or `POSTGRES_URL`).
    pub database_url: Secret,
    /// Direct Postgres URL for migrations (`DATABASE_URL_UNPOOLED` or
    /// `POSTGRES_URL_NON_POOLING`), if set.
    pub database_url_unpooled: Option<Secret>,
    /// How statements reach Postgres (`DATABASE_POOLER`, default `auto`).
    pub database_pooler: Pooler,
    /// PEM roots for `verify-ca`/`verify-full` (`DATABASE_CA_CERT`).
    pub database_ca_cert: Option<Secret>,
    /// Redis connection URL (`REDIS_URL` or `KV_URL`).
    pub redis_url: Secret,
    /// PEM roots for `rediss://` (`REDIS_CA_CERT`), instead of the system's.
    pub redis_ca_cert: Option<Secret>,
    /// Prefix for every Redis key: isolates previews per branch.
    pub redis_prefix: String,
    /// Production, preview or development (`VERCEL_ENV`).
    pub deploy_env: DeployEnv,
    /// Git branch of this deployment (`VERCEL_GIT_COMMIT_REF`), if known.
    pub git_ref: Option<String>,
    /// Run migrations at cold start (`MIGRATE_ON_START`, default true).
    pub migrate_on_start: bool,
    /// Postgres pool size per instance (`DB_POOL_SIZE`, default 4).
    pub db_pool_size: usize,
    /// Stripe endpoint secrets, several during a rotation.
    pub stripe_webhook_secrets: Vec<Secret>,
    /// How old a Stripe signature timestamp may be, in seconds.
    pub stripe_webhook_tolerance_secs: u64,
    /// Stripe API access (catch-up), if configured.
    pub stripe_api: Option<StripeApi>,
    /// How far the first Stripe catch-up looks back, in hours
    /// (`STRIPE_CATCHUP_LOOKBACK_HOURS`, default 72; at most 720, Stripe's 30 days).
    pub stripe_catchup_lookback_hours: i64,
    /// Bearer secret Vercel cron sends.
    pub cron_secret: Option<Secret>,
    /// Bearer token of the admin API and page.
    pub admin_token: Option<Secret>,
    /// Bearer token of the founder's app.
    pub app_api_token: Option<Secret>,
    /// Outbound member webhooks to the founder's app.
    pub app_webhook: Option<SignedWebhook>,
    /// Days of `grace` access after a failed payment.
    pub past_due_grace_days: i64,
    /// CRM.
    pub hubspot: Option<HubSpot>,
    /// AI drafts.
    pub openai: Option<OpenAi>,
    /// AI draft budgets and guardrail settings.
    pub ai: AiSettings,
    /// Customer emails.
    pub resend: Option<Resend>,
    /// Outbound helpdesk ticket webhook.
    pub helpdesk: Option<SignedWebhook>,
    /// Zendesk tickets (all three variables, or none).
    pub zendesk: Option<Zendesk>,
    /// Slack incoming webhook for alerts.
    pub slack_webhook_url: Option<Secret>,
    /// Origins allowed to post the support form.
    pub support_allowed_origins: Vec<String>,
    /// Basic auth of the inbound email webhook (`SUPPORT_INBOUND_USER`,
    /// `SUPPORT_INBOUND_PASSWORD`); absent: that provider is refused.
    pub support_inbound: Option<BasicAuth>,
    /// Support intake posts per client IP per 10 minutes
    /// (`SUPPORT_RATE_LIMIT_PER_IP`, default 10).
    pub support_rate_limit_per_ip: i64,
    /// Support intake posts per email per hour
    /// (`SUPPORT_RATE_LIMIT_PER_EMAIL`, default 5).
    pub support_rate_limit_per_email: i64,
    /// The watchdog's window and thresholds (`WATCH_*`).
    pub watch: WatchSettings,
}

impl Config {
    /// Loads from the process environment; empty values count as absent.
    pub fn from_env(needs: &[Need]) -> Result<Self, ConfigError> {
        Self::from_lookup(
            |k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()),
            needs,
        )
    }

    /// Loads from any variable source (tests pass a map).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        needs: &[Need],
    ) -> Result<Self, ConfigError> {
        load::load(&lookup, needs)
    }

    /// Names of the integrations and whether each is configured (for health).
    pub fn integrations(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("hubspot", self.hubspot.is_some()),
            ("openai", self.openai.is_some()),
            ("resend", self.resend.is_some()),
            ("helpdesk", self.helpdesk.is_some()),
            ("zendesk", self.zendesk.is_some()),
            ("slack", self.slack_webhook_url.is_some()),
            ("app_webhook", self.app_webhook.is_some()),
            ("stripe_api", self.stripe_api.is_some()),
        ]
    }
}

#[cfg(test)]
mod tests;
