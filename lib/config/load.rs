//! Reads every variable, collecting all problems before failing.

use std::fmt;

use super::read::{
    read_ai, read_basic_auth, read_integrations, read_pem, read_postgres_url, read_signed_webhook,
    read_stripe_api, read_stripe_secrets, Reader,
};
use super::{redis_prefix, Config, DeployEnv, Need, Pooler};
use crate::secret::Secret;

/// One thing wrong with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable (or variables, for a contradiction).
    pub variable: String,
    /// What is wrong, never the value itself.
    pub reason: String,
}

/// Everything wrong with the configuration, reported at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// The names of the variables with problems.
    pub fn variables(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.variable.as_str()).collect()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration invalid ({} problems): ",
            self.problems.len()
        )?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.variable, p.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

pub(super) fn load(
    lookup: &dyn Fn(&str) -> Option<String>,
    needs: &[Need],
) -> Result<Config, ConfigError> {
    let mut r = Reader {
        lookup,
        problems: Vec::new(),
    };
    let database_url = r.required(&["DATABASE_URL", "POSTGRES_URL"]);
    let redis_url = r.required(&["REDIS_URL", "KV_URL"]);
    read_postgres_url(&mut r, &["DATABASE_URL", "POSTGRES_URL"]);
    let database_url_unpooled = read_postgres_url(
        &mut r,
        &["DATABASE_URL_UNPOOLED", "POSTGRES_URL_NON_POOLING"],
    );
    let database_pooler = match r.get("DATABASE_POOLER") {
        None => Pooler::Auto,
        Some(v) => Pooler::parse(&v).unwrap_or_else(|| {
            r.problem("DATABASE_POOLER", "must be auto, transaction or none");
            Pooler::Auto
        }),
    };
    let database_ca_cert = read_pem(&mut r, "DATABASE_CA_CERT");
    let redis_ca_cert = read_pem(&mut r, "REDIS_CA_CERT");
    if let Some(u) = &redis_url {
        if redis::Client::open(u.as_str()).is_err() {
            let name = if r.get("REDIS_URL").is_some() {
                "REDIS_URL"
            } else {
                "KV_URL"
            };
            r.problem(name, "not a valid redis:// or rediss:// URL");
        }
    }
    let vercel_env = r.get("VERCEL_ENV");
    let deploy_env = DeployEnv::parse(vercel_env.as_deref()).unwrap_or_else(|| {
        r.problem("VERCEL_ENV", "must be production, preview or development");
        DeployEnv::Development
    });
    let git_ref = r.get("VERCEL_GIT_COMMIT_REF");
    let redis_prefix = r
        .get("REDIS_KEY_PREFIX")
        .unwrap_or_else(|| redis_prefix(deploy_env, git_ref.as_deref()));

    let stripe_webhook_secrets = read_stripe_secrets(&mut r, needs.contains(&Need::StripeWebhook));
    let stripe_api = read_stripe_api(&mut r, deploy_env);
    let cron_secret = r.secret("CRON_SECRET", needs.contains(&Need::Cron));
    let admin_token = r.secret("ADMIN_TOKEN", needs.contains(&Need::Admin));
    let app_api_token = r.secret("APP_API_TOKEN", needs.contains(&Need::AppApi));
    let app_webhook = read_signed_webhook(&mut r, "APP_WEBHOOK_URL", "APP_WEBHOOK_SECRET");
    let helpdesk = read_signed_webhook(&mut r, "HELPDESK_WEBHOOK_URL", "HELPDESK_WEBHOOK_SECRET");
    let integrations = read_integrations(&mut r);
    let zendesk = super::zendesk::read_zendesk(&mut r);
    let slack_webhook_url = r.url("SLACK_WEBHOOK_URL", None).map(Secret::new);

    let config = Config {
        database_url: Secret::new(database_url.unwrap_or_default()),
        database_url_unpooled,
        database_pooler,
        database_ca_cert,
        redis_url: Secret::new(redis_url.unwrap_or_default()),
        redis_ca_cert,
        redis_prefix,
        deploy_env,
        git_ref,
        migrate_on_start: r.get("MIGRATE_ON_START").as_deref() != Some("false"),
        db_pool_size: r.number("DB_POOL_SIZE", 4usize).clamp(1, 64),
        stripe_webhook_secrets,
        stripe_webhook_tolerance_secs: r.number("STRIPE_WEBHOOK_TOLERANCE_SECS", 300u64),
        stripe_api,
        stripe_catchup_lookback_hours: r
            .number("STRIPE_CATCHUP_LOOKBACK_HOURS", 72i64)
            .clamp(1, 720),
        cron_secret,
        admin_token,
        app_api_token,
        app_webhook,
        past_due_grace_days: r.number("PAST_DUE_GRACE_DAYS", 3i64).clamp(0, 60),
        hubspot: integrations.0,
        openai: integrations.1,
        ai: read_ai(&mut r),
        resend: integrations.2,
        helpdesk,
        zendesk,
        slack_webhook_url,
        support_allowed_origins: r
            .get("SUPPORT_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        support_inbound: read_basic_auth(
            &mut r,
            "SUPPORT_INBOUND_USER",
            "SUPPORT_INBOUND_PASSWORD",
        ),
        support_rate_limit_per_ip: r
            .number("SUPPORT_RATE_LIMIT_PER_IP", 10i64)
            .clamp(1, 1_000_000),
        support_rate_limit_per_email: r
            .number("SUPPORT_RATE_LIMIT_PER_EMAIL", 5i64)
            .clamp(1, 1_000_000),
        watch: super::watch::read_watch(&mut r),
    };
    if r.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            problems: r.problems,
        })
    }
}
