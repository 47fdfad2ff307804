//! A fake Zendesk Tickets API that behaves like the real one where our
//! delivery depends on it, and keeps what it received:
//!
//! - basic auth `<email>/token:<api token>`, else 401;
//! - `POST /api/v2/tickets`: the requester found or created by email; the
//!   first comment authored by the API user unless `author_id` says
//!   otherwise (Zendesk's default); priority must be urgent, high, normal or
//!   low (else 422); an `Idempotency-Key` is remembered until
//!   [`Fake::expire_keys`] (Zendesk: 2 hours): the same key and body answer
//!   the ticket created the first time (`x-idempotency-lookup: hit`),
//!   another body 400 `IdempotentRequestError`; a first use answers `miss`;
//! - `GET /api/v2/tickets?external_id=`: the live tickets with that id;
//! - `PUT /api/v2/tickets/{id}` with a comment; a deleted ticket → 404;
//! - `GET /api/v2/tickets/{id}/comments`.
//!
//! Knobs: [`Fake::lose_next`] (the next request with that method acts,
//! then answers 502: the answer is lost on the way back), [`Fake::fail_next`] (answer without acting),
//! [`Fake::delete`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const EMAIL: &str = "agent@acme.test";
pub const TOKEN: &str = "FAKE-zendesk-api-token";
/// The API user's id (the author of what it writes without `author_id`).
pub const AGENT_ID: i64 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub body: String,
    pub public: bool,
    pub author_id: i64,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: i64,
    pub external_id: Option<String>,
    pub subject: String,
    pub priority: String,
    pub tags: Vec<String>,
    pub requester_id: i64,
    pub comments: Vec<Comment>,
    pub deleted: bool,
}

#[derive(Default)]
struct State {
    next_id: i64,
    tickets: BTreeMap<i64, Ticket>,
    users: HashMap<String, i64>,
    keys: HashMap<String, (Value, i64)>,
    lose: Vec<&'static str>,
    fail: VecDeque<(u16, Option<u64>)>,
}

/// The fake (a wiremock server) and its state.
pub struct Fake {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl Fake {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            next_id: 35_436,
            ..State::default()
        }));
        Mock::given(path_regex("^/api/v2/"))
            .respond_with(Handler(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// Live (not deleted) tickets.
    pub fn tickets(&self) -> Vec<Ticket> {
        let s = self.state.lock().unwrap();
        s.tickets.values().filter(|t| !t.deleted).cloned().collect()
    }

    /// The user id the fake gave an email.
    pub fn user_id(&self, email: &str) -> Option<i64> {
        self.state
            .lock()
            .unwrap()
            .users
            .get(&email.to_lowercase())
            .copied()
    }

    /// Zendesk forgets idempotency keys after 2 hours.
    pub fn expire_keys(&self) {
        self.state.lock().unwrap().keys.clear();
    }

    /// The next request with `method` acts, then its answer is lost (502).
    pub fn lose_next(&self, method: &'static str) {
        self.state.lock().unwrap().lose.push(method);
    }

    /// The next request answers `status` (with `Retry-After`) without acting.
    pub fn fail_next(&self, status: u16, retry_after: Option<u64>) {
        self.state
            .lock()
            .unwrap()
            .fail
            .push_back((status, retry_after));
    }

    /// An agent deletes a ticket.
    pub fn delete(&self, id: i64) {
        if let Some(t) = self.state.lock().unwrap().tickets.get_mut(&id) {
            t.deleted = true;
        }
    }

    /// Every request received, as (method, path, Idempotency-Key).
    pub async fn requests(&self) -> Vec<(String, String, Option<String>)> {
        let reqs = self.server.received_requests().await.unwrap_or_default();
        reqs.iter()
            .map(|r| {
                let key = r.headers.get("idempotency-key");
                (
                    r.method.to_string(),
                    r.url.path().to_string(),
                    key.and_then(|k| k.to_str().ok()).map(str::to_string),
                )
            })
            .collect()
    }
}

struct Handler(Arc<Mutex<State>>);

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"));
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Basic {expected}")) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({ "error": "Couldn't authenticate you" }));
        }
        let mut s = self.0.lock().unwrap();
        if let Some((status, retry_after)) = s.fail.pop_front() {
            let mut r =
                ResponseTemplate::new(status).set_body_string("Rate limit exceeded or failure");
            if let Some(secs) = retry_after {
                r = r.insert_header("retry-after", secs.to_string().as_str());
            }
            return r;
        }
        let answer = s.route(req);
        let lost = s.lose.iter().position(|m| *m == req.method.as_str());
        if let Some(i) = lost.filter(|_| answer.0 < 300) {
            s.lose.remove(i);
            return ResponseTemplate::new(502).set_body_string("Bad Gateway");
        }
        let (status, body, lookup) = answer;
        let mut r = ResponseTemplate::new(status).set_body_json(body);
        if let Some(l) = lookup {
            r = r.insert_header("x-idempotency-lookup", l);
        }
        r
    }
}

type Answer = (u16, Value, Option<&'static str>);

fn not_found() -> Answer {
    let e = json!({ "error": "RecordNotFound", "description": "Not found" });
    (404, e, None)
}

/// A comment as Zendesk stores it: public and by the API user by default.
fn comment(c: &Value, text: &str) -> Comment {
    Comment {
        body: text.to_string(),
        public: c["public"].as_bool().unwrap_or(true),
        author_id: c["author_id"].as_i64().unwrap_or(AGENT_ID),
    }
}

impl State {
    fn route(&mut self, req: &Request) -> Answer {
        let path = req.url.path().trim_end_matches(".json").to_string();
        let parts: Vec<&str> = path.trim_start_matches("/api/v2/").split('/').collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let id = parts.get(1).and_then(|p| p.parse::<i64>().ok());
        match (req.method.as_str(), parts.as_slice(), id) {
            ("POST", ["tickets"], _) => {
                let key = req
                    .headers
                    .get("idempotency-key")
                    .and_then(|k| k.to_str().ok());
                self.create(key.map(str::to_string), body)
            }
            ("GET", ["tickets"], _) => {
                let wanted = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "external_id")
                    .map(|(_, v)| v.to_string());
                let list: Vec<Value> = self
                    .tickets
                    .values()
                    .filter(|t| !t.deleted && wanted.is_some() && t.external_id == wanted)
                    .map(ticket_json)
                    .collect();
                let count = list.len();
                let page = json!({ "tickets": list, "count": count, "next_page": null });
                (200, page, None)
            }
            ("PUT", ["tickets", _], Some(id)) => self.update(id, &body),
            ("GET", ["tickets", _, "comments"], Some(id)) => match self.tickets.get(&id) {
                Some(t) if !t.deleted => {
                    let list: Vec<Value> = t.comments.iter().map(|c| json!({ "type": "Comment",
                        "body": c.body, "plain_body": c.body, "public": c.public, "author_id": c.author_id })).collect();
                    let page = json!({ "comments": list, "count": list.len(), "next_page": null });
                    (200, page, None)
                }
                _ => not_found(),
            },
            _ => not_found(),
        }
    }

    fn create(&mut self, key: Option<String>, body: Value) -> Answer {
        if let Some((first, id)) = key.as_ref().and_then(|k| self.keys.get(k)) {
            if *first != body {
                let e = json!({ "error": "IdempotentRequestError", "description": "Request parameters don't match the given idempotency key" });
                return (400, e, None);
            }
            let replay = json!({ "ticket": ticket_json(&self.tickets[id]) });
            return (201, replay, Some("hit"));
        }
        let t = &body["ticket"];
        let priority = t["priority"].as_str().unwrap_or("normal").to_string();
        let text = t["comment"]["body"].as_str().unwrap_or("").to_string();
        let email = t["requester"]["email"]
            .as_str()
            .unwrap_or("")
            .to_lowercase();
        if !["urgent", "high", "normal", "low"].contains(&priority.as_str())
            || text.is_empty()
            || email.is_empty()
        {
            let e = json!({ "error": "RecordInvalid", "description": "Record validation errors" });
            return (422, e, None);
        }
        let next_user = 9_000 + self.users.len() as i64;
        let requester_id = *self.users.entry(email).or_insert(next_user);
        self.next_id += 1;
        let ticket = Ticket {
            id: self.next_id,
            external_id: t["external_id"].as_str().map(str::to_string),
            subject: t["subject"].as_str().unwrap_or("").to_string(),
            priority,
            tags: serde_json::from_value(t["tags"].clone()).unwrap_or_default(),
            requester_id,
            comments: vec![comment(&t["comment"], &text)],
            deleted: false,
        };
        let answer = json!({ "ticket": ticket_json(&ticket) });
        if let Some(k) = key {
            self.keys.insert(k, (body, ticket.id));
        }
        self.tickets.insert(ticket.id, ticket);
        (201, answer, Some("miss"))
    }

    fn update(&mut self, id: i64, body: &Value) -> Answer {
        let Some(t) = self.tickets.get_mut(&id).filter(|t| !t.deleted) else {
            return not_found();
        };
        let c = &body["ticket"]["comment"];
        if let Some(text) = c["body"].as_str() {
            t.comments.push(comment(c, text));
        }
        let answer = json!({ "ticket": ticket_json(t), "audit": { "events": [] } });
        (200, answer, None)
    }
}

fn ticket_json(t: &Ticket) -> Value {
    json!({
        "id": t.id, "url": format!("https://acme.zendesk.com/api/v2/tickets/{}.json", t.id),
        "external_id": t.external_id, "subject": t.subject, "priority": t.priority,
        "status": "new", "requester_id": t.requester_id, "submitter_id": AGENT_ID, "tags": t.tags,
    })
}
