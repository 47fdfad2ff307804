//! The Stripe Events API client: one `GET /v1/events` page at a time, with
//! failures classified where Stripe answered (401/403 → the key; 429, 5xx
//! and timeouts → try later, `Retry-After` honoured; anything else → a bug
//! or an API change, never retried in a loop).
//!
//! Pagination is Stripe's: a list is newest first; `starting_after=<id of the
//! last object of the previous page>` gives the next (older) page, and
//! `has_more` says whether there is one.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::StripeApi;
use crate::jobs::outcome::retry_after;
use crate::jobs::Reason;
use crate::state::App;

/// Objects per page: Stripe's maximum.
pub const PAGE_LIMIT: u32 = 100;
/// One page request may take this long (Stripe answers in well under a second).
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;

/// One page request: `created` in `[gte, lte]` (Unix seconds), the handled
/// types, after an object id.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    /// Event types (`types[]`; Stripe accepts up to 20).
    pub types: &'a [&'a str],
    /// `created[gte]`.
    pub created_gte: i64,
    /// `created[lte]`.
    pub created_lte: i64,
    /// `starting_after`: the id of the last (oldest) event of the previous page.
    pub starting_after: Option<&'a str>,
}

impl ListQuery<'_> {
    /// The query string pairs, in Stripe's form encoding (`types[]` repeated).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("limit", PAGE_LIMIT.to_string()),
            ("created[gte]", self.created_gte.to_string()),
            ("created[lte]", self.created_lte.to_string()),
        ];
        if let Some(id) = self.starting_after {
            q.push(("starting_after", id.to_string()));
        }
        q.extend(self.types.iter().map(|t| ("types[]", t.to_string())));
        q
    }
}

/// One page of events, newest first.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// The events (full envelopes).
    pub data: Vec<Value>,
    /// Whether older events follow.
    pub has_more: bool,
}

/// Why a page could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StripeError {
    /// 401/403: the key is wrong, revoked, or lacks read access to Events.
    #[error("stripe refused the key ({status})")]
    Auth {
        /// 401 or 403.
        status: u16,
    },
    /// 429, 5xx or no answer: try again later.
    #[error("{}: {message}", reason.as_str())]
    Retryable {
        /// `rate_limited`, `upstream_5xx` or `upstream_timeout`.
        reason: Reason,
        /// Stripe's `Retry-After` (clamped), if it sent one.
        retry_after: Option<Duration>,
        /// Short description (never the key).
        message: String,
    },
    /// Any other answer (400 for a bad parameter, a body that is not a list).
    #[error("stripe answered {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Stripe's error type and code, not its message.
        message: String,
    },
}

/// Reads one page of `GET {base}/v1/events`.
pub async fn list_events(
    app: &App,
    api: &StripeApi,
    query: &ListQuery<'_>,
) -> Result<Page, StripeError> {
    let res = app
        .http
        .get(format!("{}/v1/events", api.base_url))
        .bearer_auth(api.key.expose())
        .query(&query.pairs())
        .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
        .send()
        .await
        .map_err(|e| StripeError::Retryable {
            reason: Reason::UpstreamTimeout,
            retry_after: None,
            message: if e.is_timeout() {
                "timed out".into()
            } else {
                "no answer".into()
            },
        })?;
    read(app, res).await
}

/// Classifies Stripe's answer.
async fn read(app: &App, res: reqwest::Response) -> Result<Page, StripeError> {
    let status = res.status().as_u16();
    match status {
        200 => res.json::<Page>().await.map_err(|_| StripeError::Rejected {
            status,
            message: "not an event list".into(),
        }),
        401 | 403 => Err(StripeError::Auth { status }),
        429 | 500..=599 => Err(StripeError::Retryable {
            reason: if status == 429 {
                Reason::RateLimited
            } else {
                Reason::Upstream5xx
            },
            retry_after: retry_after(res.headers(), app.clock.now()),
            message: format!("status {status}"),
        }),
        _ => {
            let body: Value = res.json().await.unwrap_or_default();
            let e = &body["error"];
            let kind = e["type"].as_str().unwrap_or("unknown");
            let code = e["code"].as_str().unwrap_or("");
            Err(StripeError::Rejected {
                status,
                message: format!("{kind} {code}").trim().to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_has_the_limit_the_range_the_cursor_and_every_type() {
        let q = ListQuery {
            types: &["invoice.paid", "charge.refunded"],
            created_gte: 10,
            created_lte: 20,
            starting_after: Some("evt_1"),
        };
        let pairs = q.pairs();
        assert!(pairs.contains(&("limit", "100".into())));
        assert!(pairs.contains(&("created[gte]", "10".into())));
        assert!(pairs.contains(&("created[lte]", "20".into())));
        assert!(pairs.contains(&("starting_after", "evt_1".into())));
        let types: Vec<&String> = pairs
            .iter()
            .filter(|(k, _)| *k == "types[]")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(types, ["invoice.paid", "charge.refunded"]);
    }

    #[test]
    fn the_handled_types_fit_stripes_limit_of_twenty() {
        assert!(crate::stripe::event::HANDLED_TYPES.len() <= 20);
    }
}
