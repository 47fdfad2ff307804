//! The admin console: one static HTML page plus its scripts and stylesheet,
//! compiled into the admin function (`include_str!`), so it works offline and
//! under a strict Content-Security-Policy (no CDN, no inline script or
//! style).
//!
//! `GET /api/admin` answers the page to a browser (`Accept: text/html`) and
//! the JSON index to everyone else, behind the token. The page and its assets
//! are static and public: they hold no data. The page asks for the token once
//! per browser session (kept in `sessionStorage`) and sends it only in the
//! `Authorization` header of its API calls — never a cookie, never a URL.

use axum::extract::{Path, Request};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, VARY};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The page's Content-Security-Policy: only our own scripts, styles and API.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where the assets are served.
pub const ASSETS_PATH: &str = "/api/admin/assets";

/// The page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");

/// Every asset: (file name, content type, content).
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dom.js"),
    ),
    (
        "overview.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/overview.js"),
    ),
    (
        "members.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/members.js"),
    ),
    (
        "dead.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dead.js"),
    ),
    (
        "extras.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/extras.js"),
    ),
    (
        "drafts.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/drafts.js"),
    ),
    (
        "switches.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/switches.js"),
    ),
];

/// Public routes: the assets (the page itself is answered by
/// [`console_for_browsers`] at `/api/admin`).
pub fn router() -> Router {
    Router::new().route("/api/admin/assets/{file}", get(asset))
}

/// Headers every console response carries (the shared stack adds some of
/// them only when absent; here they are always set).
fn secured(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ];
    for (k, v) in set {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    res
}

/// The page response.
pub fn page() -> Response {
    let res = ([(CONTENT_TYPE, "text/html; charset=utf-8")], INDEX_HTML).into_response();
    let mut res = secured(res);
    res.headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    res
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => {
            let mut res = secured(([(CONTENT_TYPE, *kind)], *body).into_response());
            res.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether a request is a browser asking for the console page.
fn wants_page(req: &Request) -> bool {
    let path = req.uri().path().trim_end_matches('/');
    let method = req.method() == Method::GET || req.method() == Method::HEAD;
    let html = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
    method && html && path == "/api/admin"
}

/// Middleware in front of the admin auth: a browser's `GET /api/admin`
/// gets the page (no token needed: it is static); anything else goes on to
/// the API, and the JSON index says it varies by `Accept` too.
pub async fn console_for_browsers(req: Request, next: Next) -> Response {
    if wants_page(&req) {
        return page();
    }
    let index = req.uri().path().trim_end_matches('/') == "/api/admin";
    let mut res = next.run(req).await;
    if index {
        res.headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept"));
    }
    res
}
