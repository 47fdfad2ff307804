//! HubSpot's contacts API, one function per request, each through our rate
//! limiter and classified where it answers (retryable, permanent, parked):
//! batch upsert by email, batch update by id, merge, and reading one
//! contact's `opsbridge_member_id`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{json, Value};

use crate::config::HubSpot;
use crate::jobs::outcome::{classify_status, classify_transport, retry_after};
use crate::jobs::{JobError, Reason};
use crate::state::App;

const CONTACTS: &str = "/crm/v3/objects/contacts";

/// What a batch update by id did, beyond the contacts it updated.
#[derive(Debug, Default)]
pub struct Updated {
    /// Contact ids HubSpot no longer has (207, `OBJECT_NOT_FOUND`).
    pub not_found: HashSet<String>,
    /// An update collided with another contact holding the email
    /// (`CONFLICT`): that contact's id, when HubSpot named it.
    pub conflict: Option<Option<String>>,
}

/// `POST .../batch/upsert` (`idProperty: email`); returns email → contact id.
pub async fn upsert(
    app: &App,
    hub: &HubSpot,
    inputs: &[Value],
) -> Result<HashMap<String, String>, JobError> {
    let (_, body) = request(
        app,
        hub,
        reqwest::Method::POST,
        "/batch/upsert",
        Some(json!({ "inputs": inputs })),
    )
    .await?;
    Ok(body["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    let email = r["properties"]["email"].as_str()?.to_lowercase();
                    Some((email, r["id"].as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// `POST .../batch/update` by contact id: 200 when all were updated, 207
/// with per-contact errors (a deleted contact is `OBJECT_NOT_FOUND` there,
/// not a 404), 409 when an email belongs to another contact.
pub async fn update(app: &App, hub: &HubSpot, inputs: &[Value]) -> Result<Updated, JobError> {
    let body = json!({ "inputs": inputs });
    match request(app, hub, reqwest::Method::POST, "/batch/update", Some(body)).await {
        Ok((207, answer)) => {
            let mut updated = Updated::default();
            for e in answer["errors"].as_array().into_iter().flatten() {
                match e["category"].as_str().unwrap_or("") {
                    "OBJECT_NOT_FOUND" => updated.not_found.extend(
                        e["context"]["ids"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|id| id.as_str().map(str::to_string)),
                    ),
                    "CONFLICT" => updated.conflict = Some(existing_id(e)),
                    other => {
                        return Err(JobError::permanent(
                            Reason::InvalidPayload,
                            format!("HubSpot refused an update ({other})"),
                        ))
                    }
                }
            }
            Ok(updated)
        }
        Ok(_) => Ok(Updated::default()),
        Err(Conflict(existing)) => Ok(Updated {
            conflict: Some(existing),
            ..Updated::default()
        }),
        Err(Failed(e)) => Err(e),
    }
}

/// `POST .../merge`: `other` is merged into `primary`; returns the merged
/// contact's id (HubSpot may give the merged record a new one).
pub async fn merge(
    app: &App,
    hub: &HubSpot,
    primary: &str,
    other: &str,
) -> Result<String, JobError> {
    let body = json!({ "primaryObjectId": primary, "objectIdToMerge": other });
    match request(app, hub, reqwest::Method::POST, "/merge", Some(body)).await {
        Ok((_, answer)) => Ok(answer["id"].as_str().unwrap_or(primary).to_string()),
        // Either side already gone (merged or deleted by a person): nothing
        // left to merge; the next update finds out which id lives.
        Err(Failed(JobError::Permanent {
            status: Some(404), ..
        })) => Ok(primary.to_string()),
        Err(Conflict(_)) => Err(JobError::permanent(
            Reason::InvalidPayload,
            "HubSpot refused the merge",
        )),
        Err(Failed(e)) => Err(e),
    }
}

/// The `opsbridge_member_id` on contact `id` (`None`: unset, or no such contact).
pub async fn member_of(app: &App, hub: &HubSpot, id: &str) -> Result<Option<String>, JobError> {
    let path = format!("/{id}?properties=opsbridge_member_id");
    match request(app, hub, reqwest::Method::GET, &path, None).await {
        Ok((_, answer)) => Ok(answer["properties"]["opsbridge_member_id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)),
        Err(Failed(JobError::Permanent {
            status: Some(404), ..
        })) => Ok(None),
        Err(Conflict(_)) => Ok(None),
        Err(Failed(e)) => Err(e),
    }
}

/// Why a request did not succeed.
enum Failure {
    /// 409: the email belongs to another contact (its id, when named).
    Conflict(Option<String>),
    /// Anything else, classified.
    Failed(JobError),
}
use Failure::{Conflict, Failed};

impl From<JobError> for Failure {
    fn from(e: JobError) -> Self {
        Failed(e)
    }
}

/// For upserts, which never conflict: a 409 is a retryable 4xx as before.
impl From<Failure> for JobError {
    fn from(f: Failure) -> Self {
        match f {
            Failed(e) => e,
            Conflict(_) => JobError::Retryable {
                reason: Reason::Upstream4xx,
                status: Some(409),
                retry_after: None,
                message: "upstream answered 409".into(),
            },
        }
    }
}

/// One request under our limiter; (status, body) on 2xx.
async fn request(
    app: &App,
    hub: &HubSpot,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), Failure> {
    rate_limit(app, hub.requests_per_10s).await?;
    let mut req = app
        .http
        .request(method, format!("{}{CONTACTS}{path}", hub.base_url))
        .bearer_auth(hub.token.expose())
        .timeout(Duration::from_millis(hub.timeout_ms));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.map_err(|e| classify_transport(&e, true))?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let now = app.clock.now();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    match status {
        429 => Err(Failed(rate_limited(&answer, &headers, now))),
        409 => Err(Conflict(existing_id(&answer))),
        _ => {
            classify_status(status, &headers, now, true)?;
            Ok((status, answer))
        }
    }
}

/// The id in HubSpot's "Contact already exists. Existing ID: 123".
fn existing_id(error: &Value) -> Option<String> {
    let message = error["message"].as_str()?;
    let (_, tail) = message.split_once("Existing ID:")?;
    let id: String = tail
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!id.is_empty()).then_some(id)
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
    let named = if policy.is_empty() {
        "unknown policy"
    } else {
        policy
    };
    JobError::Retryable {
        reason: Reason::CrmRateLimited,
        status: Some(429),
        retry_after: retry_after(headers, now).or(Some(Duration::from_secs(fallback))),
        message: format!("HubSpot rate limit ({named})"),
    }
}

/// Our own limiter: a 10-second window counter in Redis shared by every
/// instance (HubSpot's limit is per account). Redis down → no limit
/// (HubSpot's own 429 still protects us).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_existing_contact_is_read_from_hubspots_conflict_message() {
        let e = json!({"category": "CONFLICT", "message": "Contact already exists. Existing ID: 40511"});
        assert_eq!(existing_id(&e).as_deref(), Some("40511"));
        assert_eq!(existing_id(&json!({"message": "Conflict"})), None);
    }
}
