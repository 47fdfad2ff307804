//! The four Zendesk Tickets API calls a `zendesk_ticket` job makes, each
//! with basic auth `<email>/token:<api token>` and a 10 s timeout, and each
//! answer classified where it arrives (429 with `Retry-After`, 5xx and
//! timeouts retry; 401/403 `auth_failed`; 400/422 `invalid_payload`):
//!
//! - `POST /api/v2/tickets` with `Idempotency-Key` ([`Api::create`]):
//!   Zendesk keeps a key 2 hours; the same key and body answer the ticket
//!   created the first time (`x-idempotency-lookup: hit`), another body 400.
//! - `GET /api/v2/tickets?external_id=` ([`Api::find`]): how a retry finds a
//!   ticket it made once the key may have expired.
//! - `PUT /api/v2/tickets/{id}` with a comment ([`Api::comment`]): 404 means
//!   the ticket is gone (deleted), which the job answers with a new ticket.
//! - `GET /api/v2/tickets/{id}/comments` ([`Api::has_comment`]): whether an
//!   earlier attempt's comment arrived although its answer was lost (a PUT
//!   takes no idempotency key).

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::config::Zendesk;
use crate::jobs::outcome::{classify_status, classify_transport};
use crate::jobs::{JobError, Reason};
use crate::state::App;

/// Per-request timeout.
pub const TIMEOUT_MS: u64 = 10_000;

/// A Zendesk ticket, as far as we use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZdTicket {
    /// Zendesk's ticket id.
    pub id: i64,
    /// Its requester's user id.
    pub requester_id: Option<i64>,
}

/// How [`Api::create`] got its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Created by this request (`x-idempotency-lookup: miss`).
    Created,
    /// Created by an earlier request with the same key (`hit`).
    Replayed,
    /// Found by `external_id` (no request created it).
    Found,
}

/// Whether a ticket was there to write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Written, or already there.
    Done,
    /// The ticket is gone (404).
    Gone,
}

/// One job's Zendesk client.
pub struct Api<'a> {
    app: &'a App,
    zd: &'a Zendesk,
}

impl<'a> Api<'a> {
    /// A client for `zd`'s account.
    pub fn new(app: &'a App, zd: &'a Zendesk) -> Self {
        Self { app, zd }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let token = Some(self.zd.api_token.expose());
        self.app
            .http
            .request(method, format!("{}{path}", self.zd.base_url))
            .basic_auth(format!("{}/token", self.zd.email), token)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(Duration::from_millis(TIMEOUT_MS))
    }

    /// Sends, classifies a failure, and reads a 2xx answer's headers and
    /// JSON body (404 is `Ok(None)`, for the caller to decide).
    async fn send(&self, req: RequestBuilder) -> Result<Option<(HeaderMap, Value)>, JobError> {
        let res = req
            .send()
            .await
            .map_err(|e| classify_transport(&e, false))?;
        let status = res.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        classify_status(status, res.headers(), self.app.clock.now(), false)?;
        let headers = res.headers().clone();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| classify_transport(&e, false))?;
        Ok(Some((
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )))
    }

    /// Creates a ticket (`body` exactly as first sent) under `key`.
    pub async fn create(&self, key: &str, body: &Value) -> Result<(ZdTicket, Origin), JobError> {
        let req = self
            .request(Method::POST, "/api/v2/tickets")
            .header("Idempotency-Key", key)
            .json(body);
        let (headers, answer) = self.send(req).await?.ok_or_else(no_api)?;
        let hit = headers
            .get("x-idempotency-lookup")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"hit"));
        let ticket = parse_ticket(&answer["ticket"]).ok_or_else(|| unexpected(200))?;
        Ok((
            ticket,
            if hit {
                Origin::Replayed
            } else {
                Origin::Created
            },
        ))
    }

    /// The newest live ticket with this `external_id` other than `skip`
    /// (deleted tickets are not listed).
    pub async fn find(
        &self,
        external_id: &str,
        skip: Option<i64>,
    ) -> Result<Option<ZdTicket>, JobError> {
        let req = self
            .request(Method::GET, "/api/v2/tickets")
            .query(&[("external_id", external_id)]);
        let (_, answer) = self.send(req).await?.ok_or_else(no_api)?;
        let tickets = answer["tickets"]
            .as_array()
            .ok_or_else(|| unexpected(200))?;
        Ok(tickets
            .iter()
            .filter_map(parse_ticket)
            .filter(|t| Some(t.id) != skip)
            .max_by_key(|t| t.id))
    }

    /// Adds `comment` (`{"body", "public", "author_id"?}`) to ticket `id`.
    pub async fn comment(&self, id: i64, comment: Value) -> Result<Presence, JobError> {
        let req = self
            .request(Method::PUT, &format!("/api/v2/tickets/{id}"))
            .json(&json!({ "ticket": { "comment": comment } }));
        Ok(match self.send(req).await? {
            Some(_) => Presence::Done,
            None => Presence::Gone,
        })
    }

    /// Whether ticket `id` has a comment whose body matches `matches`
    /// (first page: 100 comments); `None` when the ticket is gone.
    pub async fn has_comment(
        &self,
        id: i64,
        matches: impl Fn(&str) -> bool,
    ) -> Result<Option<bool>, JobError> {
        let req = self.request(Method::GET, &format!("/api/v2/tickets/{id}/comments"));
        let Some((_, answer)) = self.send(req).await? else {
            return Ok(None);
        };
        let comments = answer["comments"]
            .as_array()
            .ok_or_else(|| unexpected(200))?;
        Ok(Some(comments.iter().any(|c| {
            [&c["body"], &c["plain_body"]]
                .iter()
                .any(|b| b.as_str().is_some_and(&matches))
        })))
    }
}

/// Text compared with whitespace collapsed: Zendesk may normalise line ends.
pub fn same_text(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// A 404 where the API is always found: the address is not a Zendesk
/// account's (a wrong subdomain), which no retry fixes.
fn no_api() -> JobError {
    JobError::Permanent {
        reason: Reason::Upstream4xx,
        status: Some(404),
        message: "no Zendesk API at this address: check ZENDESK_SUBDOMAIN".into(),
    }
}

fn parse_ticket(v: &Value) -> Option<ZdTicket> {
    Some(ZdTicket {
        id: v["id"].as_i64()?,
        requester_id: v["requester_id"].as_i64(),
    })
}

/// A 2xx whose body is not what the API documents: retried, the
/// answer may be a proxy's.
fn unexpected(status: u16) -> JobError {
    JobError::Retryable {
        reason: Reason::Upstream5xx,
        status: Some(status),
        retry_after: None,
        message: "zendesk answered an unexpected body".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_whatever_their_line_ends_and_spacing() {
        assert!(same_text("Hi,\r\nstill  broken\n", "Hi,\nstill broken"));
        assert!(!same_text("Hi, still broken", "Hi, fixed"));
    }

    #[test]
    fn a_ticket_needs_an_id_and_may_lack_a_requester() {
        let t = parse_ticket(&json!({ "id": 35436, "requester_id": 20978392 }));
        assert_eq!(
            t,
            Some(ZdTicket {
                id: 35436,
                requester_id: Some(20978392)
            })
        );
        assert_eq!(parse_ticket(&json!({ "subject": "x" })), None);
        assert_eq!(
            parse_ticket(&json!({ "id": 1 })).unwrap().requester_id,
            None
        );
    }
}
