//! Zendesk settings: `ZENDESK_SUBDOMAIN` (the API at
//! `https://<subdomain>.zendesk.com`) or `ZENDESK_BASE_URL` (which wins; a
//! local fake in tests), `ZENDESK_EMAIL` and `ZENDESK_API_TOKEN`. All three
//! or none: a half-configured Zendesk stops the cold start naming what is
//! missing, because jobs that could never authenticate would only go dead.

use super::read::Reader;
use crate::secret::Secret;

/// Zendesk (Tickets API) settings.
#[derive(Debug, Clone)]
pub struct Zendesk {
    /// API origin, `https://<subdomain>.zendesk.com` unless overridden.
    pub base_url: String,
    /// The agent whose API token this is (basic auth user `<email>/token`).
    pub email: String,
    /// The API token.
    pub api_token: Secret,
}

/// Reads the Zendesk variables (see the module doc).
pub(super) fn read_zendesk(r: &mut Reader<'_>) -> Option<Zendesk> {
    let subdomain = r.get("ZENDESK_SUBDOMAIN");
    let base_set = r.get("ZENDESK_BASE_URL").is_some();
    let base_url = r.url("ZENDESK_BASE_URL", None);
    let email = r.get("ZENDESK_EMAIL");
    let api_token = r.secret("ZENDESK_API_TOKEN", false);
    let site_set = subdomain.is_some() || base_set;
    let site = "ZENDESK_SUBDOMAIN (or ZENDESK_BASE_URL)";
    let parts = [
        (site, site_set),
        ("ZENDESK_EMAIL", email.is_some()),
        ("ZENDESK_API_TOKEN", api_token.is_some()),
    ];
    if let Some((set, _)) = parts.iter().find(|(_, on)| *on) {
        for (name, on) in parts {
            if !on {
                r.problem(name, format!("missing while {set} is set"));
            }
        }
    }
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        r.problem("ZENDESK_EMAIL", "not an email address");
    }
    let origin = match (base_url, subdomain) {
        (Some(base), _) => Some(base),
        (None, Some(s)) if valid_subdomain(&s) => Some(format!("https://{s}.zendesk.com")),
        (None, Some(_)) => {
            r.problem(
                "ZENDESK_SUBDOMAIN",
                "must be the subdomain alone (acme for acme.zendesk.com)",
            );
            None
        }
        (None, None) => None,
    };
    Some(Zendesk {
        base_url: origin?,
        email: email.filter(|e| e.contains('@'))?,
        api_token: api_token?,
    })
}

/// Letters, digits and hyphens, as Zendesk allows in a subdomain.
fn valid_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::Config;

    fn load(extra: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let mut map: HashMap<&str, &str> = [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("REDIS_URL", "redis://localhost:6379"),
        ]
        .into_iter()
        .collect();
        map.extend(extra.iter().copied());
        Config::from_lookup(|k| map.get(k).map(|v| v.to_string()), &[])
    }

    #[test]
    fn a_subdomain_becomes_the_zendesk_api_origin() {
        let c = load(&[
            ("ZENDESK_SUBDOMAIN", "acme"),
            ("ZENDESK_EMAIL", "agent@acme.com"),
            ("ZENDESK_API_TOKEN", "FAKEtoken"),
        ])
        .unwrap();
        let z = c.zendesk.as_ref().expect("configured");
        assert_eq!(z.base_url, "https://acme.zendesk.com");
        assert_eq!(z.email, "agent@acme.com");
        assert!(c.integrations().contains(&("zendesk", true)));
    }

    #[test]
    fn the_base_url_overrides_the_subdomain() {
        let c = load(&[
            ("ZENDESK_SUBDOMAIN", "acme"),
            ("ZENDESK_BASE_URL", "http://127.0.0.1:9000/"),
            ("ZENDESK_EMAIL", "agent@acme.com"),
            ("ZENDESK_API_TOKEN", "FAKEtoken"),
        ])
        .unwrap();
        assert_eq!(c.zendesk.unwrap().base_url, "http://127.0.0.1:9000");
    }

    #[test]
    fn a_partial_zendesk_names_every_missing_variable_and_never_the_token() {
        let err = load(&[("ZENDESK_API_TOKEN", "FAKEsecret123")]).unwrap_err();
        assert_eq!(
            err.variables(),
            vec!["ZENDESK_SUBDOMAIN (or ZENDESK_BASE_URL)", "ZENDESK_EMAIL"]
        );
        assert!(!err.to_string().contains("FAKEsecret123"));
        let err = load(&[("ZENDESK_EMAIL", "agent@acme.com")]).unwrap_err();
        assert_eq!(
            err.variables(),
            vec![
                "ZENDESK_SUBDOMAIN (or ZENDESK_BASE_URL)",
                "ZENDESK_API_TOKEN"
            ]
        );
    }

    #[test]
    fn a_full_host_or_a_bad_email_is_refused_at_cold_start() {
        let err = load(&[
            ("ZENDESK_SUBDOMAIN", "acme.zendesk.com"),
            ("ZENDESK_EMAIL", "agent"),
            ("ZENDESK_API_TOKEN", "FAKEtoken"),
        ])
        .unwrap_err();
        assert_eq!(err.variables(), vec!["ZENDESK_EMAIL", "ZENDESK_SUBDOMAIN"]);
    }

    #[test]
    fn no_zendesk_variables_means_not_configured() {
        let c = load(&[]).unwrap();
        assert!(c.zendesk.is_none());
        assert!(c.integrations().contains(&("zendesk", false)));
    }
}
