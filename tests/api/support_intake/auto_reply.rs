//! Automatic inbound emails (out-of-office, list mail): answered 202 and
//! kept, but they page nobody. Every integration is configured here, so a
//! job that should not exist would.

use super::*;

const ZENDESK: &str = "http://127.0.0.1:9/zendesk";

/// The app with every paging integration configured (nothing is delivered:
/// jobs run only when a test drains).
async fn paging_app() -> TestApp {
    app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
        v.insert(
            "HELPDESK_WEBHOOK_URL".into(),
            "http://127.0.0.1:9/hook".into(),
        );
        v.insert("HELPDESK_WEBHOOK_SECRET".into(), HELPDESK_SECRET.into());
        v.insert(
            "SLACK_WEBHOOK_URL".into(),
            "http://127.0.0.1:9/slack".into(),
        );
        v.insert("OPENAI_API_KEY".into(), "sk-FAKE-test".into());
        v.insert("ZENDESK_BASE_URL".into(), ZENDESK.into());
        v.insert("ZENDESK_EMAIL".into(), "agent@acme.test".into());
        v.insert("ZENDESK_API_TOKEN".into(), "FAKE-token".into());
    })
    .await
}

/// A Postmark inbound email with `headers` (besides its Message-ID).
async fn inbound(
    t: &TestApp,
    from: &str,
    id: &str,
    text: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut h = vec![json!({ "Name": "Message-ID", "Value": format!("<{id}@mail.example.net>") })];
    h.extend(
        headers
            .iter()
            .map(|(n, v)| json!({ "Name": n, "Value": v })),
    );
    let body = json!({
        "FromFull": { "Email": from, "Name": "Sender" }, "Subject": "Re: your invoice",
        "MessageID": id, "TextBody": text, "Headers": h, "Attachments": []
    });
    let raw = format!("{INBOUND_USER}:{INBOUND_PASSWORD}");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let h = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let url = format!("{URL}?provider=postmark");
    t.request(Method::POST, &url, &h, body.to_string()).await
}

const OUT_OF_OFFICE: &str = "I am out of office. For refunds or chargebacks call my lawyer.";

#[tokio::test]
async fn each_automatic_header_keeps_the_email_as_a_resolved_ticket_that_pages_nobody() {
    let t = paging_app().await;
    let cases = [
        ("Auto-Submitted", "auto-replied"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Autoreply", "yes"),
        ("X-Autorespond", "Out of office"),
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "list"),
        ("Precedence", "auto_reply"),
    ];
    for (i, (name, value)) in cases.into_iter().enumerate() {
        let from = format!("robot{i}@example.org");
        let res = inbound(
            &t,
            &from,
            &format!("auto-{i}"),
            OUT_OF_OFFICE,
            &[(name, value)],
        )
        .await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{name}");
        let body = res.json();
        assert_eq!(
            (body["status"].as_str(), body["priority"].as_str()),
            (Some("resolved"), Some("normal")),
            "{name}"
        );
        let kept = ticket(&t, body["ticket_id"].as_str().unwrap()).await;
        assert_eq!(kept["status"], "resolved", "{name}");
        assert_eq!(
            kept["tags"],
            json!(["auto_reply"]),
            "{name}: the rules did not run"
        );
        assert_eq!(kept["needs_human"], false, "{name}");
        assert_eq!(
            kept["message"], OUT_OF_OFFICE,
            "{name}: kept for the record"
        );
    }
    assert_eq!(t.count("tickets").await, cases.len() as i64);
    assert_eq!(
        t.count("jobs").await,
        0,
        "no Slack, helpdesk, Zendesk, AI or CRM job"
    );
    assert_eq!(t.count("members").await, 0, "no lead made of a robot");
}

#[tokio::test]
async fn an_automatic_email_joins_the_senders_open_ticket_tagged_auto_reply_and_pages_nobody() {
    let t = paging_app().await;
    let first = inbound(
        &t,
        "ann@example.net",
        "m-1",
        "I was charged twice, refund please",
        &[],
    )
    .await;
    assert_eq!(first.json()["status"], "open");
    let id = first.json()["ticket_id"].as_str().unwrap().to_string();
    let before = ticket(&t, &id).await;
    let jobs = t.count("jobs").await;
    assert!(
        t.count_where("jobs", "kind = 'zendesk_ticket'").await == 1,
        "an ordinary email reaches Zendesk"
    );

    t.clock.advance(chrono::Duration::minutes(5));
    let auto = inbound(
        &t,
        "ann@example.net",
        "m-2",
        OUT_OF_OFFICE,
        &[("Auto-Submitted", "auto-replied")],
    )
    .await;
    assert_eq!(auto.status, StatusCode::ACCEPTED);
    assert_eq!(auto.json()["status"], "merged");
    assert_eq!(auto.json()["ticket_id"], id.as_str());
    let after = ticket(&t, &id).await;
    assert_eq!(after["contact_count"], 2);
    assert_eq!(after["tags"], json!(["refund", "auto_reply"]));
    assert_eq!(after["status"], "open");
    assert_eq!(after["priority"], before["priority"]);
    assert_eq!(
        after["last_contact_at"], before["last_contact_at"],
        "a robot keeps no ticket open"
    );
    assert_eq!(
        t.count("jobs").await,
        jobs,
        "nobody paged for the auto-reply"
    );
}

#[tokio::test]
async fn an_ordinary_email_with_x_auto_response_suppress_still_reaches_a_person() {
    let t = paging_app().await;
    let headers = [
        ("X-Auto-Response-Suppress", "All"),
        ("Precedence", "first-class"),
    ];
    let res = inbound(
        &t,
        "bob@example.net",
        "m-3",
        "I want a refund for last month",
        &headers,
    )
    .await;
    assert_eq!(res.json()["status"], "open");
    let kept = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(kept["needs_human"], true);
    for kind in [
        "slack_alert",
        "helpdesk_ticket",
        "zendesk_ticket",
        "ai_draft",
    ] {
        let n = t.count_where("jobs", &format!("kind = '{kind}'")).await;
        assert_eq!(n, 1, "{kind}");
    }
}
