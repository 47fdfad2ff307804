//! Many instances (DESIGN.md, "Many instances"): Vercel runs many copies of
//! one function at once, so every exactly-once promise must hold across
//! processes sharing the stores, not just inside one. Three real server
//! processes (the local server binary) share this test's Postgres (through
//! the pooler in the pooled lane) and Redis; each delivery goes to all three
//! at once, as a retried webhook or a double-clicked form would.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::fixtures::checkout_completed;
use crate::helpers::*;

/// One server process; killed when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `n` local servers on `t`'s data and Redis prefix, and waits until
/// each answers.
async fn instances(t: &TestApp, prefix: &str, n: usize) -> Vec<Instance> {
    let mut all = Vec::new();
    for _ in 0..n {
        let port = free_port();
        let mut vars = base_vars(&t.place);
        vars.insert("REDIS_KEY_PREFIX".into(), prefix.to_string());
        vars.insert("PORT".into(), port.to_string());
        vars.insert("DEV_CRONS".into(), "off".into());
        vars.insert("RUST_LOG".into(), "off".into());
        vars.insert("SUPPORT_RATE_LIMIT_PER_IP".into(), "1000000".into());
        vars.insert("SUPPORT_RATE_LIMIT_PER_EMAIL".into(), "1000000".into());
        let child = Command::new(env!("CARGO_BIN_EXE_opsbridge-dev"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a server process");
        all.push(Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
        });
    }
    let http = reqwest::Client::new();
    for i in &all {
        let mut up = false;
        for _ in 0..300 {
            if http
                .get(format!("{}/api/health", i.base))
                .send()
                .await
                .is_ok()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(up, "{} never answered", i.base);
    }
    all
}

/// Posts `body` to `url` until it is not a 409 (another instance has the
/// same delivery in flight: its sender retries, as Stripe does); returns the
/// final status and body.
async fn post_until_settled(
    http: &reqwest::Client,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> (u16, Value) {
    for _ in 0..200 {
        let mut req = http.post(&url).body(body.clone());
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let json: Value = res.json().await.unwrap_or(Value::Null);
        if status != 409 {
            return (status, json);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url}: still in flight after 200 tries");
}

/// [`post_until_settled`] with a JSON body (serialized now) and one more header.
fn post_json<'a>(
    http: &'a reqwest::Client,
    url: String,
    header: (&'static str, String),
    body: &Value,
) -> impl std::future::Future<Output = (u16, Value)> + 'a {
    let headers = vec![("content-type", "application/json".to_string()), header];
    post_until_settled(http, url, headers, serde_json::to_vec(body).unwrap())
}

#[tokio::test]
async fn three_processes_sharing_the_stores_apply_each_delivery_once() {
    let t = spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
    })
    .await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let servers = instances(&t, &prefix, 3).await;
    let http = reqwest::Client::new();
    let now = t.clock_now().timestamp();

    // Stripe: every event delivered to all three at once.
    let mut stripe = Vec::new();
    for i in 0..30 {
        let ev = checkout_completed(
            &format!("evt_1Multi{i:05}"),
            now,
            &format!("cus_M{i:05}"),
            &format!("multi{i}@example.com"),
            None,
        );
        let body = serde_json::to_vec(&ev).unwrap();
        for s in &servers {
            let sig = sign_stripe(&body, chrono::Utc::now().timestamp());
            let headers = vec![
                ("content-type", "application/json".to_string()),
                ("stripe-signature", sig),
            ];
            let url = format!("{}/api/webhooks/stripe", s.base);
            stripe.push(post_until_settled(&http, url, headers, body.clone()));
        }
    }
    // The founder's app: each signup id to all three, plus a second event
    // id for the same person on another instance.
    let app_auth = format!("Bearer {APP_API_TOKEN}");
    let mut app = Vec::new();
    for i in 0..20 {
        for (n, s) in servers.iter().enumerate() {
            let id = format!("evt_app_{}{i}", if n == 2 { "b" } else { "a" });
            let body = json!({"id": id, "type": "user.signed_up", "user_id": format!("usr_m{i}"),
                              "email": format!("APP{i}@Example.com")});
            let url = format!("{}/api/members/events", s.base);
            app.push(post_json(
                &http,
                url,
                ("authorization", app_auth.clone()),
                &body,
            ));
        }
    }
    // Support intake: one Idempotency-Key, one body, three instances.
    let mut intake = Vec::new();
    for i in 0..20 {
        let body = json!({"email": format!("help{i}@example.com"), "name": "Jane Doe",
                          "subject": "Help", "message": format!("Question {i}"), "source": "portal"});
        for s in &servers {
            let url = format!("{}/api/support/intake", s.base);
            intake.push(post_json(
                &http,
                url,
                ("idempotency-key", format!("multi-{i}")),
                &body,
            ));
        }
    }
    let (stripe, app, intake) = tokio::join!(join_all(stripe), join_all(app), join_all(intake));

    for (status, body) in &stripe {
        assert_eq!(*status, 200, "{body}");
    }
    let fresh = stripe
        .iter()
        .filter(|(_, b)| b["duplicate"] == false)
        .count();
    assert_eq!(
        fresh, 30,
        "each Stripe event stored by exactly one instance"
    );
    assert_eq!(t.count_where("events", "source = 'stripe'").await, 30);

    for (status, body) in &app {
        assert!(*status == 200 || *status == 202, "{status} {body}");
    }
    let fresh = app.iter().filter(|(s, _)| *s == 202).count();
    assert_eq!(fresh, 40, "each app event id accepted once");
    assert_eq!(t.count_where("events", "source = 'app'").await, 40);
    // One member per person, whichever instance saw them first.
    for i in 0..20 {
        let ids: Vec<&Value> = app[i * 3..i * 3 + 3]
            .iter()
            .map(|(_, b)| &b["member_id"])
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "two members for one person: {ids:?}"
        );
    }
    assert_eq!(
        t.count_where("members", "email_lower LIKE 'app%'").await,
        20
    );

    for (status, body) in &intake {
        assert_eq!(*status, 202, "{body}");
    }
    for i in 0..20 {
        let ids: Vec<&Value> = intake[i * 3..i * 3 + 3]
            .iter()
            .map(|(_, b)| &b["ticket_id"])
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "a key answered with two tickets: {ids:?}"
        );
    }
    assert_eq!(t.count("tickets").await, 20);
    assert_eq!(
        t.count_where("members", "email_lower LIKE 'help%'").await,
        20
    );
    // Stripe's 30, the app's 20, the intake's 20: nobody twice.
    assert_eq!(t.count("members").await, 70);
    drop(servers);
}
