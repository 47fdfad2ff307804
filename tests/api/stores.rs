//! The stores users deploy on (DESIGN.md, "Where it runs"): both database
//! modes on one real Postgres, TLS checked at cold start, Redis over TLS and
//! after the server closed an idle connection, a pooler restarted under load.
//! `scripts/test` starts PgBouncer, the TLS Postgres role and the TLS Redis
//! (`scripts/lib/pooled.sh`) and exports where they are.

use std::collections::HashMap;
use std::sync::Arc;

use http::StatusCode;
use opsbridge::config::Pooler;
use opsbridge::db::url::SslMode;
use opsbridge::db::{Mode, Sql};
use opsbridge::kv::Kv;
use opsbridge::{App, Config, Need};
use serde_json::Value;

use crate::fixtures::checkout_completed;
use crate::helpers::*;

/// A variable `scripts/test` exports (panics with a hint when missing).
fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite with scripts/test"))
}

fn pem(file_var: &str) -> String {
    std::fs::read_to_string(var(file_var)).expect("read a test CA")
}

/// A pool of one connection on `t`'s data, around any pooler, in `pooler` mode.
fn pool_of_one(t: &TestApp, pooler: Pooler) -> opsbridge::db::Db {
    opsbridge::db::pool::connect_url(&direct_url(&t.place), pooler, None, 1).unwrap()
}

#[tokio::test]
async fn in_transaction_mode_no_statement_is_prepared_and_in_direct_mode_they_are_cached() {
    let t = spawn_app().await;
    for (pooler, mode) in [
        (Pooler::Transaction, Mode::Transaction),
        (Pooler::None, Mode::Direct),
    ] {
        let db = pool_of_one(&t, pooler);
        assert_eq!(db.shape().mode, mode);
        let conn = db.get().await.unwrap();
        let n: i64 = conn
            .query_one("SELECT $1::int8 + 1", &[&41i64])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 42);
        let tx = conn.begin();
        // Qualified: in transaction mode the URL's `options` (the direct
        // lane's search_path) are dropped, as a pooler would refuse them.
        let sql = format!(
            "SELECT count(*) FROM {}.members WHERE email_lower = $1",
            t.schema
        );
        tx.execute(&sql, &[&"a@example.com"]).await.unwrap();
        let conn = tx.commit_keep().await.unwrap();
        let prepared: i64 = conn
            .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
            .await
            .unwrap()
            .get(0);
        match mode {
            Mode::Transaction => assert_eq!(prepared, 0, "a named statement in transaction mode"),
            Mode::Direct => assert!(prepared >= 2, "direct mode caches its statements"),
        }
    }
}

#[tokio::test]
async fn the_time_limits_hold_in_both_modes_inside_and_outside_a_transaction() {
    let t = spawn_app().await;
    for pooler in [Pooler::Transaction, Pooler::None] {
        let db = pool_of_one(&t, pooler);
        let conn = db.get().await.unwrap();
        let show = |sql: &'static str| {
            let conn = &conn;
            async move { conn.query_one(sql, &[]).await.unwrap().get::<_, String>(0) }
        };
        assert_eq!(show("SHOW statement_timeout").await, "5s", "{pooler:?}");
        assert_eq!(
            show("SHOW idle_in_transaction_session_timeout").await,
            "10s"
        );
        let tx = conn.begin();
        let row = tx.query_one("SHOW statement_timeout", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), "5s", "{pooler:?} in a transaction");
        tx.commit().await.unwrap();
    }
    // The app's own pool, through whatever this lane connects with.
    let row = t
        .db()
        .await
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "5s");
}

#[tokio::test]
async fn health_names_the_database_mode_and_tls_but_never_the_url() {
    let t = spawn_app().await;
    let res = t.get("/api/health").await;
    let body = res.json();
    let pg = &body["checks"]["postgres"];
    let text = String::from_utf8_lossy(&res.body).to_string();
    assert!(
        !text.contains("postgres://") && !text.contains("FAKE_"),
        "{text}"
    );
    if let Some(url) = pooled_url_template() {
        assert_eq!(pg["tls"], "require", "{body}");
        assert_eq!(pg["pooler"], "transaction", "{body}");
        // Port 6543 alone tells `auto` that a transaction pooler is there.
        if std::env::var("TEST_POOLER_PORT_IS_6543").as_deref() == Ok("1") {
            assert!(url.contains(":6543/"));
            assert!(
                !base_vars("x").contains_key("DATABASE_POOLER"),
                "auto decides"
            );
        }
    } else {
        assert_eq!(pg["pooler"], "none", "{body}");
        assert_eq!(pg["tls"], "disable", "{body}");
    }
    assert_eq!(pg["tls_roots"], Value::Null);
    assert_eq!(body["checks"]["redis"]["tls"], false);
}

/// The variables of an app on a fresh database reached over TLS, straight to
/// Postgres with a scram password (`TEST_DIRECT_TLS_DATABASE_URL`).
async fn tls_vars(extra_query: &str) -> HashMap<String, String> {
    let place = fresh_database().await;
    let mut vars = base_vars(&place);
    let url = var("TEST_DIRECT_TLS_DATABASE_URL").replace("DBNAME", &place);
    vars.insert("DATABASE_URL".into(), format!("{url}{extra_query}"));
    vars
}

async fn cold_start(vars: &HashMap<String, String>) -> anyhow::Result<App> {
    let config = Config::from_lookup(|k| vars.get(k).cloned(), Need::ALL)?;
    let clock = opsbridge::clock::ManualClock::at(chrono::Utc::now());
    let app = App::new(config, Arc::new(clock))?;
    app.start().await?;
    Ok(app)
}

#[tokio::test]
async fn verify_full_with_the_right_ca_starts_and_with_a_wrong_ca_stops_the_cold_start() {
    // The CA as PEM text in DATABASE_CA_CERT (a function has no file).
    let mut vars = tls_vars("").await;
    vars.insert("DATABASE_CA_CERT".into(), pem("TEST_CA_CERT_FILE"));
    let app = cold_start(&vars).await.expect("verified start");
    assert_eq!(app.db.shape().ssl_mode, SslMode::VerifyFull);
    let applied: i64 = app
        .db
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied as usize, opsbridge::db::migrate::MIGRATIONS.len());

    vars.insert("DATABASE_CA_CERT".into(), pem("TEST_WRONG_CA_CERT_FILE"));
    let err = format!(
        "{:#}",
        cold_start(&vars).await.err().expect("a wrong CA must stop")
    );
    assert!(
        err.contains("Postgres TLS failed (sslmode=verify-full"),
        "{err}"
    );
    assert!(err.contains("certificate verify failed"), "{err}");
    assert!(
        !err.contains("FAKE_") && !err.contains("postgres://"),
        "{err}"
    );

    // The CA from sslrootcert, as libpq reads it.
    let file = var("TEST_CA_CERT_FILE");
    let vars = tls_vars(&format!("&sslrootcert={file}")).await;
    cold_start(&vars).await.expect("sslrootcert start");
}

#[tokio::test]
async fn require_encrypts_without_checking_unless_a_ca_is_given() {
    let url_of =
        |vars: &HashMap<String, String>| vars["DATABASE_URL"].replace("verify-full", "require");
    let mut vars = tls_vars("").await;
    let url = url_of(&vars);
    vars.insert("DATABASE_URL".into(), url);
    let app = cold_start(&vars).await.expect("require needs no CA");
    let ssl: bool = app
        .db
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the session is encrypted");
    // libpq: `require` with a CA given is `verify-ca`.
    vars.insert("DATABASE_CA_CERT".into(), pem("TEST_WRONG_CA_CERT_FILE"));
    let err = format!(
        "{:#}",
        cold_start(&vars)
            .await
            .err()
            .expect("checked against the CA")
    );
    assert!(err.contains("sslmode=verify-ca"), "{err}");
}

#[tokio::test]
async fn rediss_is_verified_against_redis_ca_cert_or_the_system_roots() {
    let url = var("TEST_REDIS_TLS_URL");
    let right = Kv::new(&url, Some(&pem("TEST_CA_CERT_FILE")), "t:").unwrap();
    right.ping().await.expect("verified TLS");
    let wrong = Kv::new(&url, Some(&pem("TEST_WRONG_CA_CERT_FILE")), "t:").unwrap();
    assert!(wrong.ping().await.is_err(), "a wrong CA must fail");
    let system = Kv::new(&url, None, "t:").unwrap();
    assert!(
        system.ping().await.is_err(),
        "a throwaway CA is not a system root"
    );
}

#[tokio::test]
async fn a_redis_connection_the_server_closed_is_replaced_and_the_command_retried() {
    // The TLS Redis is this test's alone: killing its clients disturbs no other test.
    let url = var("TEST_REDIS_TLS_URL");
    let ca = pem("TEST_CA_CERT_FILE");
    let t = spawn_app_with(|v| {
        v.insert("REDIS_URL".into(), url.clone());
        v.insert("REDIS_CA_CERT".into(), ca.clone());
    })
    .await;
    // Connected first (a TLS handshake on a loaded machine can outlast the
    // 250 ms budget once; a failed connect pauses a second before the next).
    for _ in 0..10 {
        if t.app.kv.ping().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    }
    assert!(t.app.kv.set_nx("probe", "a", 60_000).await.unwrap());
    let killed = kill_redis_clients(&url, &ca).await;
    assert!(killed >= 1, "our connection was open");

    // The next command finds the closed connection, reconnects, succeeds.
    assert!(t
        .app
        .kv
        .set_nx("probe-2", "b", 60_000)
        .await
        .expect("retried"));
    kill_redis_clients(&url, &ca).await;
    // A webhook after the close takes the Redis path: its done marker is there.
    let now = t.clock_now().timestamp();
    let ev = checkout_completed(
        "evt_1IdleRedis001",
        now,
        "cus_IDLE1",
        "idle@example.com",
        None,
    );
    let res = t.post_stripe(&ev).await;
    assert_eq!(res.status, StatusCode::OK);
    let marker = t.app.kv.get("stripe:evt_1IdleRedis001").await.unwrap();
    assert_eq!(marker.as_deref(), Some("done"));
}

/// `CLIENT KILL TYPE normal` on the TLS Redis from a connection of its own;
/// returns how many clients it closed.
async fn kill_redis_clients(url: &str, ca: &str) -> i64 {
    let client = redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.as_bytes().to_vec()),
        },
    )
    .unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let n: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query_async(&mut conn)
        .await
        .unwrap();
    // Let the killed connections see their end (as after an idle hour).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    n
}

/// What a pooler restart does to one app: PgBouncer's admin console drops
/// every client and server connection of `database` at once (`KILL`), then
/// lets new ones in (`RESUME`). Scoped to this test's database, so tests
/// running beside it are not disturbed (`TEST_PGBOUNCER_RESTART` restarts
/// the whole pooler, for trying it by hand).
async fn drop_every_connection_of(database: &str) {
    use opsbridge::db::tls::{connector, Roots};
    let url = var("TEST_PGBOUNCER_ADMIN_URL");
    let config: tokio_postgres::Config = url.parse().unwrap();
    let tls = connector(SslMode::Require, Roots::System).unwrap();
    let (admin, conn) = config.connect(tls).await.expect("pgbouncer admin console");
    tokio::spawn(conn);
    admin
        .simple_query(&format!("KILL {database}"))
        .await
        .expect("KILL");
    admin
        .simple_query(&format!("RESUME {database}"))
        .await
        .expect("RESUME");
}

#[tokio::test]
async fn a_pooler_restart_under_load_never_acknowledges_unstored_work_and_heals_by_itself() {
    use futures::StreamExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    if pooled_url_template().is_none() {
        return; // needs PgBouncer: the pooled lane of scripts/test runs it
    }
    let t = spawn_app_with(|v| {
        v.insert("TEST_BACKGROUND".into(), "off".into());
        v.insert("DB_POOL_SIZE".into(), "8".into());
    })
    .await;
    let total = 600;
    let now = t.clock_now().timestamp();
    let events: Vec<Value> = (0..total)
        .map(|i| {
            let id = format!("evt_1Restart{i:05}");
            checkout_completed(
                &id,
                now,
                &format!("cus_R{i:05}"),
                &format!("r{i}@example.com"),
                None,
            )
        })
        .collect();
    let answered = AtomicUsize::new(0);
    let restarted_at = std::sync::Mutex::new(None::<Instant>);
    let load = futures::stream::iter(events.iter())
        .map(|ev| {
            let (answered, t) = (&answered, &t);
            async move {
                let started = Instant::now();
                let status = t.post_stripe(ev).await.status;
                answered.fetch_add(1, Ordering::SeqCst);
                (ev["id"].as_str().unwrap().to_string(), started, status)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let kick = async {
        while answered.load(Ordering::SeqCst) < total / 4 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        drop_every_connection_of(&t.place).await;
        *restarted_at.lock().unwrap() = Some(Instant::now());
    };
    let (results, ()) = tokio::join!(load, kick);
    let back = restarted_at.lock().unwrap().expect("restarted");

    let acknowledged: Vec<&String> = results
        .iter()
        .filter(|(_, _, s)| *s == StatusCode::OK)
        .map(|(id, _, _)| id)
        .collect();
    for (id, started, status) in &results {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
            "{id}: {status}"
        );
        if *started > back + std::time::Duration::from_millis(500) {
            assert_eq!(*status, StatusCode::OK, "{id}: the pool did not heal");
        }
    }
    let refused = results.len() - acknowledged.len();
    eprintln!("pooler drop under load: {refused} of {total} refused with 503");
    assert!(
        refused <= 16,
        "more refused ({refused}) than requests in flight (16)"
    );
    // Every 200 is a stored event.
    let ids: Vec<String> = acknowledged.iter().map(|s| s.to_string()).collect();
    let stored: i64 = t
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM events WHERE event_id = ANY($1)",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, ids.len(), "a 200 without a stored event");
    // Stripe's retries of the refused ones go through; nothing twice.
    for ev in &events {
        let status = t.post_stripe(ev).await.status;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(t.count("events").await as usize, total);
    assert_eq!(t.count("members").await as usize, total);
}

#[tokio::test]
async fn migrations_go_through_the_unpooled_url_and_a_current_schema_never_opens_it() {
    use opsbridge::db::migrate;

    let name = fresh_database().await;
    let (app_url, direct) = database_urls(&name);
    let nowhere = "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1";
    let config_with = |unpooled: &str| {
        let mut vars = base_vars(&name);
        vars.insert("DATABASE_URL".into(), app_url.clone());
        vars.insert("DATABASE_URL_UNPOOLED".into(), unpooled.to_string());
        Config::from_lookup(|k| vars.get(k).cloned(), Need::ALL).unwrap()
    };
    let config = config_with(nowhere);
    let db = opsbridge::db::connect(&config).unwrap();
    // Pending migrations go through the unpooled URL: unreachable here.
    assert!(migrate::on_start(&config, &db).await.is_err());
    let version = migrate::current_version(&db.get().await.unwrap())
        .await
        .unwrap();
    assert_eq!(version, None, "migrated around the unpooled URL");
    // Reachable: applied.
    let applied = migrate::on_start(&config_with(&direct), &db).await.unwrap();
    assert_eq!(applied.len(), migrate::MIGRATIONS.len());
    // Current: one statement on the pool, the unpooled URL never opened.
    let again = migrate::on_start(&config, &db)
        .await
        .expect("no direct connection");
    assert!(again.is_empty());
}
