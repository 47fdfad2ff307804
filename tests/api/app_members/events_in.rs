//! `POST /api/members/events`: one member per person, exactly once, and
//! nothing written for a refused event.

use http::{Method, StatusCode};
use serde_json::json;

use super::{post_event, signup};
use crate::helpers::{schema_url, spawn_app, spawn_app_with, TestApp, APP_API_TOKEN};

async fn no_rows(t: &TestApp) {
    for table in ["events", "members", "jobs", "timeline"] {
        assert_eq!(t.count(table).await, 0, "{table} has rows");
    }
}

#[tokio::test]
async fn a_signup_is_one_lead_and_its_replay_is_a_duplicate_of_the_same_member() {
    let t = spawn_app().await;
    let first = post_event(&t, &signup("evt_app_1", "usr_1", "Jane@Example.com")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let body = first.json();
    assert_eq!(
        (body["state"].as_str(), body["duplicate"].as_bool()),
        (Some("lead"), Some(false))
    );
    let again = post_event(&t, &signup("evt_app_1", "usr_1", "Jane@Example.com")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["duplicate"], true);
    assert_eq!(again.json()["member_id"], body["member_id"]);
    // Member ids are time-ordered (UUIDv7, see `Member::new_lead`).
    let id: uuid::Uuid = body["member_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.get_version_num(), 7);
    let m = t.member_by_email("jane@example.com").await.unwrap();
    assert_eq!(
        (m["app_user_id"].as_str(), m["state"].as_str()),
        (Some("usr_1"), Some("lead"))
    );
    assert_eq!(m["name"], "Jane Doe");
    assert_eq!(
        t.count_where("events", "source = 'app' AND outcome = 'applied'")
            .await,
        1
    );
    assert_eq!(t.count_where("jobs", "kind = 'crm_upsert'").await, 1);
    assert_eq!(t.count_where("jobs", "kind = 'app_webhook'").await, 1);
}

#[tokio::test]
async fn a_replay_is_a_duplicate_even_when_redis_forgot_it() {
    let t = spawn_app().await;
    let first = post_event(&t, &signup("evt_app_2", "usr_2", "joe@example.com")).await;
    let schema = t.place.clone();
    // Same database, fresh Redis prefix: only the Postgres backstop knows.
    let other = spawn_app_with(move |v| {
        v.insert("DATABASE_URL".into(), schema_url(&schema));
        v.insert("MIGRATE_ON_START".into(), "false".into());
    })
    .await;
    let again = post_event(&other, &signup("evt_app_2", "usr_2", "joe@example.com")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["member_id"], first.json()["member_id"]);
    assert_eq!(t.count("events").await, 1);
}

#[tokio::test]
async fn a_new_event_for_a_known_person_is_202_on_the_same_member_with_no_jobs() {
    let t = spawn_app().await;
    let a = post_event(&t, &signup("evt_app_3", "usr_3", "ann@example.com")).await;
    let b = post_event(&t, &signup("evt_app_4", "usr_3", "ANN@example.com")).await;
    assert_eq!(b.status, StatusCode::ACCEPTED);
    assert_eq!(b.json()["duplicate"], false);
    assert_eq!(a.json()["member_id"], b.json()["member_id"]);
    assert_eq!(t.count("jobs").await, 2, "nothing exported changed");
}

#[tokio::test]
async fn twenty_concurrent_signups_of_one_person_make_one_member_and_one_crm_job() {
    let t = spawn_app().await;
    let posts = (0..20).map(|i| {
        let body = signup(&format!("evt_burst_{i}"), "usr_burst", "burst@example.com");
        let t = &t;
        async move { post_event(t, &body).await }
    });
    let answers = futures::future::join_all(posts).await;
    let first_id = answers[0].json()["member_id"].clone();
    for a in &answers {
        assert_eq!(
            a.status,
            StatusCode::ACCEPTED,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.json()["member_id"], first_id);
    }
    assert_eq!(t.count("members").await, 1);
    assert_eq!(t.count("events").await, 20);
    assert_eq!(t.count_where("jobs", "kind = 'crm_upsert'").await, 1);
    assert_eq!(t.count_where("jobs", "kind = 'app_webhook'").await, 1);
    // CRM and app webhook are not configured here: the jobs wait, held.
    t.drain().await;
    assert_eq!(
        t.count_where("jobs", "state = 'held' AND reason = 'not_configured'")
            .await,
        2
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_its_own_code_and_nothing_is_written() {
    let t = spawn_app().await;
    let good = serde_json::to_vec(&signup("evt_bad", "usr_bad", "bad@example.com")).unwrap();
    let bearer = format!("Bearer {APP_API_TOKEN}");
    let json_ct = ("content-type", "application/json");
    let auth = ("authorization", bearer.as_str());
    let field = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = signup("evt_bad", "usr_bad", "bad@example.com");
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    type Case<'a> = (
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        u16,
        &'a str,
        Option<(&'a str, &'a str)>,
    );
    let cases: Vec<Case> = vec![
        (vec![json_ct], good.clone(), 401, "missing_token", None),
        (
            vec![json_ct, ("authorization", "Bearer nope")],
            good.clone(),
            401,
            "invalid_token",
            None,
        ),
        (
            vec![auth, ("content-type", "text/plain")],
            good.clone(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            vec![auth],
            good.clone(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            vec![auth, json_ct],
            b"{not json".to_vec(),
            400,
            "invalid_json",
            None,
        ),
        (
            vec![auth, json_ct],
            b"[1,2]".to_vec(),
            400,
            "invalid_json",
            None,
        ),
        (
            vec![auth, json_ct],
            vec![b' '; 64 * 1024 + 1],
            413,
            "payload_too_large",
            None,
        ),
        (
            vec![auth, json_ct],
            field(&|v| v["id"] = json!(null)),
            422,
            "invalid_fields",
            Some(("id", "missing")),
        ),
        (
            vec![auth, json_ct],
            field(&|v| v["type"] = json!("user.deleted")),
            422,
            "invalid_fields",
            Some(("type", "unknown_type")),
        ),
        (
            vec![auth, json_ct],
            field(&|v| {
                v.as_object_mut().unwrap().remove("user_id");
            }),
            422,
            "invalid_fields",
            Some(("user_id", "missing")),
        ),
        (
            vec![auth, json_ct],
            field(&|v| v["email"] = json!("bad@")),
            422,
            "invalid_fields",
            Some(("email", "invalid_email")),
        ),
        (
            vec![auth, json_ct],
            field(&|v| {
                v.as_object_mut().unwrap().remove("email");
            }),
            422,
            "invalid_fields",
            Some(("email", "missing")),
        ),
        (
            vec![auth, json_ct],
            field(&|v| v["name"] = json!("n".repeat(201))),
            422,
            "invalid_fields",
            Some(("name", "too_long")),
        ),
        (
            vec![auth, json_ct],
            field(&|v| v["occurred_at"] = json!("last tuesday")),
            422,
            "invalid_fields",
            Some(("occurred_at", "invalid_time")),
        ),
    ];
    for (headers, body, status, code, field_code) in cases {
        let res = t
            .request(Method::POST, "/api/members/events", &headers, body)
            .await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "{code}: {}",
            String::from_utf8_lossy(&res.body)
        );
        let err = &res.json()["error"];
        assert_eq!(err["code"], code);
        assert!(err["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        if let Some((name, fc)) = field_code {
            assert_eq!(err["details"]["fields"][name], fc, "{name}");
        }
        assert!(!String::from_utf8_lossy(&res.body).contains("bad@example.com"));
    }
    let res = t
        .request(
            Method::GET,
            "/api/members/events",
            &[auth],
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    no_rows(&t).await;
}

#[tokio::test]
async fn an_event_in_flight_gets_409_and_nothing_is_written() {
    let t = spawn_app().await;
    t.app
        .kv
        .set("app_event:evt_busy", "inflight:other", 10_000)
        .await
        .unwrap();
    let res = post_event(&t, &signup("evt_busy", "usr_busy", "busy@example.com")).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["error"]["code"], "in_flight");
    assert!(res.headers.contains_key("retry-after"));
    no_rows(&t).await;
}

#[tokio::test]
async fn user_updated_changes_email_and_name_on_the_same_member() {
    let t = spawn_app().await;
    let a = post_event(&t, &signup("evt_u1", "usr_u", "old@example.com")).await;
    let update = json!({"id": "evt_u2", "type": "user.updated", "user_id": "usr_u",
                        "email": "New@Example.com", "name": "Jane Q"});
    let b = post_event(&t, &update).await;
    assert_eq!(b.status, StatusCode::ACCEPTED);
    assert_eq!(a.json()["member_id"], b.json()["member_id"]);
    assert_eq!(t.count("members").await, 1);
    let m = t
        .member_by_email("new@example.com")
        .await
        .expect("email changed");
    assert_eq!(
        (m["name"].as_str(), m["sequence"].as_i64()),
        (Some("Jane Q"), Some(2))
    );
    assert_eq!(t.count_where("jobs", "kind = 'crm_upsert'").await, 2);
    // An older update arriving late never overwrites the newer email.
    let late = json!({"id": "evt_u0", "type": "user.updated", "user_id": "usr_u",
                      "email": "older@example.com", "occurred_at": "2020-01-01T00:00:00Z"});
    assert_eq!(post_event(&t, &late).await.status, StatusCode::ACCEPTED);
    assert!(t.member_by_email("new@example.com").await.is_some());
    assert_eq!(t.count_where("events", "outcome = 'stale'").await, 1);
}

#[tokio::test]
async fn an_email_taken_by_another_member_is_409_and_nothing_changes() {
    let t = spawn_app().await;
    post_event(&t, &signup("evt_t1", "usr_a", "a@example.com")).await;
    post_event(&t, &signup("evt_t2", "usr_b", "b@example.com")).await;
    let lead = json!({"id": "evt_t3", "type": "lead.captured", "email": "lead@example.com"});
    assert_eq!(post_event(&t, &lead).await.status, StatusCode::ACCEPTED);
    let (events, jobs, timeline) = (
        t.count("events").await,
        t.count("jobs").await,
        t.count("timeline").await,
    );
    let steal = |id: &str, email: &str| json!({"id": id, "type": "user.updated", "user_id": "usr_a", "email": email});
    for (id, email) in [("evt_t4", "B@example.com"), ("evt_t5", "lead@example.com")] {
        let res = post_event(&t, &steal(id, email)).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{email}");
        assert_eq!(res.json()["error"]["code"], "email_taken");
    }
    // A signup under another account's email is refused the same way.
    let res = post_event(&t, &signup("evt_t6", "usr_c", "a@example.com")).await;
    assert_eq!(res.json()["error"]["code"], "email_taken");
    assert_eq!(
        (t.count("events").await, t.count("jobs").await),
        (events, jobs)
    );
    assert_eq!(t.count("timeline").await, timeline);
    assert_eq!(t.count("members").await, 3);
    assert_eq!(
        t.member_by_email("b@example.com").await.unwrap()["app_user_id"],
        "usr_b"
    );
    // The refused id was not burnt: once fixed, the same id is accepted.
    let ok = post_event(&t, &steal("evt_t4", "a2@example.com")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_lead_then_a_signup_with_the_same_email_link_to_one_member() {
    let t = spawn_app().await;
    let lead = json!({"id": "evt_l1", "type": "lead.captured", "email": "Lee@Example.com",
                      "source": "newsletter"});
    let a = post_event(&t, &lead).await;
    let b = post_event(&t, &signup("evt_l2", "usr_lee", "lee@example.com")).await;
    assert_eq!(a.json()["member_id"], b.json()["member_id"]);
    let m = t.member_by_email("lee@example.com").await.unwrap();
    assert_eq!(m["app_user_id"], "usr_lee");
    assert_eq!(
        m["sequence"], 2,
        "linking the user id is an exported change"
    );
}
