//! Abuse controls: per-IP and per-email limits (and failing open without
//! Redis), the honeypot, the CORS allowlist.
//!
//! Rate-limit windows live in Redis with real TTLs (not the test clock), so
//! "recovered" is shown by clearing the counter key, as a window's end does.

use super::*;

#[tokio::test]
async fn the_ip_limit_answers_429_with_retry_after_and_recovers_when_the_window_ends() {
    let t = app_with(|v| {
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "2".into());
    })
    .await;
    let ip = [("x-forwarded-for", "203.0.113.9, 10.0.0.1")];
    for i in 0..2 {
        let res = post(&t, &contact(&format!("u{i}@example.com"), "m"), &ip).await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    let res = post(&t, &contact("u3@example.com", "m"), &ip).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.json()["error"]["code"], "rate_limited");
    let retry: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let other = [("x-forwarded-for", "198.51.100.4")];
    assert_eq!(
        post(&t, &contact("u4@example.com", "m"), &other)
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let key = limits::ip_key("203.0.113.9".parse().ok());
    let count = t.app.kv.get(&key).await.unwrap().unwrap();
    assert!(t.app.kv.del_if_eq(&key, &count).await.unwrap());
    assert_eq!(
        post(&t, &contact("u3@example.com", "m"), &ip).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn the_email_limit_counts_one_sender_across_addresses_and_recovers() {
    let t = app_with(|v| {
        v.insert("SUPPORT_RATE_LIMIT_PER_EMAIL".into(), "2".into());
    })
    .await;
    for i in 0..2 {
        let ip = format!("198.51.100.{i}");
        let res = post(&t, &contact("jane@example.com", "m"), &[("x-real-ip", &ip)]).await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    let res = post(
        &t,
        &contact("JANE@example.com", "m"),
        &[("x-real-ip", "198.51.100.9")],
    )
    .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers.contains_key("retry-after"));
    assert_eq!(t.count_where("tickets", "contact_count = 2").await, 1);
    let key = limits::email_key(&Email::parse("jane@example.com").unwrap());
    let count = t.app.kv.get(&key).await.unwrap().unwrap();
    t.app.kv.del_if_eq(&key, &count).await.unwrap();
    assert_eq!(
        post(&t, &contact("jane@example.com", "m"), &[])
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn with_redis_down_the_limits_fail_open_and_the_contact_is_stored() {
    let t = app_with(|v| {
        v.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
        v.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "1".into());
    })
    .await;
    for _ in 0..2 {
        let res = post(
            &t,
            &contact("jane@example.com", "m"),
            &[("idempotency-key", "k-1")],
        )
        .await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    assert_eq!(t.count("tickets").await, 1);
    assert_eq!(t.count_where("tickets", "contact_count = 1").await, 1);
}

#[tokio::test]
async fn a_filled_honeypot_answers_an_ordinary_202_and_stores_nothing() {
    let t = app().await;
    let mut bot = contact("bot@example.com", "cheap pills");
    bot["website"] = json!("http://spam.example");
    let res = post(&t, &bot, &[]).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let body = res.json();
    assert!(uuid::Uuid::parse_str(body["ticket_id"].as_str().unwrap()).is_ok());
    assert_eq!(body["status"], "open");
    let res = post_form(&t, "email=bot%40example.com&message=x&website=spam").await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    nothing_stored(&t).await;
}

#[tokio::test]
async fn cors_answers_preflights_for_listed_origins_only_and_refuses_other_posts() {
    let t = app().await;
    let preflight = |origin: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,idempotency-key",
            ),
        ]
    };
    let res = t
        .request(Method::OPTIONS, URL, &preflight(ORIGIN), Body::empty())
        .await;
    assert!(res.status.is_success(), "{}", res.status);
    assert_eq!(res.headers["access-control-allow-origin"], ORIGIN);
    assert!(res.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let allowed = res.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("idempotency-key") && allowed.contains("content-type"));
    let res = t
        .request(
            Method::OPTIONS,
            URL,
            &preflight("https://evil.example"),
            Body::empty(),
        )
        .await;
    assert!(!res.headers.contains_key("access-control-allow-origin"));

    let res = post(&t, &contact("a@b.co", "m"), &[("origin", ORIGIN)]).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.headers["access-control-allow-origin"], ORIGIN);
    let res = post(
        &t,
        &contact("c@d.co", "m"),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.json()["error"]["code"], "origin_not_allowed");
    assert!(!res.headers.contains_key("access-control-allow-origin"));
    assert!(t.member_by_email("c@d.co").await.is_none());
    assert_eq!(
        post(&t, &contact("e@f.co", "m"), &[]).await.status,
        StatusCode::ACCEPTED
    );
}
