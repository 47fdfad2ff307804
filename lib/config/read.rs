//! The variable reader (collects every problem instead of stopping at the
//! first) and the readers of each group of variables: Stripe, signed
//! webhooks, integrations, AI settings.

use super::load::Problem;
use super::{AiSettings, BasicAuth, DeployEnv, HubSpot, OpenAi, Resend, SignedWebhook, StripeApi};
use crate::secret::Secret;

/// Collects problems while reading variables.
pub(super) struct Reader<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) problems: Vec<Problem>,
}

impl Reader<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn problem(&mut self, variable: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            variable: variable.to_string(),
            reason: reason.into(),
        });
    }

    /// The first set of several aliases; a problem naming all when none is.
    pub(super) fn required(&mut self, names: &[&str]) -> Option<String> {
        let found = names.iter().find_map(|n| self.get(n));
        if found.is_none() {
            self.problem(&names.join(" or "), "missing");
        }
        found
    }

    pub(super) fn url(&mut self, name: &str, default: Option<&str>) -> Option<String> {
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

    pub(super) fn number<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problem(name, "not a whole number");
                default
            }),
        }
    }

    pub(super) fn secret(&mut self, name: &str, needed: bool) -> Option<Secret> {
        match self.get(name) {
            Some(v) => Some(Secret::new(v)),
            None if needed => {
                self.problem(name, "missing");
                None
            }
            None => None,
        }
    }

    pub(super) fn whsec(&mut self, name: &str, value: Option<Secret>) -> Option<Secret> {
        let v = value?;
        if crate::signature::standard::StandardSigner::new(&v).is_ok() {
            Some(v)
        } else {
            self.problem(name, "must be whsec_ followed by base64");
            None
        }
    }

    /// An integration made of a credential and settings: both or neither.
    pub(super) fn pair(&mut self, key: &str, other: &str, key_set: bool, other_set: bool) {
        if key_set != other_set {
            let (set, unset) = if key_set { (key, other) } else { (other, key) };
            self.problem(unset, format!("missing while {set} is set"));
        }
    }
}

/// The first set of `names` as a Postgres URL, checked the way the pool
/// will read it; a problem names the variable and the fault, never the
/// value (it holds a password).
pub(super) fn read_postgres_url(r: &mut Reader<'_>, names: &[&str]) -> Option<Secret> {
    let (name, value) = names.iter().find_map(|n| r.get(n).map(|v| (*n, v)))?;
    match crate::db::url::parse(&value) {
        Ok(_) => Some(Secret::new(value)),
        Err(e) => {
            r.problem(name, e.to_string());
            None
        }
    }
}

/// PEM certificates held in a variable (a Vercel function has no file to
/// point at), checked at cold start.
pub(super) fn read_pem(r: &mut Reader<'_>, name: &str) -> Option<Secret> {
    let value = r.get(name)?;
    match crate::db::tls::certificates_from_pem(&value) {
        Ok(_) => Some(Secret::new(value)),
        Err(e) => {
            r.problem(name, format!("not PEM certificates: {e}"));
            None
        }
    }
}

pub(super) fn read_stripe_secrets(r: &mut Reader<'_>, needed: bool) -> Vec<Secret> {
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
pub(super) fn read_stripe_api(r: &mut Reader<'_>, env: DeployEnv) -> Option<StripeApi> {
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

pub(super) fn read_signed_webhook(
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
pub(super) fn read_basic_auth(
    r: &mut Reader<'_>,
    user_var: &str,
    password_var: &str,
) -> Option<BasicAuth> {
    let user = r.get(user_var);
    let password = r.secret(password_var, false);
    r.pair(user_var, password_var, user.is_some(), password.is_some());
    Some(BasicAuth {
        user: user?,
        password: password?,
    })
}

pub(super) type Integrations = (Option<HubSpot>, Option<OpenAi>, Option<Resend>);

pub(super) fn read_integrations(r: &mut Reader<'_>) -> Integrations {
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
pub(super) fn read_ai(r: &mut Reader<'_>) -> AiSettings {
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
