#![allow(dead_code)] // helpers serve every test module; not all use all of them
//! Test helpers: `spawn_app` builds the application on a fresh schema and
//! key prefix and returns a handle that drives the router in-process.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use chrono::{TimeZone, Utc};
use http::{HeaderMap, Method, Request, StatusCode};
use opsbridge::clock::ManualClock;
use opsbridge::db::Sql;
use opsbridge::{App, Config, Need};
use serde_json::Value;
use tower::ServiceExt;

/// Test secrets: obviously fake.
pub const CRON_SECRET: &str = "test-cron-secret";
pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const APP_API_TOKEN: &str = "test-app-token";
pub const STRIPE_SECRET: &str = "whsec_FAKE_test_secret_for_opsbridge_tests";

/// The shared test database URL (no schema): a direct connection, also in
/// the pooled lane (to create each test's database and to observe).
pub fn base_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run the suite with scripts/test")
}

/// The shared test Redis URL.
pub fn base_redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL is not set: run the suite with scripts/test")
}

/// The pooled lane (`scripts/test` sets `TEST_POOLED_DATABASE_URL`, a
/// Supabase-shaped URL to PgBouncer in transaction mode over TLS, with
/// `DBNAME` where each test's database goes): the app reaches Postgres the
/// way a Vercel deploy does. A pooler takes no session settings, so there
/// each test gets a database of its own instead of a schema.
pub fn pooled_url_template() -> Option<String> {
    std::env::var("TEST_POOLED_DATABASE_URL").ok()
}

/// The app's URL for `place` (a schema in the direct lane, a database in
/// the pooled lane).
pub fn schema_url(place: &str) -> String {
    if let Some(template) = pooled_url_template() {
        return template.replace("DBNAME", place);
    }
    direct_url(place)
}

/// A direct URL for `place`, around any pooler (session settings allowed).
pub fn direct_url(place: &str) -> String {
    let base = base_database_url();
    if pooled_url_template().is_some() {
        return with_database(&base, place);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{place}")
}

/// The app's URL for a whole database `name` (through the pooler in the
/// pooled lane), and a direct one around any pooler.
pub fn database_urls(name: &str) -> (String, String) {
    let direct = with_database(&base_database_url(), name);
    match pooled_url_template() {
        Some(template) => (template.replace("DBNAME", name), direct),
        None => (direct.clone(), direct),
    }
}

/// `url` with its database name replaced (`postgres:///opsbridge?...` or
/// `postgres://u@h:p/opsbridge?...`).
fn with_database(url: &str, database: &str) -> String {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let slash = head.rfind('/').expect("a database in TEST_DATABASE_URL");
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{database}{q}", &head[..slash])
}

/// The SQL schema the app's tables live in for `place`.
pub fn sql_schema(place: &str) -> String {
    if pooled_url_template().is_some() {
        "public".to_string()
    } else {
        place.to_string()
    }
}

/// Creates a fresh, empty place for one test (a schema, or in the pooled
/// lane a database) and returns its name.
pub async fn fresh_schema() -> String {
    let place = format!("t_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&base_database_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    let ddl = if pooled_url_template().is_some() {
        format!("CREATE DATABASE {place}")
    } else {
        format!("CREATE SCHEMA {place}")
    };
    client.batch_execute(&ddl).await.expect("create schema");
    place
}

/// Creates a fresh, empty database (in either lane) and returns its name.
pub async fn fresh_database() -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&base_database_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    name
}

/// The variables every test app starts from.
pub fn base_vars(schema: &str) -> HashMap<String, String> {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    [
        ("DATABASE_URL", schema_url(schema)),
        ("REDIS_URL", base_redis_url()),
        ("REDIS_KEY_PREFIX", prefix),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET.to_string()),
        ("CRON_SECRET", CRON_SECRET.to_string()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
        ("APP_API_TOKEN", APP_API_TOKEN.to_string()),
        ("DB_POOL_SIZE", "4".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(pooler_setting())
    .collect()
}

/// In the pooled lane on port 6543, `DATABASE_POOLER=auto` must find the
/// pooler by itself (as with Supabase's URL); on any other port (6543 was
/// taken) the lane says so, as a user of such a pooler would.
fn pooler_setting() -> Option<(String, String)> {
    let pooled = pooled_url_template().is_some();
    let on_6543 = std::env::var("TEST_POOLER_PORT_IS_6543").as_deref() == Ok("1");
    (pooled && !on_6543).then(|| ("DATABASE_POOLER".to_string(), "transaction".to_string()))
}

/// A running application under test.
pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub clock: ManualClock,
    /// The SQL schema of this test's tables (for qualified names in SQL).
    pub schema: String,
    /// Where this test's data lives: pass to [`schema_url`] for a second
    /// app on the same data.
    pub place: String,
}

/// An answer from the router.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl TestResponse {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// The place named in a test URL built by [`schema_url`].
fn place_of(url: &str) -> Option<String> {
    let at = url.find("t_")?;
    let name: String = url[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (name.len() == 34).then_some(name)
}

/// Builds the app on a fresh schema, migrated, with the default test variables.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Same, after `edit` changes the variables.
pub async fn spawn_app_with(edit: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    opsbridge::telemetry::init();
    let place = fresh_schema().await;
    let mut vars = base_vars(&place);
    edit(&mut vars);
    let config = Config::from_lookup(|k| vars.get(k).cloned(), Need::ALL).expect("test config");
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap());
    let app = App::new(config, Arc::new(clock.clone())).expect("app");
    if vars.get("MIGRATE_ON_START").map(String::as_str) != Some("false") {
        opsbridge::db::migrate::run(&app.db).await.expect("migrate");
    }
    let mut router = opsbridge::functions::all_routes(app.clone());
    if vars.get("TEST_BACKGROUND").map(String::as_str) == Some("off") {
        // Jobs then run only when the test drains the outbox: deterministic.
        router = router.layer(axum::Extension(opsbridge::http::Background::new(|_| {})));
    }
    let router = opsbridge::http::finish(router);
    // The test's place follows the app's URL (a test may point it elsewhere).
    let place = place_of(&vars["DATABASE_URL"]).unwrap_or(place);
    TestApp {
        app,
        router,
        clock,
        schema: sql_schema(&place),
        place,
    }
}

impl TestApp {
    /// Sends one request through the full router stack.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// `GET path` with no headers.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path, &[], Body::empty()).await
    }

    /// A connection through the app's own door (pooler and TLS included).
    pub async fn db(&self) -> opsbridge::db::Conn {
        self.app.db.get().await.expect("db connection")
    }

    /// A session straight to this test's data, around any pooler: for what
    /// needs a session (a transaction held open across calls, PREPARE, SET).
    pub async fn direct(&self) -> tokio_postgres::Client {
        let (client, conn) =
            tokio_postgres::connect(&direct_url(&self.place), tokio_postgres::NoTls)
                .await
                .expect("direct connection");
        tokio::spawn(conn);
        client
    }

    /// Counts rows of `table` in this test's schema.
    pub async fn count(&self, table: &str) -> i64 {
        self.db()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }
}

/// A Stripe signature header for `body` at `t`, with the test secret.
pub fn sign_stripe(body: &[u8], t: i64) -> String {
    opsbridge::signature::stripe::sign(body, &opsbridge::secret::Secret::new(STRIPE_SECRET), t)
}

impl TestApp {
    /// POSTs a Stripe event, signed now (by the test clock).
    pub async fn post_stripe(&self, event: &Value) -> TestResponse {
        let body = serde_json::to_vec(event).unwrap();
        let sig = sign_stripe(&body, self.clock_now().timestamp());
        self.post_stripe_raw(body, Some(&sig)).await
    }

    /// POSTs raw bytes with an optional signature header.
    pub async fn post_stripe_raw(&self, body: Vec<u8>, signature: Option<&str>) -> TestResponse {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(s) = signature {
            headers.push(("stripe-signature", s));
        }
        self.request(Method::POST, "/api/webhooks/stripe", &headers, body)
            .await
    }

    /// The test clock's time.
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use opsbridge::clock::Clock;
        self.clock.now()
    }

    /// Runs the outbox sweep until nothing is due (bounded).
    pub async fn drain(&self) -> opsbridge::jobs::SweepSummary {
        let mut total = opsbridge::jobs::SweepSummary::default();
        for _ in 0..20 {
            let s = opsbridge::jobs::sweep(&self.app, std::time::Duration::from_secs(30))
                .await
                .expect("sweep");
            total.claimed += s.claimed;
            total.succeeded += s.succeeded;
            total.retried += s.retried;
            total.dead += s.dead;
            total.held += s.held;
            if s.remaining_due == 0 {
                break;
            }
        }
        total
    }

    /// One member row as JSON (by email), for assertions.
    pub async fn member_by_email(&self, email: &str) -> Option<Value> {
        let row = self
            .db()
            .await
            .query_opt(
                "SELECT row_to_json(m)::jsonb FROM members m WHERE email_lower = lower($1) AND merged_into IS NULL",
                &[&email],
            )
            .await
            .unwrap();
        row.map(|r| r.get(0))
    }

    /// Count of rows matching a WHERE clause.
    pub async fn count_where(&self, table: &str, condition: &str) -> i64 {
        self.db()
            .await
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {condition}"),
                &[],
            )
            .await
            .expect("count")
            .get(0)
    }
}

/// The generic plan of `sql` on this test's (empty) tables, as text: the
/// plan a pooled connection keeps once it settles on a generic one. Needs a
/// session of its own ([`TestApp::direct`]): PREPARE and SET.
pub async fn generic_plan(client: &tokio_postgres::Client, sql: &str, args: &str) -> String {
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE probe AS {sql}"
        ))
        .await
        .unwrap();
    let rows = client
        .simple_query(&format!("EXPLAIN EXECUTE probe({args})"))
        .await
        .unwrap();
    client
        .batch_execute("DEALLOCATE probe; RESET plan_cache_mode")
        .await
        .unwrap();
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}
