//! Posts that become tickets, and every way a post is refused as input:
//! field codes, content types, body size, hostile and very long text.

use super::*;

#[tokio::test]
async fn a_valid_json_post_opens_a_ticket_for_a_new_lead() {
    let t = app().await;
    let res = post(
        &t,
        &contact("Jane@Example.com", "Where is my invoice?"),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let body = res.json();
    assert_eq!(
        (body["priority"].as_str(), body["status"].as_str()),
        (Some("normal"), Some("open"))
    );
    let ticket = ticket(&t, body["ticket_id"].as_str().unwrap()).await;
    assert_eq!(
        (ticket["source"].as_str(), ticket["needs_human"].as_bool()),
        (Some("portal"), Some(false))
    );
    assert_eq!(ticket["member_snapshot"]["state"], "lead");
    assert_eq!(ticket["member_snapshot"]["open_tickets"], 1);
    let m = t
        .member_by_email("jane@example.com")
        .await
        .expect("member created");
    assert_eq!(
        (m["state"].as_str(), m["needs_support"].as_bool()),
        (Some("lead"), Some(true))
    );
    assert_eq!(ticket["member_id"], m["id"]);
    for kind in ["helpdesk_ticket", "crm_upsert", "app_webhook"] {
        assert_eq!(
            t.count_where("jobs", &format!("kind = '{kind}'")).await,
            1,
            "{kind}"
        );
    }
    assert_eq!(t.count_where("jobs", "kind = 'slack_alert'").await, 0);
    assert_eq!(t.count_where("timeline", "kind = 'support'").await, 1);
    assert!(res.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn a_form_post_opens_a_ticket_with_its_metadata() {
    let t = app().await;
    let res = post_form(
        &t,
        "email=sam%40example.org&message=Hi+there&metadata%5Bpage%5D=%2Fpricing&submit=Send",
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let ticket = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(ticket["message"], "Hi there");
    assert_eq!(ticket["source"], "form");
    assert_eq!(ticket["metadata"], json!({"page": "/pricing"}));
}

#[tokio::test]
async fn every_invalid_field_answers_422_with_its_code_and_stores_nothing() {
    let t = app().await;
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"message": "m"}), "email", "required"),
        (
            json!({"email": "jane@", "message": "m"}),
            "email",
            "invalid_email",
        ),
        (
            json!({"email": 42, "message": "m"}),
            "email",
            "invalid_type",
        ),
        (json!({"email": "a@b.co"}), "message", "required"),
        (
            json!({"email": "a@b.co", "message": "  "}),
            "message",
            "required",
        ),
        (
            json!({"email": "a@b.co", "message": long(10_001)}),
            "message",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "subject": long(201)}),
            "subject",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "name": long(201)}),
            "name",
            "too_long",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "source": "fax"}),
            "source",
            "invalid_source",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "metadata": "x"}),
            "metadata",
            "not_an_object",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "metadata": {"n": 1}}),
            "metadata",
            "not_a_string",
        ),
    ];
    for (body, field, code) in cases {
        let res = post(&t, &body, &[]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let e = res.json();
        assert_eq!(e["error"]["code"], "invalid_fields");
        assert_eq!(e["error"]["details"]["fields"][field], code, "{body}");
    }
    nothing_stored(&t).await;
}

#[tokio::test]
async fn other_content_types_oversize_bodies_and_broken_json_are_refused() {
    let t = app().await;
    let body = contact("a@b.co", "m").to_string();
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let res = t
            .request(Method::POST, URL, &[("content-type", ct)], body.clone())
            .await;
        assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_eq!(res.json()["error"]["code"], "unsupported_media_type");
    }
    let res = t.request(Method::POST, URL, &[], body.clone()).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"email": "a@b.co", "message": "m", "pad": "x".repeat(130 * 1024)});
    let res = post(&t, &huge, &[]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["error"]["code"], "payload_too_large");
    let h = [("content-type", "application/json")];
    let res = t.request(Method::POST, URL, &h, "{not json").await;
    assert_eq!(
        (res.status, res.json()["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_json"))
    );
    nothing_stored(&t).await;
}

#[tokio::test]
async fn hostile_text_is_stored_verbatim_and_never_reflected_unescaped() {
    let t = app().await;
    let script = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>";
    let body = json!({"email": "x@example.com", "name": "<b>Mallory</b>", "message": script});
    let res = post(&t, &body, &[]).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert!(!res.body.contains(&b'<'));
    let id = res.json()["ticket_id"].as_str().unwrap().to_string();
    assert_eq!(ticket(&t, &id).await["message"], script);
    let bad = post(
        &t,
        &json!({"email": "<script>@x.co", "message": script}),
        &[],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.body.contains(&b'<'));
    let auth = format!("Bearer {}", crate::helpers::ADMIN_TOKEN);
    let shown = t
        .request(
            Method::GET,
            &format!("/api/admin/tickets/{id}"),
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(!shown.body.contains(&b'<') && !shown.body.contains(&b'>'));
    assert_eq!(
        shown.json()["ticket"]["message"],
        script,
        "escaped, not altered"
    );
    assert_eq!(shown.json()["ticket"]["name"], "<b>Mallory</b>");
}

#[tokio::test]
async fn very_long_unicode_is_accepted_to_the_character_limit() {
    let t = app().await;
    let ok = "語".repeat(10_000);
    let res = post(
        &t,
        &json!({"email": "u@example.com", "message": ok, "subject": "é".repeat(200)}),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let stored = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(stored["message"].as_str().unwrap().chars().count(), 10_000);
    let res = post(
        &t,
        &json!({"email": "u@example.com", "message": "語".repeat(10_001)}),
        &[],
    )
    .await;
    assert_eq!(
        res.json()["error"]["details"]["fields"]["message"],
        "too_long"
    );
    let emoji = post(
        &t,
        &json!({"email": "u@example.com", "message": "😀".repeat(10_000)}),
        &[],
    )
    .await;
    assert_eq!(
        emoji.status,
        StatusCode::ACCEPTED,
        "40 KB of UTF-8 within the character limit fits the 128 KB body limit"
    );
    let huge = post(
        &t,
        &json!({"email": "u@example.com", "message": "a".repeat(130 * 1024)}),
        &[],
    )
    .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn null_bytes_and_crlf_in_the_subject_are_refused() {
    let t = app().await;
    let cases = [
        (
            json!({"email": "a@b.co", "message": "a\u{0}b"}),
            "message",
            "control_characters",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "subject": "Hi\r\nBcc: all@example.com"}),
            "subject",
            "line_break",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "subject": "Hi%0d%0aX: y\n"}),
            "subject",
            "line_break",
        ),
        (
            json!({"email": "a@b.co", "message": "m", "name": "\u{0}"}),
            "name",
            "control_characters",
        ),
    ];
    for (body, field, code) in cases {
        let res = post(&t, &body, &[]).await;
        assert_eq!(
            res.json()["error"]["details"]["fields"][field],
            code,
            "{body}"
        );
    }
    let res = post_form(
        &t,
        "email=a%40b.co&message=m&subject=Hi%0D%0ABcc%3A+x%40y.z",
    )
    .await;
    assert_eq!(
        res.json()["error"]["details"]["fields"]["subject"],
        "line_break"
    );
    let res = post_form(&t, "email=a%40b.co&message=a%00b").await;
    assert_eq!(
        res.json()["error"]["details"]["fields"]["message"],
        "control_characters"
    );
    nothing_stored(&t).await;
}
