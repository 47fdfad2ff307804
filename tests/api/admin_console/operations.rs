//! The overview, kill switches and the Stripe event export.

use http::{Method, StatusCode};
#[allow(unused_imports)]
use opsbridge::db::Sql;
use serde_json::{json, Value};

use super::{admin, app_with_member, get_json};
use crate::fixtures::checkout_completed;
use crate::helpers::spawn_app;

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
    assert!(
        reasons.iter().any(|r| r["reason"] == "invalid_payload"
            && r["kind"] == "crm_upsert"
            && r["count"] == 1),
        "{reasons:?}"
    );
    assert!(o["outbox"].get("oldest_pending_age_secs").is_some());
    let crons = o["crons"].as_array().unwrap();
    let names: Vec<&str> = crons.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"crm-sync") && names.contains(&"stripe-catchup"),
        "{names:?}"
    );
    assert!(crons
        .iter()
        .all(|c| c["status"] == "never_run" && c["missed"] == false));
    assert_eq!(o["signature_failures"]["last_hour"], 1);
    assert_eq!(o["interventions"]["total"], 0);
    assert_eq!(o["metrics"]["paid_checkouts"]["paid"], 1);
    assert_eq!(o["metrics"]["paid_checkouts"]["reached_active"], 1);

    // A sweep that ran 5 minutes ago is missed; an admin retry and a flag flip count.
    let five_ago = t.clock_now() - chrono::Duration::minutes(5);
    t.db().await.execute("INSERT INTO cron_runs (name, started_at, finished_at, ok) VALUES ('crm-sync', $1, $1, true)", &[&five_ago]).await.unwrap();
    let id: i64 = t
        .db()
        .await
        .query_one("SELECT id FROM jobs WHERE state = 'dead'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        admin(
            &t,
            Method::POST,
            &format!("/api/admin/jobs/{id}/retry"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let flip = admin(
        &t,
        Method::POST,
        "/api/admin/flags/slack",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(flip.status, StatusCode::OK);
    let (_, o) = get_json(&t, "/api/admin/overview").await;
    let sweep = o["crons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "crm-sync")
        .unwrap()
        .clone();
    assert_eq!(
        (sweep["status"].as_str(), sweep["missed"].as_bool()),
        (Some("missed"), Some(true))
    );
    assert_eq!(
        (
            o["interventions"]["job_actions"].as_i64(),
            o["interventions"]["flag_changes"].as_i64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn switches_are_listed_and_flipped_with_who_and_when() {
    let t = spawn_app().await;
    let (s, body) = get_json(&t, "/api/admin/flags").await;
    assert_eq!(s, StatusCode::OK);
    let hubspot = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "hubspot")
        .unwrap()
        .clone();
    assert_eq!(
        (
            hubspot["enabled"].as_bool(),
            hubspot["updated_by"].is_null()
        ),
        (Some(true), true)
    );
    assert_eq!(hubspot["configured"], false);
    let res = admin(
        &t,
        Method::POST,
        "/api/admin/flags/hubspot",
        Some(json!({"enabled": false, "note": "CRM migration"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let f = &res.json()["flag"];
    assert_eq!(
        (f["enabled"].as_bool(), f["note"].as_str()),
        (Some(false), Some("CRM migration"))
    );
    assert!(
        f["updated_by"].as_str().unwrap().starts_with("admin:"),
        "{f}"
    );
    let at = chrono::DateTime::parse_from_rfc3339(f["updated_at"].as_str().unwrap()).unwrap();
    assert_eq!(at, t.clock_now());
    let paused = opsbridge::flags::paused(&t.db().await).await.unwrap();
    assert_eq!(paused, vec!["hubspot".to_string()]);
    let res = admin(
        &t,
        Method::POST,
        "/api/admin/flags/hubspot",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(res.json()["flag"]["enabled"], true);
    let res = admin(
        &t,
        Method::POST,
        "/api/admin/flags/mailchimp",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        (res.status, res.json()["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("flag_not_found"))
    );
    let res = admin(
        &t,
        Method::POST,
        "/api/admin/flags/hubspot",
        Some(json!({"enabled": "no"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let h = [("content-type", "application/json")];
    let res = t
        .request(
            Method::POST,
            "/api/admin/flags/hubspot",
            &h,
            r#"{"enabled":false}"#,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stored_events_export_as_jsonl_in_created_order_with_a_cursor() {
    let t = spawn_app().await;
    let now = t.clock_now().timestamp();
    for (i, created) in [(2, now - 10), (1, now - 300), (3, now - 5)] {
        let ev = checkout_completed(
            &format!("evt_Export000{i}"),
            created,
            &format!("cus_Ex{i}"),
            &format!("ex{i}@example.com"),
            None,
        );
        assert_eq!(t.post_stripe(&ev).await.status, StatusCode::OK);
    }
    let res = admin(&t, Method::GET, "/api/admin/events/export", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/x-ndjson"));
    let text = String::from_utf8(res.body.to_vec()).unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["evt_Export0001", "evt_Export0002", "evt_Export0003"]);
    let first = admin(&t, Method::GET, "/api/admin/events/export?limit=2", None).await;
    let cursor = first.headers["x-next-cursor"].to_str().unwrap().to_string();
    let rest = admin(
        &t,
        Method::GET,
        &format!("/api/admin/events/export?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert!(String::from_utf8_lossy(&rest.body).contains("evt_Export0003"));
    assert!(!rest.headers.contains_key("x-next-cursor"));
    let since = now - 60;
    let window = admin(
        &t,
        Method::GET,
        &format!("/api/admin/events/export?since={since}"),
        None,
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&window.body).lines().count(), 2);
    let bad = admin(
        &t,
        Method::GET,
        "/api/admin/events/export?since=yesterday",
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        t.get("/api/admin/events/export").await.status,
        StatusCode::UNAUTHORIZED
    );
}
