//! HubSpot contacts, upserted by email through the CRM v3 batch upsert
//! (`POST /crm/v3/objects/contacts/batch/upsert`, `idProperty: email`), up
//! to 100 per request. Each job upserts the member as it is NOW in Postgres
//! (the payload only names the member), so retries and reorderings converge.
//! A Redis fixed-window limiter (default 190 requests / 10 s per account)
//! keeps the sweep under HubSpot's burst limit; a 429 is read by policy.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::HubSpot;
use crate::jobs::outcome::{classify_status, classify_transport, retry_after};
use crate::jobs::{Job, JobError, Reason};
use crate::members::synced::{mark_crm_synced, Synced};
use crate::members::{Member, MemberState};
use crate::state::App;

/// HubSpot lifecycle stage for a member state. Stages only move forward in
/// HubSpot, so a paused or canceled customer stays `customer` (the
/// `opsbridge_state` property says which).
pub fn lifecycle_stage(state: MemberState) -> &'static str {
    match state {
        MemberState::Lead => "lead",
        MemberState::Trial => "opportunity",
        MemberState::Active
        | MemberState::PastDue
        | MemberState::Paused
        | MemberState::Canceled => "customer",
    }
}

fn split_name(name: Option<&str>) -> (String, String) {
    let name = name.unwrap_or("").trim();
    match name.split_once(' ') {
        Some((first, last)) => (first.to_string(), last.trim().to_string()),
        None => (name.to_string(), String::new()),
    }
}

/// The upsert input for one member.
pub fn input(m: &Member, email: &str) -> Value {
    let (first, last) = split_name(m.name.as_deref());
    let mut props = json!({
        "email": email,
        "lifecyclestage": lifecycle_stage(m.state),
        "opsbridge_member_id": m.id.to_string(),
        "opsbridge_state": m.state.as_str(),
        "opsbridge_plan": m.plan.clone().unwrap_or_default(),
    });
    if !first.is_empty() {
        props["firstname"] = json!(first);
    }
    if !last.is_empty() {
        props["lastname"] = json!(last);
    }
    json!({ "idProperty": "email", "id": email, "properties": props })
}

/// Runs a batch of `crm_upsert` jobs: one HubSpot request for all of them.
/// A 400 on a batch of several is retried one by one, so one bad contact
/// never blocks the others.
pub async fn upsert_batch(app: &App, jobs: &[Job]) -> Vec<Result<(), JobError>> {
    let Some(hub) = app.config.hubspot.clone() else {
        return jobs
            .iter()
            .map(|_| {
                Err(JobError::permanent(
                    Reason::NotConfigured,
                    "hubspot is not configured",
                ))
            })
            .collect();
    };
    let ids: Vec<Uuid> = jobs.iter().filter_map(|j| j.member_id).collect();
    let members = match load(app, &ids).await {
        Ok(m) => m,
        Err(e) => {
            let err = JobError::store(e);
            return jobs.iter().map(|_| Err(err.clone())).collect();
        }
    };
    let mut results: Vec<Result<(), JobError>> = Vec::with_capacity(jobs.len());
    let mut batch: Vec<(usize, Member, String)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match job.member_id.and_then(|id| members.get(&id)) {
            None => results.push(Err(JobError::permanent(
                Reason::MissingData,
                "member not found",
            ))),
            Some(m) => match m.email.clone().filter(|e| e.contains('@')) {
                None => results.push(Err(JobError::permanent(
                    Reason::MissingData,
                    "member has no email",
                ))),
                Some(email) => {
                    results.push(Ok(()));
                    batch.push((i, m.clone(), email.to_lowercase()));
                }
            },
        }
    }
    if batch.is_empty() {
        return results;
    }
    let outcome = send(app, &hub, &batch).await;
    match outcome {
        Ok(contacts) => {
            if let Err(e) = record(app, &batch, &contacts).await {
                tracing::warn!(error = %format!("{e:#}"), "failed to record CRM contact ids; reconciliation will retry");
            }
        }
        Err(JobError::Permanent {
            reason: Reason::InvalidPayload,
            ..
        }) if batch.len() > 1 => {
            for (i, m, email) in &batch {
                let one = vec![(*i, m.clone(), email.clone())];
                results[*i] = match send(app, &hub, &one).await {
                    Ok(contacts) => record(app, &one, &contacts).await.map_err(JobError::store),
                    Err(e) => Err(e),
                };
            }
        }
        Err(e) => {
            for (i, _, _) in &batch {
                results[*i] = Err(e.clone());
            }
        }
    }
    results
}

async fn load(app: &App, ids: &[Uuid]) -> anyhow::Result<HashMap<Uuid, Member>> {
    crate::members::synced::load_many(&app.db.get().await?, ids).await
}

/// One batch request; returns email → contact id.
async fn send(
    app: &App,
    hub: &HubSpot,
    batch: &[(usize, Member, String)],
) -> Result<HashMap<String, String>, JobError> {
    rate_limit(app, hub.requests_per_10s).await?;
    let mut seen = std::collections::HashSet::new();
    let inputs: Vec<Value> = batch
        .iter()
        .filter(|(_, _, email)| seen.insert(email.clone()))
        .map(|(_, m, email)| input(m, email))
        .collect();
    let res = app
        .http
        .post(format!(
            "{}/crm/v3/objects/contacts/batch/upsert",
            hub.base_url
        ))
        .bearer_auth(hub.token.expose())
        .timeout(Duration::from_millis(hub.timeout_ms))
        .json(&json!({ "inputs": inputs }))
        .send()
        .await
        .map_err(|e| classify_transport(&e, true))?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let now = app.clock.now();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status == 429 {
        return Err(rate_limited(&body, &headers, now));
    }
    classify_status(status, &headers, now, true)?;
    let contacts = body["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    let email = r["properties"]["email"].as_str()?.to_lowercase();
                    Some((email, r["id"].as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(contacts)
}

/// Reads HubSpot's 429 policy: a daily limit parks the job until the next
/// UTC day (without spending an attempt); burst limits retry after the window.
fn rate_limited(
    body: &Value,
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
) -> JobError {
    let policy = body["policyName"].as_str().unwrap_or("");
    if policy.eq_ignore_ascii_case("DAILY") {
        let tomorrow = (now + ChronoDuration::days(1))
            .date_naive()
            .and_hms_opt(0, 5, 0)
            .map(|t| t.and_utc());
        return JobError::Park {
            until: tomorrow.unwrap_or(now + ChronoDuration::hours(24)),
            reason: Reason::CrmRateLimited,
            message: "HubSpot daily limit reached".into(),
        };
    }
    let fallback = if policy.eq_ignore_ascii_case("SECONDLY") {
        1
    } else {
        10
    };
    JobError::Retryable {
        reason: Reason::CrmRateLimited,
        status: Some(429),
        retry_after: retry_after(headers, now).or(Some(Duration::from_secs(fallback))),
        message: format!(
            "HubSpot rate limit ({})",
            if policy.is_empty() {
                "unknown policy"
            } else {
                policy
            }
        ),
    }
}

/// Our own limiter: a 10-second window counter in Redis. Redis down → no
/// limit (HubSpot's own 429 still protects us).
async fn rate_limit(app: &App, limit: i64) -> Result<(), JobError> {
    let window = app.clock.now().timestamp() / 10;
    match app
        .kv
        .incr_window(&format!("hubspot:rl:{window}"), 1, 10_000)
        .await
    {
        Ok((n, ttl_ms)) if n > limit => Err(JobError::Retryable {
            reason: Reason::CrmRateLimited,
            status: None,
            retry_after: Some(Duration::from_millis(ttl_ms.max(1_000) as u64)),
            message: "local HubSpot rate limit reached".into(),
        }),
        _ => Ok(()),
    }
}

/// Stores contact ids and marks the members synced up to the sequence read.
async fn record(
    app: &App,
    batch: &[(usize, Member, String)],
    contacts: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let synced: Vec<Synced> = batch
        .iter()
        .map(|(_, m, email)| Synced {
            id: m.id,
            sequence: m.sequence,
            contact_id: contacts.get(email).cloned(),
        })
        .collect();
    mark_crm_synced(&app.db.get().await?, &synced, app.clock.now()).await
}

/// The `crm_upsert` job kind's way out (registered in `jobs::registry`):
/// a claimed batch goes to HubSpot as one batch upsert.
pub struct CrmUpsert;

impl crate::jobs::delivery::Delivery for CrmUpsert {
    fn deliver<'a>(
        &'a self,
        app: &'a App,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            upsert_batch(app, std::slice::from_ref(job))
                .await
                .pop()
                .unwrap_or(Ok(()))
        })
    }

    fn deliver_batch<'a>(
        &'a self,
        app: &'a App,
        jobs: &'a [Job],
    ) -> futures::future::BoxFuture<'a, Vec<Result<(), JobError>>> {
        Box::pin(upsert_batch(app, jobs))
    }
}
