//! Configuration tests: every problem at once, aliases, the live-key guard.

use std::collections::HashMap;

use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(map: &HashMap<String, String>, needs: &[Need]) -> Result<Config, ConfigError> {
    Config::from_lookup(|k| map.get(k).cloned(), needs)
}

const BASE: &[(&str, &str)] = &[
    ("DATABASE_URL", "postgres://u@localhost/db"),
    ("REDIS_URL", "redis://localhost:6379"),
];

#[test]
fn an_empty_environment_names_every_missing_variable_at_once() {
    let err = load(&HashMap::new(), Need::ALL).unwrap_err();
    let vars = err.variables();
    for v in [
        "DATABASE_URL or POSTGRES_URL",
        "REDIS_URL or KV_URL",
        "STRIPE_WEBHOOK_SECRET",
        "CRON_SECRET",
        "ADMIN_TOKEN",
        "APP_API_TOKEN",
    ] {
        assert!(vars.contains(&v), "{v} not named in {err}");
    }
    assert_eq!(vars.len(), 6, "{err}");
}

#[test]
fn the_vercel_integration_aliases_are_accepted() {
    let map = vars(&[
        ("POSTGRES_URL", "postgres://u@localhost/db?sslmode=require"),
        ("KV_URL", "rediss://default:pw@example.upstash.io:6379"),
    ]);
    let c = load(&map, &[]).unwrap();
    assert!(c.database_url.expose().contains("sslmode=require"));
    assert!(c.redis_url.expose().starts_with("rediss://"));
}

#[test]
fn a_live_stripe_key_is_refused_outside_production() {
    for env in [None, Some("preview"), Some("development")] {
        let mut map = vars(BASE);
        map.insert("STRIPE_SECRET_KEY".into(), "rk_live_FAKE_not_a_key".into());
        if let Some(e) = env {
            map.insert("VERCEL_ENV".into(), e.into());
        }
        let err = load(&map, &[]).unwrap_err();
        assert_eq!(err.variables(), vec!["STRIPE_SECRET_KEY"], "{env:?}");
        assert!(
            !err.to_string().contains("rk_live_FAKE_not_a_key"),
            "the key leaked"
        );
    }
    let mut map = vars(BASE);
    map.insert("STRIPE_SECRET_KEY".into(), "sk_live_FAKE_not_a_key".into());
    map.insert("VERCEL_ENV".into(), "production".into());
    assert!(load(&map, &[]).unwrap().stripe_api.is_some());
}

#[test]
fn a_test_key_is_fine_anywhere() {
    let mut map = vars(BASE);
    map.insert("STRIPE_SECRET_KEY".into(), "rk_test_FAKE_not_a_key".into());
    map.insert("VERCEL_ENV".into(), "preview".into());
    assert!(load(&map, &[]).unwrap().stripe_api.is_some());
}

#[test]
fn malformed_values_are_named_with_the_missing_ones() {
    let map = vars(&[
        ("DATABASE_URL", "postgres://u@localhost/db"),
        ("STRIPE_WEBHOOK_SECRET", "not-a-whsec"),
        ("PAST_DUE_GRACE_DAYS", "three"),
        ("HUBSPOT_BASE_URL", "ftp://x"),
        ("VERCEL_ENV", "staging"),
    ]);
    let err = load(&map, &[Need::StripeWebhook]).unwrap_err();
    let v = err.variables();
    for name in [
        "REDIS_URL or KV_URL",
        "STRIPE_WEBHOOK_SECRET",
        "PAST_DUE_GRACE_DAYS",
        "HUBSPOT_BASE_URL",
        "VERCEL_ENV",
    ] {
        assert!(v.contains(&name), "{name} missing from {err}");
    }
}

#[test]
fn half_configured_integrations_are_contradictions() {
    let mut map = vars(BASE);
    map.insert(
        "APP_WEBHOOK_URL".into(),
        "https://app.example.com/hooks".into(),
    );
    map.insert("RESEND_API_KEY".into(), "re_123".into());
    let err = load(&map, &[]).unwrap_err();
    assert_eq!(err.variables(), vec!["APP_WEBHOOK_SECRET", "EMAIL_FROM"]);
}

#[test]
fn several_stripe_secrets_are_read_for_rotation() {
    let mut map = vars(BASE);
    map.insert(
        "STRIPE_WEBHOOK_SECRET".into(),
        "whsec_FAKE_old, whsec_FAKE_new".into(),
    );
    let c = load(&map, &[Need::StripeWebhook]).unwrap();
    assert_eq!(c.stripe_webhook_secrets.len(), 2);
}

#[test]
fn integrations_without_credentials_are_not_configured() {
    let c = load(&vars(BASE), &[]).unwrap();
    assert!(c.integrations().iter().all(|(_, on)| !on));
    assert_eq!(c.past_due_grace_days, 3);
    assert_eq!(c.stripe_webhook_tolerance_secs, 300);
}

#[test]
fn previews_get_a_branch_prefix_and_debug_never_prints_secrets() {
    let mut map = vars(BASE);
    map.insert("VERCEL_ENV".into(), "preview".into());
    map.insert("VERCEL_GIT_COMMIT_REF".into(), "feature/x".into());
    map.insert("ADMIN_TOKEN".into(), "very-secret-admin".into());
    let c = load(&map, &[Need::Admin]).unwrap();
    assert_eq!(c.redis_prefix, "ob:preview:feature-x:");
    let debug = format!("{c:?}");
    assert!(!debug.contains("very-secret-admin"));
    assert!(!debug.contains("postgres://"));
}

#[test]
fn every_url_a_vercel_integration_sets_is_accepted_as_it_is() {
    for (name, url) in [
        (
            "POSTGRES_URL",
            "postgres://postgres.abcdefghijklmnop:FAKEpw@aws-0-us-east-1.pooler.supabase.com:6543/postgres?sslmode=require&supa=base-pooler.x",
        ),
        (
            "DATABASE_URL",
            "postgresql://neondb_owner:FAKEpw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
        ),
        (
            "DATABASE_URL",
            "postgresql://u:FAKEpw@host:5432/db?pgbouncer=true&connect_timeout=15&connection_limit=1&pool_timeout=0",
        ),
    ] {
        let mut map = vars(&[("REDIS_URL", "redis://localhost:6379")]);
        map.insert(name.into(), url.into());
        map.insert(
            "DATABASE_URL_UNPOOLED".into(),
            "postgresql://neondb_owner:FAKEpw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb?sslmode=require".into(),
        );
        let c = load(&map, &[]).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(c.database_pooler, Pooler::Auto);
        assert!(c.database_url_unpooled.is_some());
    }
}

#[test]
fn a_malformed_database_url_names_its_variable_and_never_the_password() {
    for (name, url) in [
        ("DATABASE_URL", "postgres://u:FAKEsecret@host:notaport/db"),
        ("POSTGRES_URL", "mysql://u:FAKEsecret@host/db"),
        ("DATABASE_URL", "postgres://u:FAKE/secret@host/db"),
        (
            "DATABASE_URL",
            "postgres://u:FAKEsecret@host/db?sslmode=bogus",
        ),
    ] {
        let mut map = vars(&[("REDIS_URL", "redis://localhost:6379")]);
        map.insert(name.into(), url.into());
        let err = load(&map, &[]).unwrap_err();
        assert_eq!(err.variables(), vec![name], "{url}: {err}");
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("FAKE") && !shown.contains("host"),
            "{shown}"
        );
    }
}

#[test]
fn the_pooler_setting_and_the_ca_variables_are_checked_at_cold_start() {
    let mut map = vars(BASE);
    map.insert("DATABASE_POOLER".into(), "session".into());
    map.insert("DATABASE_CA_CERT".into(), "not a certificate".into());
    map.insert(
        "REDIS_CA_CERT".into(),
        "-----BEGIN CERTIFICATE-----\nAAAA".into(),
    );
    map.insert("DATABASE_URL_UNPOOLED".into(), "postgres://u@h:0/db".into());
    let err = load(&map, &[]).unwrap_err();
    let mut named = err.variables();
    named.sort_unstable();
    assert_eq!(
        named,
        vec![
            "DATABASE_CA_CERT",
            "DATABASE_POOLER",
            "DATABASE_URL_UNPOOLED",
            "REDIS_CA_CERT"
        ],
        "{err}"
    );
    for (value, pooler) in [
        ("auto", Pooler::Auto),
        ("Transaction", Pooler::Transaction),
        ("none", Pooler::None),
    ] {
        let mut map = vars(BASE);
        map.insert("DATABASE_POOLER".into(), value.into());
        assert_eq!(load(&map, &[]).unwrap().database_pooler, pooler);
    }
}

/// Variables read outside the loader (by the runtime, the local server or
/// the health answer) that docs/configuration.md documents too.
const READ_ELSEWHERE: &[&str] = &["RUST_LOG", "PORT", "DEV_CRONS", "VERCEL_GIT_COMMIT_SHA"];

#[test]
fn every_variable_the_loader_reads_is_documented_and_the_reverse() {
    let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let _ = Config::from_lookup(
        |k| {
            read.borrow_mut().insert(k.to_string());
            None
        },
        Need::ALL,
    );
    let read = read.into_inner();
    let doc = include_str!("../../docs/configuration.md");
    let documented: std::collections::BTreeSet<String> = doc
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|w| {
                    w.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let undocumented: Vec<&String> = read.iter().filter(|v| !documented.contains(*v)).collect();
    assert!(
        undocumented.is_empty(),
        "read but not in docs/configuration.md: {undocumented:?}"
    );
    let unread: Vec<&String> = documented
        .iter()
        .filter(|v| !read.contains(*v) && !READ_ELSEWHERE.contains(&v.as_str()))
        .collect();
    assert!(unread.is_empty(), "documented but never read: {unread:?}");
}
