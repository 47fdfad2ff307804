//! The admin console: member search with its merged timeline, the overview,
//! kill switches, the event export, and the page itself (served without the
//! token, strict headers, no way for stored text to become markup).

use axum::body::Body;
use http::{Method, StatusCode};
use opsbridge::admin::page::{ASSETS, CSP, INDEX_HTML};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_hubspot::UPSERT_PATH;
use crate::fixtures::checkout_completed;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestResponse};

const ADMIN: &str = "Bearer test-admin-token";
const EMAIL: &str = "Jane.Console@example.com";
const CUSTOMER: &str = "cus_ConsoleTest01";

async fn admin(t: &TestApp, m: Method, path: &str, body: Option<Value>) -> TestResponse {
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let headers = [("authorization", ADMIN), ("content-type", "application/json")];
    t.request(m, path, &headers, body).await
}

async fn get_json(t: &TestApp, path: &str) -> (StatusCode, Value) {
    let res = admin(t, Method::GET, path, None).await;
    (res.status, res.json())
}

/// One active member (paid checkout) whose CRM job died (HubSpot answers 400).
async fn app_with_member() -> (TestApp, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(UPSERT_PATH))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    let uri = server.uri();
    let t = spawn_app_with(move |v| {
        v.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-test".into());
        v.insert("HUBSPOT_BASE_URL".into(), uri);
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    let created = t.clock_now().timestamp() - 120;
    let ev = checkout_completed("evt_Console0001", created, CUSTOMER, EMAIL, Some("usr_console_1"));
    assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    t.drain().await;
    (t, server)
}

fn entries<'a>(timeline: &'a Value, source: &str) -> Vec<&'a Value> {
    let all = timeline.as_array().expect("timeline array");
    all.iter().filter(|e| e["source"] == source).collect()
}

#[tokio::test]
async fn a_member_is_found_by_any_identity_with_one_timeline_newest_first() {
    let (t, _hubspot) = app_with_member().await;
    let (s, body) = get_json(&t, "/api/admin/members?email=jane.console%40EXAMPLE.com").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let m = &body["member"];
    assert_eq!((m["state"].as_str(), m["access"].as_str()), (Some("active"), Some("full")));
    assert_eq!(m["stripe_customer_id"], CUSTOMER);
    assert_eq!(m["app_user_id"], "usr_console_1");
    for k in ["id", "email", "plan", "needs_support", "crm_contact_id", "support_user_id", "sequence"] {
        assert!(m.get(k).is_some(), "member lacks {k}");
    }
    let tl = &body["timeline"];
    let stripe = entries(tl, "stripe");
    assert_eq!(stripe.len(), 1);
    assert_eq!(stripe[0]["kind"], "checkout.session.completed");
    assert_eq!(stripe[0]["outcome"], "applied");
    assert_eq!(stripe[0]["data"]["via"], "webhook");
    let dead: Vec<_> = entries(tl, "job").into_iter().filter(|e| e["outcome"] == "dead").collect();
    assert_eq!(dead.len(), 1, "the dead CRM job is on the timeline: {tl}");
    assert_eq!((dead[0]["kind"].as_str(), dead[0]["data"]["reason"].as_str()), (Some("crm_upsert"), Some("invalid_payload")));
    assert!(entries(tl, "timeline").iter().any(|e| e["kind"] == "state"), "state change shown");
    assert!(entries(tl, "timeline").iter().all(|e| e["kind"] != "stripe_event"), "events are not shown twice");
    let times: Vec<&str> = tl.as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap()).collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> = times.iter().map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let id = m["id"].as_str().unwrap();
    for q in [format!("stripe_customer_id={CUSTOMER}"), "user_id=usr_console_1".into(), format!("id={id}")] {
        let (s, other) = get_json(&t, &format!("/api/admin/members?{q}")).await;
        assert_eq!((s, other["member"]["id"].as_str()), (StatusCode::OK, Some(id)), "{q}");
    }
    let (_, limited) = get_json(&t, "/api/admin/members?user_id=usr_console_1&limit=1").await;
    assert_eq!(limited["timeline"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn member_search_answers_404_for_nobody_and_422_without_exactly_one_identity() {
    let t = spawn_app().await;
    let (s, e) = get_json(&t, "/api/admin/members?email=nobody%40example.com").await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("member_not_found")));
    for q in ["", "?email=", "?email=a%40b.c&user_id=u1", "?limit=5"] {
        let (s, e) = get_json(&t, &format!("/api/admin/members{q}")).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_query")), "{q}");
    }
    let res = t.get("/api/admin/members?email=nobody%40example.com").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_overview_has_health_outbox_crons_signatures_interventions_and_outcomes() {
    let (t, _hubspot) = app_with_member().await;
    let bad = t.post_stripe_raw(b"{}".to_vec(), Some("t=1,v1=00")).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let (s, o) = get_json(&t, "/api/admin/overview").await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["health"]["status"], "ok");
    assert!(o["health"]["checks"]["postgres"]["ok"].as_bool().unwrap());
    assert_eq!(o["outbox"]["by_state"]["dead"], 1);
    let reasons = o["outbox"]["by_reason"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r["reason"] == "invalid_payload" && r["kind"] == "crm_upsert" && r["count"] == 1), "{reasons:?}");
    assert!(o["outbox"].get("oldest_pending_age_secs").is_some());
    let crons = o["crons"].as_array().unwrap();
    let names: Vec<&str> = crons.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"crm-sync") && names.contains(&"stripe-catchup"), "{names:?}");
    assert!(crons.iter().all(|c| c["status"] == "never_run" && c["missed"] == false));
    assert_eq!(o["signature_failures"]["last_hour"], 1);
    assert_eq!(o["interventions"]["total"], 0);
    assert_eq!(o["metrics"]["paid_checkouts"]["paid"], 1);
    assert_eq!(o["metrics"]["paid_checkouts"]["reached_active"], 1);

    // A sweep that ran 5 minutes ago is missed; an admin retry and a flag flip count.
    let five_ago = t.clock_now() - chrono::Duration::minutes(5);
    t.db().await.execute("INSERT INTO cron_runs (name, started_at, finished_at, ok) VALUES ('crm-sync', $1, $1, true)", &[&five_ago]).await.unwrap();
    let id: i64 = t.db().await.query_one("SELECT id FROM jobs WHERE state = 'dead'", &[]).await.unwrap().get(0);
    assert_eq!(admin(&t, Method::POST, &format!("/api/admin/jobs/{id}/retry"), None).await.status, StatusCode::OK);
    let flip = admin(&t, Method::POST, "/api/admin/flags/slack", Some(json!({"enabled": false}))).await;
    assert_eq!(flip.status, StatusCode::OK);
    let (_, o) = get_json(&t, "/api/admin/overview").await;
    let sweep = o["crons"].as_array().unwrap().iter().find(|c| c["name"] == "crm-sync").unwrap().clone();
    assert_eq!((sweep["status"].as_str(), sweep["missed"].as_bool()), (Some("missed"), Some(true)));
    assert_eq!((o["interventions"]["job_actions"].as_i64(), o["interventions"]["flag_changes"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn switches_are_listed_and_flipped_with_who_and_when() {
    let t = spawn_app().await;
    let (s, body) = get_json(&t, "/api/admin/flags").await;
    assert_eq!(s, StatusCode::OK);
    let hubspot = body["flags"].as_array().unwrap().iter().find(|f| f["name"] == "hubspot").unwrap().clone();
    assert_eq!((hubspot["enabled"].as_bool(), hubspot["updated_by"].is_null()), (Some(true), true));
    assert_eq!(hubspot["configured"], false);
    let res = admin(&t, Method::POST, "/api/admin/flags/hubspot", Some(json!({"enabled": false, "note": "CRM migration"}))).await;
    assert_eq!(res.status, StatusCode::OK);
    let f = &res.json()["flag"];
    assert_eq!((f["enabled"].as_bool(), f["note"].as_str()), (Some(false), Some("CRM migration")));
    assert!(f["updated_by"].as_str().unwrap().starts_with("admin:"), "{f}");
    let at = chrono::DateTime::parse_from_rfc3339(f["updated_at"].as_str().unwrap()).unwrap();
    assert_eq!(at, t.clock_now());
    let paused = opsbridge::flags::paused(&**t.db().await).await.unwrap();
    assert_eq!(paused, vec!["hubspot".to_string()]);
    let res = admin(&t, Method::POST, "/api/admin/flags/hubspot", Some(json!({"enabled": true}))).await;
    assert_eq!(res.json()["flag"]["enabled"], true);
    let res = admin(&t, Method::POST, "/api/admin/flags/mailchimp", Some(json!({"enabled": false}))).await;
    assert_eq!((res.status, res.json()["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("flag_not_found")));
    let res = admin(&t, Method::POST, "/api/admin/flags/hubspot", Some(json!({"enabled": "no"}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let h = [("content-type", "application/json")];
    let res = t.request(Method::POST, "/api/admin/flags/hubspot", &h, r#"{"enabled":false}"#).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stored_events_export_as_jsonl_in_created_order_with_a_cursor() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    for (i, created) in [(2, now - 10), (1, now - 300), (3, now - 5)] {
        let ev = checkout_completed(&format!("evt_Export000{i}"), created, &format!("cus_Ex{i}"), &format!("ex{i}@example.com"), None);
        assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    }
    let res = admin(&t, Method::GET, "/api/admin/events/export", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.headers["content-type"].to_str().unwrap().starts_with("application/x-ndjson"));
    let text = String::from_utf8(res.body.to_vec()).unwrap();
    let ids: Vec<String> = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["evt_Export0001", "evt_Export0002", "evt_Export0003"]);
    let first = admin(&t, Method::GET, "/api/admin/events/export?limit=2", None).await;
    let cursor = first.headers["x-next-cursor"].to_str().unwrap().to_string();
    let rest = admin(&t, Method::GET, &format!("/api/admin/events/export?limit=2&cursor={cursor}"), None).await;
    assert!(String::from_utf8_lossy(&rest.body).contains("evt_Export0003"));
    assert!(!rest.headers.contains_key("x-next-cursor"));
    let since = now - 60;
    let window = admin(&t, Method::GET, &format!("/api/admin/events/export?since={since}"), None).await;
    assert_eq!(String::from_utf8_lossy(&window.body).lines().count(), 2);
    let bad = admin(&t, Method::GET, "/api/admin/events/export?since=yesterday", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.get("/api/admin/events/export").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_page_is_served_to_browsers_without_the_token_with_strict_headers() {
    let t = spawn_app().await;
    let html = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let res = t.request(Method::GET, "/api/admin", &html, Body::empty()).await;
    assert_eq!(res.status, StatusCode::OK);
    let h = |k: &str| res.headers.get(k).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(h("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(h("content-security-policy").as_deref(), Some(CSP));
    assert!(CSP.contains("default-src 'none'") && CSP.contains("script-src 'self'") && CSP.contains("frame-ancestors 'none'"));
    assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(h("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(h("cache-control").as_deref(), Some("no-store"));
    assert_eq!(h("vary").as_deref(), Some("Accept"));
    assert!(h("x-request-id").is_some());
    assert_eq!(res.body, INDEX_HTML.as_bytes());
    for accept in [None, Some("application/json"), Some("*/*")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| vec![("accept", a)]).unwrap_or_default();
        let res = t.request(Method::GET, "/api/admin", &headers, Body::empty()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{accept:?}");
    }
    let res = t.request(Method::GET, "/api/admin", &[("authorization", ADMIN), ("accept", "application/json")], Body::empty()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.json()["endpoints"].as_array().unwrap().len() > 5);
    let res = t.request(Method::GET, "/api/admin/overview", &html, Body::empty()).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "only the page is public");
}

/// Every `/api/admin/assets/...` and `./x.js` the page and scripts name.
fn referenced_assets() -> Vec<String> {
    let mut names = Vec::new();
    let sources = std::iter::once(INDEX_HTML).chain(ASSETS.iter().map(|a| a.2));
    for text in sources {
        for part in text.split("/api/admin/assets/").skip(1).chain(text.split("from './").skip(1)) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-').collect();
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn every_asset_the_page_uses_is_served_without_the_token_with_the_same_headers() {
    let t = spawn_app().await;
    let names = referenced_assets();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let res = t.get(&format!("/api/admin/assets/{name}")).await;
        assert_eq!(res.status, StatusCode::OK, "{name}");
        let kind = res.headers["content-type"].to_str().unwrap();
        let want = if name.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert!(kind.starts_with(want), "{name}: {kind}");
        assert_eq!(res.headers["content-security-policy"], CSP);
        assert_eq!(res.headers["x-content-type-options"], "nosniff");
    }
    assert_eq!(t.get("/api/admin/assets/secrets.env").await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get("/api/admin/assets/..%2Fmod.rs").await.status, StatusCode::NOT_FOUND);
}

#[test]
fn the_page_has_no_inline_script_or_style_and_the_scripts_never_build_html() {
    for (i, tag) in INDEX_HTML.match_indices("<script") {
        let end = INDEX_HTML[i..].find('>').unwrap() + i;
        assert!(INDEX_HTML[i..end].contains("src=\"/api/admin/assets/"), "inline script: {tag}");
        assert!(INDEX_HTML[end..].starts_with("></script>"), "script with a body");
    }
    for banned in ["<style", " style=", " onclick=", " onload=", "javascript:", "http://", "https://"] {
        assert!(!INDEX_HTML.contains(banned), "index.html contains {banned}");
    }
    for (name, _, text) in ASSETS.iter().filter(|a| a.0.ends_with(".js")) {
        for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", "document.cookie", "http://", "https://"] {
            assert!(!text.contains(banned), "{name} contains {banned}");
        }
    }
}

#[tokio::test]
async fn hostile_text_on_a_timeline_or_ticket_comes_back_as_escaped_data() {
    let (t, _hubspot) = app_with_member().await;
    let hostile = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    let member = t.member_by_email(EMAIL).await.unwrap();
    let id = uuid::Uuid::parse_str(member["id"].as_str().unwrap()).unwrap();
    let db = t.db().await;
    db.execute("INSERT INTO timeline (member_id, at, kind, summary) VALUES ($1, now(), 'note', $2)", &[&id, &hostile]).await.unwrap();
    db.execute(
        "INSERT INTO tickets (member_id, email, subject, message, source, priority, created_at, updated_at, last_contact_at)
         VALUES ($1, $2, $3, $3, 'form', 'normal', now(), now(), now())",
        &[&id, &EMAIL, &hostile],
    )
    .await
    .unwrap();
    let res = admin(&t, Method::GET, &format!("/api/admin/members?id={id}"), None).await;
    assert_eq!(res.status, StatusCode::OK);
    let raw = String::from_utf8(res.body.to_vec()).unwrap();
    assert!(!raw.contains('<') && !raw.contains('>'), "markup characters are escaped in the body");
    assert!(raw.contains("\\u003cscript\\u003e"));
    let body = res.json();
    let tl = &body["timeline"];
    assert!(entries(tl, "timeline").iter().any(|e| e["summary"] == hostile), "returned as data, unchanged");
    let tickets = entries(tl, "ticket");
    assert_eq!(tickets.len(), 1);
    assert_eq!((tickets[0]["data"]["message"].as_str(), tickets[0]["outcome"].as_str()), (Some(hostile), Some("open")));
}
