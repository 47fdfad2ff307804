#![allow(dead_code)] // shared by the tests and the catch-up bench; not all use all of it
//! A fake Stripe Events API (`GET /v1/events`) over an in-memory list, with
//! Stripe's list semantics: newest first (`created`, then id, descending);
//! `limit` 1..=100 (default 10); `starting_after` (the objects after that
//! one) and `ending_before` (the `limit` objects just before it), never
//! both; a cursor names a position in the whole list, whatever the filters;
//! `created[gt|gte|lt|lte]`; `types[]` (or `type`, with `*`); `has_more`;
//! the bearer key. Every request is recorded; faults can be scripted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A scripted failure.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer this status with a Stripe error body.
    Status(u16),
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
}

/// Which requests a fault hits.
type Matcher = Box<dyn Fn(&Recorded) -> bool + Send + Sync>;

struct Scripted {
    times: usize,
    when: Matcher,
    fault: Fault,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// The first value of `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// An event and its JSON text (serialized once: a page is put together from
/// the texts, without copying or re-serializing the documents).
struct Listed {
    event: Value,
    json: String,
}

#[derive(Default)]
struct State {
    key: String,
    /// Newest first, as Stripe lists them.
    events: Vec<Listed>,
    /// Event id -> position in `events` (a cursor is found without a scan).
    positions: HashMap<String, usize>,
    requests: Vec<Recorded>,
    faults: Vec<Scripted>,
}

/// The fake, listening on a local port.
pub struct FakeStripe {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

#[derive(Clone)]
struct Responder(Arc<Mutex<State>>);

impl FakeStripe {
    /// Starts the fake; requests must carry `Authorization: Bearer <key>`.
    pub async fn start(key: &str) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            key: key.to_string(),
            ..Default::default()
        }));
        Mock::given(method("GET"))
            .and(path("/v1/events"))
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The base URL (`STRIPE_API_BASE`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Adds events (Stripe lists them as soon as they exist).
    pub fn add(&self, events: impl IntoIterator<Item = Value>) {
        let mut s = self.state.lock().unwrap();
        s.events.extend(events.into_iter().map(|event| Listed {
            json: event.to_string(),
            event,
        }));
        s.events
            .sort_by_key(|e| std::cmp::Reverse(order_key(&e.event)));
        s.positions = s
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.event["id"].as_str().unwrap_or("").to_string(), i))
            .collect();
    }

    /// The next `times` requests matching `when` get `fault`.
    pub fn fail(
        &self,
        times: usize,
        when: impl Fn(&Recorded) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) {
        self.state.lock().unwrap().faults.push(Scripted {
            times,
            when: Box::new(when),
            fault,
        });
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

/// Stripe's order: newest first; within a second, by id.
fn order_key(e: &Value) -> (i64, String) {
    (
        e["created"].as_i64().unwrap_or(0),
        e["id"].as_str().unwrap_or("").to_string(),
    )
}

/// An answer: status and JSON text (a `ResponseTemplate` hides its status).
type Answer = (u16, String);

fn error(status: u16, kind: &str, code: &str, message: &str) -> Answer {
    let body = json!({ "error": { "type": kind, "code": code, "message": message } });
    (status, body.to_string())
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let mut rec = Recorded {
            query: request.url.query_pairs().into_owned().collect(),
            status: 200,
            at: Instant::now(),
        };
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let mut retry_after = None;
        let (status, body) = if auth != Some(format!("Bearer {}", s.key).as_str()) {
            error(401, "invalid_request_error", "", "Invalid API Key provided")
        } else if let Some(fault) = take_fault(&mut s.faults, &rec) {
            match fault {
                Fault::Status(code) => error(code, "api_error", "", "injected failure"),
                Fault::RateLimited { retry_after_secs } => {
                    retry_after = Some(retry_after_secs.to_string());
                    error(
                        429,
                        "invalid_request_error",
                        "rate_limit",
                        "Too many requests",
                    )
                }
            }
        } else {
            match list(&s, &rec) {
                Ok(body) => (200, body),
                Err(e) => e,
            }
        };
        rec.status = status;
        s.requests.push(rec);
        let answer = ResponseTemplate::new(status).set_body_raw(body, "application/json");
        match retry_after {
            Some(secs) => answer.insert_header("retry-after", secs.as_str()),
            None => answer,
        }
    }
}

fn take_fault(faults: &mut [Scripted], rec: &Recorded) -> Option<Fault> {
    let f = faults.iter_mut().find(|f| f.times > 0 && (f.when)(rec))?;
    f.times -= 1;
    Some(f.fault)
}

/// A request's filters, read once per request (the bench lists 10,000
/// events: reading the query string per event made the fake the bottleneck).
struct Filter<'a> {
    gte: Option<i64>,
    gt: Option<i64>,
    lte: Option<i64>,
    lt: Option<i64>,
    eq: Option<i64>,
    types: Vec<&'a str>,
    kind: Option<&'a str>,
}

impl<'a> Filter<'a> {
    fn of(rec: &'a Recorded) -> Self {
        let bound = |k: &str| rec.param(k).and_then(|v| v.parse::<i64>().ok());
        Self {
            gte: bound("created[gte]"),
            gt: bound("created[gt]"),
            lte: bound("created[lte]"),
            lt: bound("created[lt]"),
            eq: bound("created"),
            types: rec
                .query
                .iter()
                .filter(|(k, _)| k.starts_with("types["))
                .map(|(_, v)| v.as_str())
                .collect(),
            kind: rec.param("type"),
        }
    }

    /// The newest `created` the filter admits.
    fn newest(&self) -> Option<i64> {
        [self.lte, self.lt.map(|v| v - 1), self.eq]
            .into_iter()
            .flatten()
            .min()
    }

    /// The oldest `created` the filter admits.
    fn oldest(&self) -> Option<i64> {
        [self.gte, self.gt.map(|v| v + 1), self.eq]
            .into_iter()
            .flatten()
            .max()
    }

    fn matches(&self, e: &Value) -> bool {
        let created = e["created"].as_i64().unwrap_or(0);
        let kind = e["type"].as_str().unwrap_or("");
        let in_range = self.gte.is_none_or(|v| created >= v)
            && self.gt.is_none_or(|v| created > v)
            && self.lte.is_none_or(|v| created <= v)
            && self.lt.is_none_or(|v| created < v)
            && self.eq.is_none_or(|v| created == v);
        let type_ok = match self.kind {
            Some(t) if t.ends_with('*') => kind.starts_with(&t[..t.len() - 1]),
            Some(t) => kind == t,
            None => self.types.is_empty() || self.types.contains(&kind),
        };
        in_range && type_ok
    }
}

/// One page, exactly as Stripe pages a list. Only the events a page needs
/// are looked at (the bench lists 10,000 events: scanning the whole list per
/// page made the fake cost more CPU than the ingest it feeds).
fn list(s: &State, rec: &Recorded) -> Result<String, Answer> {
    let limit = match rec.param("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        _ => {
            return Err(error(
                400,
                "invalid_request_error",
                "parameter_invalid_integer",
                "limit",
            ))
        }
    };
    let after = rec.param("starting_after");
    let before = rec.param("ending_before");
    if after.is_some() && before.is_some() {
        return Err(error(
            400,
            "invalid_request_error",
            "parameter_invalid",
            "Received both starting_after and ending_before parameters. Please pass in only one.",
        ));
    }
    let cursor = match after.or(before) {
        Some(id) => Some(*s.positions.get(id).ok_or_else(|| {
            error(
                400,
                "invalid_request_error",
                "resource_missing",
                "No such event",
            )
        })?),
        None => None,
    };
    let filter = Filter::of(rec);
    let (newest, oldest) = (filter.newest(), filter.oldest());
    let created = |e: &Listed| e.event["created"].as_i64().unwrap_or(0);
    let events = &s.events;
    let mut page: Vec<&Listed> = match (cursor, before.is_some()) {
        // The matching events just newer than the cursor, nearest first.
        (Some(c), true) => events[..c]
            .iter()
            .rev()
            .take_while(|e| newest.is_none_or(|n| created(e) <= n))
            .filter(|e| filter.matches(&e.event))
            .take(limit + 1)
            .collect(),
        // The matching events older than the cursor (or from the newest
        // event the filter admits), newest first.
        (c, _) => {
            let start = match c {
                Some(c) => c + 1,
                None => newest.map_or(0, |n| events.partition_point(|e| created(e) > n)),
            };
            events[start..]
                .iter()
                .take_while(|e| oldest.is_none_or(|o| created(e) >= o))
                .filter(|e| filter.matches(&e.event))
                .take(limit + 1)
                .collect()
        }
    };
    let has_more = page.len() > limit;
    page.truncate(limit);
    if before.is_some() {
        page.reverse();
    }
    let data: Vec<&str> = page.iter().map(|e| e.json.as_str()).collect();
    Ok(format!(
        r#"{{"object":"list","url":"/v1/events","has_more":{has_more},"data":[{}]}}"#,
        data.join(",")
    ))
}
