//! A fake HubSpot batch-upsert endpoint that records what it received and
//! answers like HubSpot (one result per input, contact id stable per email).

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const UPSERT_PATH: &str = "/crm/v3/objects/contacts/batch/upsert";

/// Answers 200 with HubSpot's result shape.
pub struct Upsert;

impl Respond for Upsert {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let results: Vec<Value> = body["inputs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                let email = i["id"].as_str().unwrap_or("");
                json!({ "id": contact_id(email), "new": true, "properties": { "email": email }, "archived": false })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({ "status": "COMPLETE", "results": results }))
    }
}

/// The contact id the fake gives an email.
pub fn contact_id(email: &str) -> String {
    let n: u64 = email
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    (n % 1_000_000_000).to_string()
}

/// A fake that always upserts.
pub async fn start() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(Upsert)
        .mount(&server)
        .await;
    server
}

/// Every email the fake received, one entry per input.
pub async fn emails(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == UPSERT_PATH)
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            body["inputs"].as_array().cloned().unwrap_or_default()
        })
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect()
}

/// A HubSpot that remembers its contacts, for the one-contact-per-person
/// tests: batch upsert by email, batch update by id (207 `OBJECT_NOT_FOUND`
/// for an id it does not have, 409 `CONFLICT` naming the contact that holds
/// an email already), merge (the primary keeps its id and gains the other's
/// email as an additional one), and reading one contact. Every request is
/// still recorded by the mock server.
#[derive(Clone, Default)]
pub struct Crm {
    contacts: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<u64, Value>>>,
    /// Ids are never reused, as in HubSpot.
    last_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

pub const UPDATE_PATH: &str = "/crm/v3/objects/contacts/batch/update";
pub const MERGE_PATH: &str = "/crm/v3/objects/contacts/merge";

/// One endpoint of the fake.
type Handler = fn(&Crm, &Request) -> ResponseTemplate;

struct Route(Crm, Handler);

impl Respond for Route {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        (self.1)(&self.0, req)
    }
}

fn email_of(props: &Value) -> String {
    props["email"].as_str().unwrap_or("").to_lowercase()
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

fn object(id: u64, props: &Value) -> Value {
    json!({ "id": id.to_string(), "properties": props, "archived": false })
}

impl Crm {
    /// A fake HubSpot on its own server.
    pub async fn start() -> (MockServer, Crm) {
        let server = MockServer::start().await;
        let crm = Crm::default();
        let routes: [(&str, Handler); 3] = [
            (UPSERT_PATH, Crm::upsert),
            (UPDATE_PATH, Crm::update),
            (MERGE_PATH, Crm::merge),
        ];
        for (p, f) in routes {
            Mock::given(method("POST"))
                .and(path(p))
                .respond_with(Route(crm.clone(), f))
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(wiremock::matchers::path_regex(
                r"^/crm/v3/objects/contacts/\d+$",
            ))
            .respond_with(Route(crm.clone(), Crm::get))
            .mount(&server)
            .await;
        (server, crm)
    }

    /// Every contact: (id, properties).
    pub fn contacts(&self) -> Vec<(String, Value)> {
        let c = self.contacts.lock().unwrap();
        c.iter()
            .map(|(id, p)| (id.to_string(), p.clone()))
            .collect()
    }

    /// Adds a contact as a person would in HubSpot; returns its id.
    pub fn add(&self, props: Value) -> String {
        let id = self.next_id();
        self.contacts.lock().unwrap().insert(id, props);
        id.to_string()
    }

    /// Deletes a contact, as a person would in HubSpot.
    pub fn delete(&self, id: &str) {
        self.contacts
            .lock()
            .unwrap()
            .remove(&id.parse::<u64>().unwrap());
    }

    fn next_id(&self) -> u64 {
        1001 + self
            .last_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    fn holder(c: &std::collections::BTreeMap<u64, Value>, email: &str) -> Option<u64> {
        c.iter()
            .find(|(_, p)| email_of(p) == email)
            .map(|(id, _)| *id)
    }

    fn upsert(&self, req: &Request) -> ResponseTemplate {
        let mut c = self.contacts.lock().unwrap();
        let mut results = Vec::new();
        for input in body(req)["inputs"].as_array().cloned().unwrap_or_default() {
            let email = input["id"].as_str().unwrap_or("").to_lowercase();
            let id = Self::holder(&c, &email).unwrap_or_else(|| self.next_id());
            let props = c.entry(id).or_insert_with(|| json!({}));
            for (k, v) in input["properties"].as_object().cloned().unwrap_or_default() {
                props[k] = v;
            }
            results.push(object(id, props));
        }
        ResponseTemplate::new(200)
            .set_body_json(json!({ "status": "COMPLETE", "results": results }))
    }

    fn update(&self, req: &Request) -> ResponseTemplate {
        let mut c = self.contacts.lock().unwrap();
        let inputs = body(req)["inputs"].as_array().cloned().unwrap_or_default();
        // Validated as a whole first: an email another contact holds fails the request.
        for input in &inputs {
            let id: u64 = input["id"].as_str().unwrap_or("0").parse().unwrap_or(0);
            let email = email_of(&input["properties"]);
            if let Some(holder) =
                Self::holder(&c, &email).filter(|h| *h != id && c.contains_key(&id))
            {
                return ResponseTemplate::new(409).set_body_json(json!({
                    "status": "error", "category": "CONFLICT",
                    "message": format!("Contact already exists. Existing ID: {holder}"),
                }));
            }
        }
        let (mut results, mut missing) = (Vec::new(), Vec::new());
        for input in inputs {
            let id_text = input["id"].as_str().unwrap_or("0").to_string();
            let Some(props) = c.get_mut(&id_text.parse().unwrap_or(0)) else {
                missing.push(id_text);
                continue;
            };
            for (k, v) in input["properties"].as_object().cloned().unwrap_or_default() {
                props[k] = v;
            }
            results.push(object(id_text.parse().unwrap(), props));
        }
        if missing.is_empty() {
            return ResponseTemplate::new(200)
                .set_body_json(json!({ "status": "COMPLETE", "results": results }));
        }
        ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE", "results": results, "numErrors": 1,
            "errors": [{ "status": "error", "category": "OBJECT_NOT_FOUND",
                         "message": "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
                         "context": { "ids": missing } }],
        }))
    }

    fn merge(&self, req: &Request) -> ResponseTemplate {
        let b = body(req);
        let id = |k: &str| b[k].as_str().unwrap_or("0").parse::<u64>().unwrap_or(0);
        let (primary, other) = (id("primaryObjectId"), id("objectIdToMerge"));
        let mut c = self.contacts.lock().unwrap();
        if primary == other || !c.contains_key(&primary) || !c.contains_key(&other) {
            return ResponseTemplate::new(404).set_body_json(json!({ "status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found" }));
        }
        let gone = c.remove(&other).unwrap();
        let props = c.get_mut(&primary).unwrap();
        props["hs_additional_emails"] = json!(email_of(&gone));
        ResponseTemplate::new(200).set_body_json(object(primary, props))
    }

    fn get(&self, req: &Request) -> ResponseTemplate {
        let id: u64 = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        match self.contacts.lock().unwrap().get(&id) {
            Some(props) => ResponseTemplate::new(200).set_body_json(object(id, props)),
            None => ResponseTemplate::new(404).set_body_json(json!({ "status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found" })),
        }
    }
}
