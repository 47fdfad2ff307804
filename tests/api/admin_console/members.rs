//! Member search: any identity, one merged timeline, 404 and 422.

use http::StatusCode;

use super::{app_with_member, entries, get_json, CUSTOMER};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_member_is_found_by_any_identity_with_one_timeline_newest_first() {
    let (t, _hubspot) = app_with_member().await;
    let (s, body) = get_json(&t, "/api/admin/members?email=jane.console%40EXAMPLE.com").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let m = &body["member"];
    assert_eq!(
        (m["state"].as_str(), m["access"].as_str()),
        (Some("active"), Some("full"))
    );
    assert_eq!(m["stripe_customer_id"], CUSTOMER);
    assert_eq!(m["app_user_id"], "usr_console_1");
    for k in [
        "id",
        "email",
        "plan",
        "needs_support",
        "crm_contact_id",
        "support_user_id",
        "sequence",
    ] {
        assert!(m.get(k).is_some(), "member lacks {k}");
    }
    let tl = &body["timeline"];
    let stripe = entries(tl, "stripe");
    assert_eq!(stripe.len(), 1);
    assert_eq!(stripe[0]["kind"], "checkout.session.completed");
    assert_eq!(stripe[0]["outcome"], "applied");
    assert_eq!(stripe[0]["data"]["via"], "webhook");
    let dead: Vec<_> = entries(tl, "job")
        .into_iter()
        .filter(|e| e["outcome"] == "dead")
        .collect();
    assert_eq!(dead.len(), 1, "the dead CRM job is on the timeline: {tl}");
    assert_eq!(
        (dead[0]["kind"].as_str(), dead[0]["data"]["reason"].as_str()),
        (Some("crm_upsert"), Some("invalid_payload"))
    );
    assert!(
        entries(tl, "timeline").iter().any(|e| e["kind"] == "state"),
        "state change shown"
    );
    assert!(
        entries(tl, "timeline")
            .iter()
            .all(|e| e["kind"] != "stripe_event"),
        "events are not shown twice"
    );
    let times: Vec<&str> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> = times
        .iter()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let id = m["id"].as_str().unwrap();
    for q in [
        format!("stripe_customer_id={CUSTOMER}"),
        "user_id=usr_console_1".into(),
        format!("id={id}"),
    ] {
        let (s, other) = get_json(&t, &format!("/api/admin/members?{q}")).await;
        assert_eq!(
            (s, other["member"]["id"].as_str()),
            (StatusCode::OK, Some(id)),
            "{q}"
        );
    }
    let (_, limited) = get_json(&t, "/api/admin/members?user_id=usr_console_1&limit=1").await;
    assert_eq!(limited["timeline"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn member_search_answers_404_for_nobody_and_422_without_exactly_one_identity() {
    let t = spawn_app().await;
    let (s, e) = get_json(&t, "/api/admin/members?email=nobody%40example.com").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("member_not_found"))
    );
    for q in ["", "?email=", "?email=a%40b.c&user_id=u1", "?limit=5"] {
        let (s, e) = get_json(&t, &format!("/api/admin/members{q}")).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_query")),
            "{q}"
        );
    }
    let res = t.get("/api/admin/members?email=nobody%40example.com").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}
