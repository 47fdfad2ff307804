//! `POST /api/ai/draft` and the admin drafts API: list by status, show,
//! approve (who and when), reject with a note, edit before a decision only,
//! the latency metric, and auth.

use axum::body::Body;

use super::*;
use crate::helpers::ADMIN_TOKEN;

async fn admin(t: &TestApp, m: Method, path: &str, body: Value) -> crate::helpers::TestResponse {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    t.request(m, path, &h, body).await
}

/// One ready draft (how-to) and one pending (refund).
async fn two_drafts(t: &TestApp) -> (Value, Value) {
    let ready = contact(t, "r@example.com", "Export", "How do I export my data?").await;
    let pending = contact(t, "p@example.com", "Money", "I want a refund please").await;
    t.drain().await;
    (
        draft_of(t, &ready).await.unwrap(),
        draft_of(t, &pending).await.unwrap(),
    )
}

#[tokio::test]
async fn post_ai_draft_queues_then_answers_with_the_stored_draft() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let id = contact(&t, "q@example.com", "Export", "How do I export my data?").await;
    let res = admin(
        &t,
        Method::POST,
        "/api/ai/draft",
        json!({ "ticket_id": id }),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let body = res.json();
    assert_eq!(
        (body["status"].as_str(), body["draft_id"].clone()),
        (Some("queued"), Value::Null)
    );
    assert_eq!(
        body["job_id"],
        ai_job(&t, &id).await["id"],
        "the intake's job, deduplicated"
    );
    t.drain().await;
    let res = admin(
        &t,
        Method::POST,
        "/api/ai/draft",
        json!({ "ticket_id": id }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(
        (
            body["status"].as_str(),
            body["draft"]["customer_text"].as_str()
        ),
        (Some("ready"), Some("How do I export my data?"))
    );
    assert_eq!(body["draft_id"], draft_of(&t, &id).await.unwrap()["id"]);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn post_ai_draft_requeues_a_dead_job() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .respond_with(ResponseTemplate::new(400))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .respond_with(classifying_model)
        .mount(&server)
        .await;
    let t = app(&server).await;
    let id = contact(&t, "dead@example.com", "Export", "How do I export?").await;
    t.drain().await;
    assert_eq!(ai_job(&t, &id).await["state"], "dead");
    let res = admin(
        &t,
        Method::POST,
        "/api/ai/draft",
        json!({ "ticket_id": id }),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(ai_job(&t, &id).await["state"], "pending");
    t.drain().await;
    assert!(draft_of(&t, &id).await.is_some());
}

#[tokio::test]
async fn post_ai_draft_refuses_what_it_cannot_do() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let unknown = json!({ "ticket_id": uuid::Uuid::new_v4() });
    let cases = [
        (unknown.clone(), StatusCode::NOT_FOUND, "ticket_not_found"),
        (
            json!({ "ticket_id": "nope" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ticket_id",
        ),
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ticket_id",
        ),
    ];
    for (body, status, code) in cases {
        let res = admin(&t, Method::POST, "/api/ai/draft", body).await;
        assert_eq!(
            (res.status, res.json()["error"]["code"].as_str()),
            (status, Some(code))
        );
    }
    let h = [("content-type", "application/json")];
    let res = t
        .request(Method::POST, "/api/ai/draft", &h, unknown.to_string())
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let plain = spawn_app_with(|_| {}).await;
    let res = admin(&plain, Method::POST, "/api/ai/draft", unknown).await;
    assert_eq!(
        (res.status, res.json()["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ai_not_configured"))
    );
}

#[tokio::test]
async fn drafts_are_listed_by_status_with_the_customer_text() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let (ready, pending) = two_drafts(&t).await;
    let res = admin(
        &t,
        Method::GET,
        "/api/admin/drafts?status=pending_approval",
        Value::Null,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let list = res.json()["drafts"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(
        (&d["id"], &d["ticket_id"]),
        (&pending["id"], &pending["ticket_id"])
    );
    for field in [
        "status",
        "category",
        "urgency",
        "summary",
        "draft_reply",
        "reasons",
        "customer_text",
        "created_at",
    ] {
        assert!(!d[field].is_null(), "{field} missing");
    }
    assert_eq!(d["customer_text"], "I want a refund please");
    let all = admin(&t, Method::GET, "/api/admin/drafts", Value::Null)
        .await
        .json();
    assert_eq!(all["drafts"].as_array().unwrap().len(), 2);
    let one = admin(
        &t,
        Method::GET,
        &format!("/api/admin/drafts/{}", ready["id"].as_str().unwrap()),
        Value::Null,
    )
    .await;
    assert_eq!(one.json()["draft"]["status"], "ready");
    let bad = admin(
        &t,
        Method::GET,
        "/api/admin/drafts?status=sent",
        Value::Null,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = admin(
        &t,
        Method::GET,
        &format!("/api/admin/drafts/{}", uuid::Uuid::new_v4()),
        Value::Null,
    )
    .await;
    assert_eq!(
        (missing.status, missing.json()["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("draft_not_found"))
    );
    let h = [("authorization", "Bearer wrong-token")];
    let denied = t
        .request(Method::GET, "/api/admin/drafts", &h, Body::empty())
        .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn approve_edit_and_reject_record_who_and_when_and_decisions_are_final() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let (ready, pending) = two_drafts(&t).await;
    let (r, p) = (
        ready["id"].as_str().unwrap(),
        pending["id"].as_str().unwrap(),
    );
    let edited = admin(
        &t,
        Method::POST,
        &format!("/api/admin/drafts/{r}/edit"),
        json!({ "draft_reply": "Settings → Export → CSV." }),
    )
    .await;
    assert_eq!(edited.status, StatusCode::OK);
    let d = &edited.json()["draft"];
    assert_eq!(
        (d["draft_reply"].as_str(), d["status"].as_str()),
        (Some("Settings → Export → CSV."), Some("ready"))
    );
    assert!(d["edited_by"].as_str().unwrap().starts_with("admin:") && !d["edited_at"].is_null());
    let approved = admin(
        &t,
        Method::POST,
        &format!("/api/admin/drafts/{r}/approve"),
        Value::Null,
    )
    .await;
    assert_eq!(approved.status, StatusCode::OK);
    let d = &approved.json()["draft"];
    assert_eq!(d["status"], "approved");
    assert!(d["approved_by"].as_str().unwrap().starts_with("admin:"));
    assert_eq!(
        d["approved_at"]
            .as_str()
            .map(|s| s.starts_with("2026-11-23T10:00:00")),
        Some(true)
    );
    for (action, body) in [
        ("edit", json!({ "draft_reply": "too late" })),
        ("approve", Value::Null),
        ("reject", json!({ "note": "x" })),
    ] {
        let res = admin(
            &t,
            Method::POST,
            &format!("/api/admin/drafts/{r}/{action}"),
            body,
        )
        .await;
        assert_eq!(
            (res.status, res.json()["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("draft_already_decided")),
            "{action}"
        );
    }
    let no_note = admin(
        &t,
        Method::POST,
        &format!("/api/admin/drafts/{p}/reject"),
        json!({ "note": " " }),
    )
    .await;
    assert_eq!(no_note.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rejected = admin(
        &t,
        Method::POST,
        &format!("/api/admin/drafts/{p}/reject"),
        json!({ "note": "We never refund annual plans." }),
    )
    .await;
    let d = &rejected.json()["draft"];
    assert_eq!(
        (d["status"].as_str(), d["rejected_note"].as_str()),
        (Some("rejected"), Some("We never refund annual plans."))
    );
    assert!(!d["rejected_by"].is_null() && !d["rejected_at"].is_null());
    let h = [("content-type", "application/json")];
    let denied = t
        .request(
            Method::POST,
            &format!("/api/admin/drafts/{p}/approve"),
            &h,
            Body::empty(),
        )
        .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let missing = admin(
        &t,
        Method::POST,
        &format!("/api/admin/drafts/{}/approve", uuid::Uuid::new_v4()),
        Value::Null,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_edit_that_mentions_a_refund_sends_a_ready_draft_to_approval() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    let (ready, _) = two_drafts(&t).await;
    let r = ready["id"].as_str().unwrap();
    let res = admin(
        &t,
        Method::POST,
        &format!("/api/admin/drafts/{r}/edit"),
        json!({ "draft_reply": "We refunded $20, see https://evil.example.net" }),
    )
    .await;
    let d = &res.json()["draft"];
    assert_eq!(d["status"], "pending_approval");
    assert_eq!(
        d["reasons"],
        json!(["mentions_money", "mentions_refund", "link_not_allowed"])
    );
}

#[tokio::test]
async fn the_metrics_report_ticket_to_first_draft_latency() {
    let server = fake_openai(classifying_model).await;
    let t = app(&server).await;
    contact(&t, "m@example.com", "Export", "How do I export my data?").await;
    t.clock.advance(Span::seconds(90));
    t.drain().await;
    let res = admin(&t, Method::GET, "/api/admin/drafts/metrics", Value::Null).await;
    assert_eq!(res.status, StatusCode::OK);
    let m = res.json();
    assert_eq!(
        m["ticket_to_first_draft"],
        json!({ "samples": 1, "p50_ms": 90_000, "p95_ms": 90_000 })
    );
    assert_eq!(m["drafts_by_status"], json!({ "ready": 1 }));
    assert_eq!(m["window_days"], 30);
}
