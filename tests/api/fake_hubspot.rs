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
