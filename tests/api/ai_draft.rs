//! AI drafts end to end: tickets come in through the real intake, the
//! `ai_draft` job calls a fake OpenAI (wiremock, which records every
//! request), drafts land in Postgres. Here: the happy path, the
//! guardrails, failures and budgets; [`injection`]: the prompt-injection
//! corpus and what the request may carry; [`guardrails`]: disguised and
//! translated promises from the guard's corpus, metadata and hidden
//! characters; [`admin`]: `POST /api/ai/draft` and the admin drafts API.

#[allow(unused_imports)]
use opsbridge::db::Sql;
mod admin;
mod guardrails;
mod injection;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Duration as Span;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{spawn_app_with, TestApp};

const OPENAI_KEY: &str = "sk-FAKE-openai-key-for-opsbridge";
const COMPLETIONS: &str = "/v1/chat/completions";

/// The model's answer content for `reply`, as a well-behaved model gives it.
fn content(category: &str, reply: &str) -> Value {
    json!({
        "category": category, "urgency": "normal", "summary": "The customer asks a question.",
        "draft_reply": reply, "mentions_billing_change": false, "mentions_access_change": false,
        "mentions_refund": false, "confidence": 0.9
    })
}

/// A Chat Completions answer whose message content is `content`.
fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_763_900_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{ "index": 0, "finish_reason": "stop",
                      "message": { "role": "assistant", "content": content, "refusal": null } }],
        "usage": { "prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375 }
    }))
}

/// A fake model that answers by what the customer wrote: refund, billing
/// and access questions get the matching category and flags.
fn classifying_model(req: &Request) -> ResponseTemplate {
    let body = user_message(req).to_lowercase();
    let mut c = content("how_to", "Go to Settings, then Export, and pick CSV.");
    if body.contains("refund") {
        c = content("refund", "A team member will review your request.");
        c["mentions_refund"] = json!(true);
    } else if body.contains("charged") {
        c = content("billing", "A team member will look at the charges.");
        c["mentions_billing_change"] = json!(true);
    } else if body.contains("log in") {
        c = content("access", "A team member will help you get back in.");
        c["mentions_access_change"] = json!(true);
    }
    completion(&c.to_string())
}

/// The user message (member context + customer block) of a request.
fn user_message(req: &Request) -> String {
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    body["messages"][1]["content"].as_str().unwrap().to_string()
}

async fn fake_openai(responder: impl wiremock::Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .respond_with(responder)
        .mount(&server)
        .await;
    server
}

/// The app with OpenAI at `server`, background work off (tests drain), and
/// intake limits out of the way; `edit` changes anything else.
async fn app_with(server: &MockServer, edit: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let base = format!("{}/v1", server.uri());
    spawn_app_with(move |v| {
        v.insert("OPENAI_API_KEY".into(), OPENAI_KEY.into());
        v.insert("OPENAI_BASE_URL".into(), base);
        v.insert("OPENAI_TIMEOUT_MS".into(), "500".into());
        v.insert("TEST_BACKGROUND".into(), "off".into());
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "1000".into());
        v.insert("SUPPORT_RATE_LIMIT_PER_EMAIL".into(), "1000".into());
        edit(v);
    })
    .await
}

async fn app(server: &MockServer) -> TestApp {
    app_with(server, |_| {}).await
}

/// Posts a contact through the real intake; returns the ticket id.
async fn contact(t: &TestApp, email: &str, subject: &str, message: &str) -> String {
    let body =
        json!({ "email": email, "name": "Sam Customer", "subject": subject, "message": message });
    let res = t
        .request(
            Method::POST,
            "/api/support/intake",
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    res.json()["ticket_id"].as_str().unwrap().to_string()
}

async fn one(t: &TestApp, sql: &str, id: &str) -> Option<Value> {
    let id = uuid::Uuid::parse_str(id).unwrap();
    t.db()
        .await
        .query_opt(sql, &[&id])
        .await
        .unwrap()
        .map(|r| r.get(0))
}

async fn draft_of(t: &TestApp, ticket: &str) -> Option<Value> {
    one(
        t,
        "SELECT to_jsonb(d) FROM ai_drafts d WHERE ticket_id = $1",
        ticket,
    )
    .await
}

async fn ticket(t: &TestApp, id: &str) -> Value {
    one(t, "SELECT to_jsonb(t) FROM tickets t WHERE id = $1", id)
        .await
        .unwrap()
}

async fn ai_job(t: &TestApp, ticket: &str) -> Value {
    let key = format!("ai_draft:{ticket}:1");
    t.db()
        .await
        .query_one(
            "SELECT to_jsonb(j) FROM jobs j WHERE dedupe_key = $1",
            &[&key],
        )
        .await
        .unwrap()
        .get(0)
}

/// Drains, then keeps moving the clock past every backoff and draining.
async fn drain_until_done(t: &TestApp) {
    for _ in 0..5 {
        t.drain().await;
        t.clock.advance(Span::minutes(5));
    }
}

async fn calls(server: &MockServer) -> Vec<Value> {
    let reqs = server.received_requests().await.unwrap();
    reqs.iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn has(v: &Value, s: &str) -> bool {
    v.as_array().unwrap().iter().any(|x| x == s)
}

#[tokio::test]
async fn a_support_contact_is_drafted_with_every_schema_field() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let id = contact(&t, "sam@example.com", "Export", "How do I export my data?").await;
    t.drain().await;
    let d = draft_of(&t, &id).await.expect("a draft");
    assert_eq!(
        (
            d["status"].as_str(),
            d["category"].as_str(),
            d["urgency"].as_str()
        ),
        (Some("ready"), Some("how_to"), Some("normal"))
    );
    assert_eq!(
        d["draft_reply"],
        "Go to Settings, then Export, and pick CSV."
    );
    assert_eq!(d["summary"], "The customer asks a question.");
    assert_eq!(
        d["flags"],
        json!({"mentions_billing_change": false, "mentions_access_change": false, "mentions_refund": false})
    );
    assert_eq!(
        (d["confidence"].as_f64(), d["reasons"].clone()),
        (Some(0.9), json!([]))
    );
    assert_eq!(
        (
            d["model"].as_str(),
            d["prompt_tokens"].as_i64(),
            d["completion_tokens"].as_i64()
        ),
        (Some("gpt-4o-mini-2024-07-18"), Some(321), Some(54))
    );
    assert_eq!(d["contact_n"], 1);
    let tk = ticket(&t, &id).await;
    assert!(
        has(&tk["tags"], "ai:how_to"),
        "the category only adds a tag"
    );
    assert_eq!(
        (tk["priority"].as_str(), tk["needs_human"].as_bool()),
        (Some("normal"), Some(false))
    );
    assert_eq!(ai_job(&t, &id).await["state"], "succeeded");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {OPENAI_KEY}").as_str()
    );
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "support_draft"
    );
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert!(body["safety_identifier"]
        .as_str()
        .unwrap()
        .starts_with("m_"));
}

#[tokio::test]
async fn billing_refund_and_access_drafts_wait_for_approval() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let cases = [
        (
            "a@example.com",
            "I want a refund for last month",
            "refund",
            "model_flagged_refund",
        ),
        (
            "b@example.com",
            "Why was I charged twice this month?",
            "billing",
            "model_flagged_billing",
        ),
        (
            "c@example.com",
            "I can't log in since yesterday",
            "access",
            "model_flagged_access",
        ),
    ];
    let mut ids = Vec::new();
    for (email, message, _, _) in cases {
        ids.push(contact(&t, email, "Help", message).await);
    }
    t.drain().await;
    for (id, (_, message, category, reason)) in ids.iter().zip(cases) {
        let d = draft_of(&t, id).await.expect("a draft");
        assert_eq!(
            (d["status"].as_str(), d["category"].as_str()),
            (Some("pending_approval"), Some(category)),
            "{message}"
        );
        assert!(
            has(&d["reasons"], reason) && has(&d["reasons"], "sensitive_category"),
            "{message}: {}",
            d["reasons"]
        );
    }
    let refund = draft_of(&t, &ids[0]).await.unwrap();
    assert!(
        has(&refund["reasons"], "ticket_needs_human"),
        "the intake rules flagged it first"
    );
}

#[tokio::test]
async fn a_timeout_is_retried_and_after_the_last_attempt_the_ticket_needs_a_human() {
    let server = fake_openai(
        completion(&content("how_to", "Hi").to_string()).set_delay(Duration::from_secs(3)),
    )
    .await;
    let t = app_with(&server, |v| {
        v.insert("OPENAI_TIMEOUT_MS".into(), "200".into());
    })
    .await;
    let id = contact(&t, "slow@example.com", "Export", "How do I export?").await;
    t.drain().await;
    let job = ai_job(&t, &id).await;
    assert_eq!(
        (job["state"].as_str(), job["reason"].as_str()),
        (Some("pending"), Some("upstream_timeout"))
    );
    assert_eq!(
        ticket(&t, &id).await["needs_human"],
        false,
        "not yet: the outbox retries"
    );
    drain_until_done(&t).await;
    let job = ai_job(&t, &id).await;
    assert_eq!(
        (
            job["state"].as_str(),
            job["reason"].as_str(),
            job["attempts"].as_i64()
        ),
        (Some("dead"), Some("max_attempts"), Some(3))
    );
    let tk = ticket(&t, &id).await;
    assert_eq!(tk["needs_human"], true);
    assert!(has(&tk["reasons"], "ai_failed"));
    assert!(draft_of(&t, &id).await.is_none());
}

#[tokio::test]
async fn a_500_is_retried_and_the_next_attempt_stores_the_draft() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .respond_with(classifying_model)
        .mount(&server)
        .await;
    let t = app(&server).await;
    let id = contact(&t, "five@example.com", "Export", "How do I export?").await;
    t.drain().await;
    assert_eq!(ai_job(&t, &id).await["reason"], "upstream_5xx");
    drain_until_done(&t).await;
    let job = ai_job(&t, &id).await;
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_i64()),
        (Some("succeeded"), Some(2))
    );
    assert!(draft_of(&t, &id).await.is_some());
    assert_eq!(ticket(&t, &id).await["needs_human"], false);
}

#[tokio::test]
async fn always_500_goes_dead_and_sends_the_ticket_to_a_person() {
    let server = fake_openai(ResponseTemplate::new(503)).await;
    let t = app(&server).await;
    let id = contact(&t, "down@example.com", "Export", "How do I export?").await;
    drain_until_done(&t).await;
    let job = ai_job(&t, &id).await;
    assert_eq!(
        (job["state"].as_str(), job["reason"].as_str()),
        (Some("dead"), Some("max_attempts"))
    );
    assert!(has(&ticket(&t, &id).await["reasons"], "ai_failed"));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

/// Runs one contact against a model answering `answer`; returns the fake
/// (kept alive for later drains), the app, the ticket and its job.
async fn failing_answer(answer: ResponseTemplate) -> (MockServer, TestApp, String, Value) {
    let server = fake_openai(answer).await;
    let t = app(&server).await;
    let id = contact(&t, "odd@example.com", "Export", "How do I export?").await;
    t.drain().await;
    let job = ai_job(&t, &id).await;
    (server, t, id, job)
}

#[tokio::test]
async fn a_refusal_is_dead_at_once_with_ai_refused() {
    let refusal = ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-r", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "finish_reason": "stop",
                      "message": { "role": "assistant", "content": null, "refusal": "I'm sorry, I can't help with that." } }]
    }));
    let (_server, t, id, job) = failing_answer(refusal).await;
    assert_eq!(
        (
            job["state"].as_str(),
            job["reason"].as_str(),
            job["attempts"].as_i64()
        ),
        (Some("dead"), Some("ai_refused"), Some(1))
    );
    assert!(has(&ticket(&t, &id).await["reasons"], "ai_failed"));
    assert!(draft_of(&t, &id).await.is_none());
}

#[tokio::test]
async fn malformed_json_from_the_model_is_a_retried_invalid_output() {
    let (_server, t, id, job) =
        failing_answer(completion("Sure! Here is your JSON: {\"category\": ")).await;
    assert_eq!(
        (job["state"].as_str(), job["reason"].as_str()),
        (Some("pending"), Some("ai_invalid_output"))
    );
    drain_until_done(&t).await;
    assert_eq!(ai_job(&t, &id).await["state"], "dead");
    assert!(has(&ticket(&t, &id).await["reasons"], "ai_failed"));
    assert!(draft_of(&t, &id).await.is_none());
}

#[tokio::test]
async fn a_schema_violation_is_an_invalid_output_never_a_draft() {
    let mut bad = content("vip", "Done, you are VIP now.");
    bad["set_plan"] = json!("enterprise");
    let (_server, t, id, job) = failing_answer(completion(&bad.to_string())).await;
    assert_eq!(job["reason"], "ai_invalid_output");
    assert!(
        job["last_error"].as_str().unwrap().contains("schema"),
        "{}",
        job["last_error"]
    );
    assert!(draft_of(&t, &id).await.is_none());
    assert_eq!(ticket(&t, &id).await["tags"], json!([]));
}

#[tokio::test]
async fn an_exhausted_member_budget_makes_no_call_and_flags_the_ticket() {
    let server = fake_openai(classifying_model).await;
    let t = app_with(&server, |v| {
        v.insert("AI_DAILY_REQUESTS_PER_MEMBER".into(), "1".into());
    })
    .await;
    let id = contact(&t, "busy@example.com", "Export", "How do I export?").await;
    t.drain().await;
    assert!(draft_of(&t, &id).await.is_some());
    let again = contact(&t, "busy@example.com", "Export", "And how do I import?").await;
    assert_eq!(again, id, "merged into the open ticket as contact 2");
    t.drain().await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no second call"
    );
    let job2 = t
        .count_where(
            "jobs",
            "dedupe_key LIKE 'ai_draft:%:2' AND state = 'succeeded'",
        )
        .await;
    assert_eq!(job2, 1, "skipped jobs succeed");
    let tk = ticket(&t, &id).await;
    assert_eq!(tk["needs_human"], true);
    assert!(has(&tk["reasons"], "ai_budget"));
}

#[tokio::test]
async fn a_tiny_global_token_budget_stops_every_call() {
    let server = fake_openai(classifying_model).await;
    let t = app_with(&server, |v| {
        v.insert("AI_DAILY_TOKENS".into(), "10".into());
    })
    .await;
    let id = contact(&t, "tokens@example.com", "Export", "How do I export?").await;
    t.drain().await;
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(has(&ticket(&t, &id).await["reasons"], "ai_budget"));
    assert_eq!(ai_job(&t, &id).await["state"], "succeeded");
}

#[tokio::test]
async fn with_redis_down_no_model_call_is_made() {
    let server = fake_openai(classifying_model).await;
    let t = app_with(&server, |v| {
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    let id = contact(&t, "noredis@example.com", "Export", "How do I export?").await;
    t.drain().await;
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "fail closed"
    );
    let job = ai_job(&t, &id).await;
    assert_eq!(
        (job["state"].as_str(), job["reason"].as_str()),
        (Some("pending"), Some("ai_budget"))
    );
}

#[tokio::test]
async fn skip_tags_and_the_kill_switch_keep_the_intake_from_enqueueing() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    contact(
        &t,
        "cb@example.com",
        "Bank",
        "I opened a chargeback with my bank",
    )
    .await;
    assert_eq!(
        t.count_where("jobs", "kind = 'ai_draft'").await,
        0,
        "dispute tickets go to a person only"
    );
    opsbridge::flags::set(
        &t.db().await,
        "openai",
        false,
        "test",
        "paused",
        t.clock_now(),
    )
    .await
    .unwrap();
    contact(&t, "paused@example.com", "Export", "How do I export?").await;
    assert_eq!(
        t.count_where("jobs", "kind = 'ai_draft'").await,
        0,
        "paused"
    );
}

#[tokio::test]
async fn without_openai_the_intake_enqueues_nothing() {
    let t = spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    contact(&t, "plain@example.com", "Export", "How do I export?").await;
    assert_eq!(t.count_where("jobs", "kind = 'ai_draft'").await, 0);
}
