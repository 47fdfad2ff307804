//! The foundation: routing of every function, error envelope, request ids,
//! security headers, migrations under concurrency, a real-HTTP round trip.

#[allow(unused_imports)]
use opsbridge::db::Sql;
use std::path::Path;

use axum::body::Body;
use http::{Method, StatusCode};

use crate::helpers::{base_vars, fresh_schema, spawn_app};

/// Every `.rs` under `api/` (no `_` segment), relative to the crate root.
fn api_files(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            api_files(&path, out);
        } else if name.ends_with(".rs") {
            let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
            out.push(rel.to_string_lossy().to_string());
        }
    }
}

#[test]
fn every_api_file_is_a_listed_function_and_a_cargo_bin() {
    let mut files = Vec::new();
    api_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("api"),
        &mut files,
    );
    files.sort();
    let mut listed: Vec<String> = opsbridge::functions::ALL
        .iter()
        .map(|f| f.file.to_string())
        .collect();
    listed.sort();
    assert_eq!(files, listed, "api/ and functions::ALL disagree");
    let cargo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for f in opsbridge::functions::ALL {
        assert!(
            cargo.contains(&format!("path = \"{}\"", f.file)),
            "{} is not a [[bin]] in Cargo.toml",
            f.file
        );
        assert!(
            opsbridge::dev::crons::VERCEL_JSON.contains(&format!("\"{}\"", f.file)),
            "{} has no entry (maxDuration) in vercel.json functions",
            f.file
        );
    }
}

#[tokio::test]
async fn the_local_server_routes_every_function_path() {
    let t = spawn_app().await;
    for f in opsbridge::functions::ALL {
        let path = format!("/{}", f.file.trim_end_matches(".rs"));
        let res = t.request(Method::GET, &path, &[], Body::empty()).await;
        assert_ne!(res.status, StatusCode::NOT_FOUND, "{path} is not routed");
    }
}

#[tokio::test]
async fn an_unknown_path_gets_a_json_404_with_the_request_id() {
    let t = spawn_app().await;
    let res = t.get("/api/nope").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let body = res.json();
    assert_eq!(body["error"]["code"], "not_found");
    let rid = res.headers["x-request-id"].to_str().unwrap();
    assert_eq!(body["error"]["request_id"], rid);
    assert!(!rid.is_empty());
}

#[tokio::test]
async fn a_wrong_method_gets_405_with_a_stable_code() {
    let t = spawn_app().await;
    let res = t
        .request(Method::POST, "/api/health", &[], Body::empty())
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.json()["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_plain_request_id_is_propagated_and_a_hostile_one_replaced() {
    let t = spawn_app().await;
    let res = t
        .request(
            Method::GET,
            "/api/health",
            &[("x-request-id", "abc-123")],
            Body::empty(),
        )
        .await;
    assert_eq!(res.headers["x-request-id"], "abc-123");
    let hostile = "x\",\"level\":\"ERROR";
    let res = t
        .request(
            Method::GET,
            "/api/health",
            &[("x-request-id", hostile)],
            Body::empty(),
        )
        .await;
    let rid = res.headers["x-request-id"].to_str().unwrap();
    assert_ne!(rid, hostile);
    assert!(uuid::Uuid::parse_str(rid).is_ok());
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let t = spawn_app().await;
    let res = t.get("/api/health").await;
    assert_eq!(res.headers["x-content-type-options"], "nosniff");
    assert_eq!(res.headers["referrer-policy"], "no-referrer");
    assert_eq!(res.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn migrations_run_twice_at_once_apply_once() {
    let schema = fresh_schema().await;
    let vars = base_vars(&schema);
    let config = opsbridge::Config::from_lookup(|k| vars.get(k).cloned(), &[]).unwrap();
    let a = opsbridge::db::connect(&config).unwrap();
    let b = opsbridge::db::connect(&config).unwrap();
    let (ra, rb) = tokio::join!(
        opsbridge::db::migrate::run(&a),
        opsbridge::db::migrate::run(&b)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let total = opsbridge::db::migrate::MIGRATIONS.len();
    assert_eq!(
        ra.len() + rb.len(),
        total,
        "each migration applied exactly once"
    );
    let client = a.get().await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, total);
    assert!(opsbridge::db::migrate::run(&a).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_merged_router_answers_over_real_http() {
    let t = spawn_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = t.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let res = reqwest::get(format!("http://{addr}/api/health"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    server.abort();
}
