//! `vercel.json` crons: parsed and validated here (the Vercel build checks
//! neither syntax nor paths), and run locally by the dev server.

use std::str::FromStr;

use anyhow::{bail, Context};
use chrono::Utc;
use croner::Cron;
use serde::Deserialize;

use crate::secret::Secret;

/// The project's `vercel.json`, compiled in so tests check the real file.
pub const VERCEL_JSON: &str = include_str!("../../vercel.json");

/// One cron entry.
#[derive(Debug, Clone, Deserialize)]
pub struct CronEntry {
    /// The function path Vercel calls (GET).
    pub path: String,
    /// A 5-field cron expression, in UTC.
    pub schedule: String,
}

#[derive(Deserialize)]
struct VercelJson {
    #[serde(default)]
    crons: Vec<CronEntry>,
}

/// Parses and validates the crons of a `vercel.json`: 5 fields, a valid
/// expression, a path under `/api/`.
pub fn from_vercel_json(text: &str) -> anyhow::Result<Vec<CronEntry>> {
    let parsed: VercelJson = serde_json::from_str(text).context("vercel.json is not valid JSON")?;
    for c in &parsed.crons {
        parse_schedule(&c.schedule)?;
        if !c.path.starts_with("/api/") {
            bail!("cron path {} is not under /api/", c.path);
        }
    }
    Ok(parsed.crons)
}

/// Parses a Vercel cron schedule (exactly 5 fields).
pub fn parse_schedule(schedule: &str) -> anyhow::Result<Cron> {
    if schedule.split_whitespace().count() != 5 {
        bail!("cron schedule {schedule:?} must have exactly 5 fields");
    }
    Cron::from_str(schedule).with_context(|| format!("cron schedule {schedule:?} is invalid"))
}

/// Runs every entry forever: sleep until its next time, then
/// `GET base_url + path` with `Authorization: Bearer $CRON_SECRET`.
pub async fn run(entries: Vec<CronEntry>, base_url: String, secret: Option<Secret>) {
    let client = reqwest::Client::new();
    for entry in entries {
        let client = client.clone();
        let url = format!("{base_url}{}", entry.path);
        let secret = secret.clone();
        tokio::spawn(async move {
            let Ok(cron) = parse_schedule(&entry.schedule) else {
                return;
            };
            loop {
                let now = Utc::now();
                let Ok(next) = cron.find_next_occurrence(&now, false) else {
                    return;
                };
                let wait = (next - now).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
                let mut req = client.get(&url);
                if let Some(s) = &secret {
                    req = req.bearer_auth(s.expose());
                }
                match req.send().await {
                    Ok(res) => {
                        tracing::info!(path = %entry.path, status = res.status().as_u16(), "local cron ran")
                    }
                    Err(e) => tracing::warn!(path = %entry.path, error = %e, "local cron failed"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_vercel_json_has_valid_crons() {
        let entries = from_vercel_json(VERCEL_JSON).unwrap();
        for e in entries {
            assert!(parse_schedule(&e.schedule).is_ok(), "{}", e.schedule);
        }
    }

    #[test]
    fn a_six_field_or_garbage_schedule_is_refused() {
        assert!(parse_schedule("0 * * * * *").is_err());
        assert!(parse_schedule("every minute").is_err());
        assert!(parse_schedule("61 * * * *").is_err());
        assert!(parse_schedule("*/10 * * * *").is_ok());
    }
}
