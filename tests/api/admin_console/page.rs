//! The page: served without the token, strict headers, every asset present,
//! no inline script or HTML building, hostile stored text returned escaped.

use axum::body::Body;
use http::{Method, StatusCode};
use opsbridge::admin::page::{ASSETS, CSP, INDEX_HTML};
#[allow(unused_imports)]
use opsbridge::db::Sql;

use super::{admin, app_with_member, entries, ADMIN, EMAIL};
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_page_is_served_to_browsers_without_the_token_with_strict_headers() {
    let t = spawn_app().await;
    let html = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let res = t
        .request(Method::GET, "/api/admin", &html, Body::empty())
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let h = |k: &str| res.headers.get(k).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        h("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(h("content-security-policy").as_deref(), Some(CSP));
    assert!(
        CSP.contains("default-src 'none'")
            && CSP.contains("script-src 'self'")
            && CSP.contains("frame-ancestors 'none'")
    );
    assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(h("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(h("cache-control").as_deref(), Some("no-store"));
    assert_eq!(h("vary").as_deref(), Some("Accept"));
    assert!(h("x-request-id").is_some());
    assert_eq!(res.body, INDEX_HTML.as_bytes());
    for accept in [None, Some("application/json"), Some("*/*")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| vec![("accept", a)]).unwrap_or_default();
        let res = t
            .request(Method::GET, "/api/admin", &headers, Body::empty())
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{accept:?}");
    }
    let res = t
        .request(
            Method::GET,
            "/api/admin",
            &[("authorization", ADMIN), ("accept", "application/json")],
            Body::empty(),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.json()["endpoints"].as_array().unwrap().len() > 5);
    let res = t
        .request(Method::GET, "/api/admin/overview", &html, Body::empty())
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "only the page is public"
    );
}

/// Every `/api/admin/assets/...` and `./x.js` the page and scripts name.
fn referenced_assets() -> Vec<String> {
    let mut names = Vec::new();
    let sources = std::iter::once(INDEX_HTML).chain(ASSETS.iter().map(|a| a.2));
    for text in sources {
        for part in text
            .split("/api/admin/assets/")
            .skip(1)
            .chain(text.split("from './").skip(1))
        {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
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
        let want = if name.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(kind.starts_with(want), "{name}: {kind}");
        assert_eq!(res.headers["content-security-policy"], CSP);
        assert_eq!(res.headers["x-content-type-options"], "nosniff");
    }
    assert_eq!(
        t.get("/api/admin/assets/secrets.env").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get("/api/admin/assets/..%2Fmod.rs").await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn the_page_has_no_inline_script_or_style_and_the_scripts_never_build_html() {
    for (i, tag) in INDEX_HTML.match_indices("<script") {
        let end = INDEX_HTML[i..].find('>').unwrap() + i;
        assert!(
            INDEX_HTML[i..end].contains("src=\"/api/admin/assets/"),
            "inline script: {tag}"
        );
        assert!(
            INDEX_HTML[end..].starts_with("></script>"),
            "script with a body"
        );
    }
    for banned in [
        "<style",
        " style=",
        " onclick=",
        " onload=",
        "javascript:",
        "http://",
        "https://",
    ] {
        assert!(!INDEX_HTML.contains(banned), "index.html contains {banned}");
    }
    for (name, _, text) in ASSETS.iter().filter(|a| a.0.ends_with(".js")) {
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage",
            "document.cookie",
            "http://",
            "https://",
        ] {
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
    db.execute(
        "INSERT INTO timeline (member_id, at, kind, summary) VALUES ($1, now(), 'note', $2)",
        &[&id, &hostile],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO tickets (member_id, email, subject, message, source, priority, created_at, updated_at, last_contact_at)
         VALUES ($1, $2, $3, $3, 'form', 'normal', now(), now(), now())",
        &[&id, &EMAIL, &hostile],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO ai_drafts (ticket_id, contact_n, status, category, urgency, summary, draft_reply, confidence,
                                model, created_at, updated_at)
         SELECT id, 1, 'pending_approval', 'refund', 'normal', $2, $2, 0.5, 'fake', now(), now()
         FROM tickets WHERE member_id = $1",
        &[&id, &hostile],
    )
    .await
    .unwrap();
    let res = admin(
        &t,
        Method::GET,
        &format!("/api/admin/members?id={id}"),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let raw = String::from_utf8(res.body.to_vec()).unwrap();
    assert!(
        !raw.contains('<') && !raw.contains('>'),
        "markup characters are escaped in the body"
    );
    assert!(raw.contains("\\u003cscript\\u003e"));
    let body = res.json();
    let tl = &body["timeline"];
    assert!(
        entries(tl, "timeline")
            .iter()
            .any(|e| e["summary"] == hostile),
        "returned as data, unchanged"
    );
    let drafts = entries(tl, "draft");
    assert_eq!(drafts.len(), 1, "the ticket's AI draft is on the timeline");
    assert_eq!(drafts[0]["outcome"], "pending_approval");
    assert!(drafts[0]["summary"].as_str().unwrap().ends_with(hostile));
    let tickets = entries(tl, "ticket");
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        (
            tickets[0]["data"]["message"].as_str(),
            tickets[0]["outcome"].as_str()
        ),
        (Some(hostile), Some("open"))
    );
}
