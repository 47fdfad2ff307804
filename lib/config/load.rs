//! Reads every variable, collecting all problems before failing.

use std::fmt;

use super::{
    redis_prefix, AiSettings, BasicAuth, Config, DeployEnv, HubSpot, Need, OpenAi, Resend,
    SignedWebhook, StripeApi,
};
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

/// Collects problems while reading variables.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn problem(&mut self, variable: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            variable: variable.to_string(),
            reason: reason.into(),
        });
    }

    /// The first set of several aliases; a problem naming all when none is.
    fn required(&mut self, names: &[&str]) -> Option<String> {
        let found = names.iter().find_map(|n| self.get(n));
        if found.is_none() {
            self.problem(&names.join(" or "), "missing");
        }
        found
    }

    fn url(&mut self, name: &str, default: Option<&str>) -> Option<String> {
        let value = self.get(name).or_else(|| default.map(str::to_string))?;
        match reqwest::Url::parse(&value) {
            Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {
                Some(value.trim_end_matches('/').to_string())
            }
            _ => {
                self.problem(name, "not an http(s) URL");
                None
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problem(name, "not a whole number");
                default
            }),
        }
    }

    fn secret(&mut self, name: &str, needed: bool) -> Option<Secret> {
        match self.get(name) {
            Some(v) => Some(Secret::new(v)),
            None if needed => {
                self.problem(name, "missing");
                None
            }
            None => None,
        }
    }

    fn whsec(&mut self, name: &str, value: Option<Secret>) -> Option<Secret> {
        let v = value?;
        if crate::signature::standard::StandardSigner::new(&v).is_ok() {
            Some(v)
        } else {
            self.problem(name, "must be whsec_ followed by base64");
            None
        }
    }

    /// An integration made of a credential and settings: both or neither.
    fn pair(&mut self, key: &str, other: &str, key_set: bool, other_set: bool) {
        if key_set != other_set {
            let (set, unset) = if key_set { (key, other) } else { (other, key) };
            self.problem(unset, format!("missing while {set} is set"));
        }
    }
}

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
    if let Some(u) = &database_url {
        if u.parse::<tokio_postgres::Config>().is_err() {
            r.problem("DATABASE_URL", "not a valid Postgres URL");
        }
    }
    if let Some(u) = &redis_url {
        if redis::Client::open(u.as_str()).is_err() {
            r.problem("REDIS_URL", "not a valid redis:// or rediss:// URL");
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
    let slack_webhook_url = r.url("SLACK_WEBHOOK_URL", None).map(Secret::new);

    let config = Config {
        database_url: Secret::new(database_url.unwrap_or_default()),
        redis_url: Secret::new(redis_url.unwrap_or_default()),
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
    };
    if r.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            problems: r.problems,
        })
    }
}

fn read_stripe_secrets(r: &mut Reader<'_>, needed: bool) -> Vec<Secret> {
    let Some(raw) = r.secret("STRIPE_WEBHOOK_SECRET", needed) else {
        return Vec::new();
    };
    let secrets: Vec<Secret> = raw
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect();
    if secrets.is_empty() || secrets.iter().any(|s| !s.expose().starts_with("whsec_")) {
        r.problem(
            "STRIPE_WEBHOOK_SECRET",
            "each comma-separated secret must start with whsec_",
        );
        return Vec::new();
    }
    secrets
}

/// The environment guard: a live Stripe key is refused outside production, so a
/// preview branch can never touch real money.
fn read_stripe_api(r: &mut Reader<'_>, env: DeployEnv) -> Option<StripeApi> {
    let key = r.secret("STRIPE_SECRET_KEY", false);
    let base_url = r.url("STRIPE_API_BASE", Some("https://api.stripe.com"));
    let key = key?;
    let live = key.expose().starts_with("sk_live_") || key.expose().starts_with("rk_live_");
    if live && env != DeployEnv::Production {
        r.problem(
            "STRIPE_SECRET_KEY",
            format!("a live key is refused when VERCEL_ENV is {}", env.as_str()),
        );
        return None;
    }
    Some(StripeApi {
        key,
        base_url: base_url?,
    })
}

fn read_signed_webhook(
    r: &mut Reader<'_>,
    url_var: &str,
    secret_var: &str,
) -> Option<SignedWebhook> {
    let url = r.url(url_var, None);
    let raw_secret = r.secret(secret_var, false);
    let url_set = r.get(url_var).is_some();
    r.pair(url_var, secret_var, url_set, raw_secret.is_some());
    let secret = r.whsec(secret_var, raw_secret);
    Some(SignedWebhook {
        url: url?,
        secret: secret?,
    })
}

/// A user and password that come as a pair: both or neither.
fn read_basic_auth(r: &mut Reader<'_>, user_var: &str, password_var: &str) -> Option<BasicAuth> {
    let user = r.get(user_var);
    let password = r.secret(password_var, false);
    r.pair(user_var, password_var, user.is_some(), password.is_some());
    Some(BasicAuth {
        user: user?,
        password: password?,
    })
}

type Integrations = (Option<HubSpot>, Option<OpenAi>, Option<Resend>);

fn read_integrations(r: &mut Reader<'_>) -> Integrations {
    let hub_token = r.secret("HUBSPOT_ACCESS_TOKEN", false);
    let hub_base = r.url("HUBSPOT_BASE_URL", Some("https://api.hubapi.com"));
    let timeout_ms = r.number("HUBSPOT_TIMEOUT_MS", 10_000u64).clamp(100, 30_000);
    let requests_per_10s = r
        .number("HUBSPOT_REQUESTS_PER_10S", 190i64)
        .clamp(1, 10_000);
    let hubspot = hub_token.zip(hub_base).map(|(token, base_url)| HubSpot {
        token,
        base_url,
        timeout_ms,
        requests_per_10s,
    });

    let ai_key = r.secret("OPENAI_API_KEY", false);
    let ai_base = r.url("OPENAI_BASE_URL", Some("https://api.openai.com/v1"));
    let model = r
        .get("OPENAI_MODEL")
        .unwrap_or_else(|| "gpt-4o-mini".to_string());
    let ai_timeout_ms = r.number("OPENAI_TIMEOUT_MS", 20_000u64).clamp(100, 60_000);
    let openai = ai_key.zip(ai_base).map(|(api_key, base_url)| OpenAi {
        api_key,
        base_url,
        model,
        timeout_ms: ai_timeout_ms,
    });

    let mail_key = r.secret("RESEND_API_KEY", false);
    let mail_base = r.url("RESEND_BASE_URL", Some("https://api.resend.com"));
    let from = r.get("EMAIL_FROM");
    r.pair(
        "RESEND_API_KEY",
        "EMAIL_FROM",
        mail_key.is_some(),
        from.is_some(),
    );
    let resend = match (mail_key, mail_base, from) {
        (Some(api_key), Some(base_url), Some(from)) => Some(Resend {
            api_key,
            base_url,
            from,
        }),
        _ => None,
    };
    (hubspot, openai, resend)
}

/// AI budgets and guardrail settings (defaults in [`AiSettings::default`]).
fn read_ai(r: &mut Reader<'_>) -> AiSettings {
    let d = AiSettings::default();
    let list = |v: Option<String>, default: Vec<String>| {
        v.map(|v| {
            v.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or(default)
    };
    let link_allowlist = list(r.get("AI_LINK_ALLOWLIST"), d.link_allowlist);
    let skip_tags = list(r.get("AI_SKIP_TAGS"), d.skip_tags);
    AiSettings {
        link_allowlist,
        skip_tags,
        daily_requests_per_member: r
            .number("AI_DAILY_REQUESTS_PER_MEMBER", d.daily_requests_per_member)
            .max(0),
        daily_tokens_per_member: r
            .number("AI_DAILY_TOKENS_PER_MEMBER", d.daily_tokens_per_member)
            .max(0),
        daily_requests: r.number("AI_DAILY_REQUESTS", d.daily_requests).max(0),
        daily_tokens: r.number("AI_DAILY_TOKENS", d.daily_tokens).max(0),
    }
}
