//! Postmark inbound email: basic auth, mapping, Postmark's own retries.

use super::*;

fn postmark_email() -> Value {
    json!({
        "From": "ann@example.net", "FromName": "Ann Lee",
        "FromFull": {"Email": "ann@example.net", "Name": "Ann Lee", "MailboxHash": ""},
        "To": "support@inbound.example.com", "Subject": "Locked out\r\n of my account",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90", "Date": "Thu, 5 Apr 2026 16:59:01 +0200",
        "TextBody": "Hi,\r\nI can't log in since the update.\u{0}\r\nAnn", "HtmlBody": "<p>Hi</p>",
        "StrippedTextReply": "", "Tag": "", "MailboxHash": "",
        "Headers": [{"Name": "Message-ID", "Value": "<CAF=abc@mail.example.net>"}],
        "Attachments": []
    })
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test]
async fn a_postmark_inbound_email_with_basic_auth_becomes_an_email_ticket_once() {
    let t = app().await;
    let url = format!("{URL}?provider=postmark");
    let auth = basic(INBOUND_USER, INBOUND_PASSWORD);
    let h = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let res = t
        .request(Method::POST, &url, &h, postmark_email().to_string())
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.json()["priority"], "high");
    let ticket = ticket(&t, res.json()["ticket_id"].as_str().unwrap()).await;
    assert_eq!(
        (ticket["source"].as_str(), ticket["email"].as_str()),
        (Some("email"), Some("ann@example.net"))
    );
    assert_eq!(ticket["subject"], "Locked out  of my account");
    assert_eq!(
        ticket["message"],
        "Hi,\nI can't log in since the update.\nAnn"
    );
    assert_eq!(ticket["tags"], json!(["account_access"]));
    assert_eq!(
        ticket["metadata"]["email_message_id"],
        "<CAF=abc@mail.example.net>"
    );
    let again = t
        .request(Method::POST, &url, &h, postmark_email().to_string())
        .await;
    assert_eq!(
        again.headers["idempotent-replayed"], "true",
        "Postmark's retry is not a new contact"
    );
    assert_eq!(
        (t.count("tickets").await, t.count("ticket_messages").await),
        (1, 0)
    );
}

#[tokio::test]
async fn a_postmark_post_without_valid_credentials_is_401_and_stores_nothing() {
    let t = app().await;
    let url = format!("{URL}?provider=postmark");
    let body = postmark_email().to_string();
    let wrong = basic(INBOUND_USER, "guess");
    let cases: [(&[(&str, &str)], &str); 2] = [
        (
            &[("content-type", "application/json")],
            "missing_credentials",
        ),
        (
            &[
                ("content-type", "application/json"),
                ("authorization", &wrong),
            ],
            "invalid_credentials",
        ),
    ];
    for (h, code) in cases {
        let res = t.request(Method::POST, &url, h, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"]["code"], code);
        assert!(res.headers.contains_key("www-authenticate"));
    }
    let unconfigured = app_with(|v| {
        v.remove("SUPPORT_INBOUND_USER");
        v.remove("SUPPORT_INBOUND_PASSWORD");
    })
    .await;
    let auth = basic(INBOUND_USER, INBOUND_PASSWORD);
    let h = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let res = unconfigured
        .request(Method::POST, &url, &h, body.clone())
        .await;
    assert_eq!(res.json()["error"]["code"], "inbound_not_configured");
    let res = t
        .request(Method::POST, &format!("{URL}?provider=mailgun"), &h, body)
        .await;
    assert_eq!(res.json()["error"]["code"], "unknown_provider");
    nothing_stored(&t).await;
}
