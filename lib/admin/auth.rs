//! Admin authentication: `Authorization: Bearer $ADMIN_TOKEN`, compared in
//! constant time; failed attempts are rate limited per client address in
//! Redis (10 per 10 minutes), so the token cannot be guessed online.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::http::auth::require_bearer;
use crate::http::ApiError;
use crate::state::App;

/// Failed logins allowed per client per window.
pub const MAX_FAILURES: i64 = 10;
/// The failure window.
pub const FAILURE_WINDOW_MS: u64 = 10 * 60 * 1000;

/// Who acted: a short fingerprint of the token (never the token), so audit
/// lines say which credential acted even after a rotation.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

fn client_key(req: &Request) -> String {
    let ip = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .unwrap_or("local");
    let digest = Sha256::digest(ip.as_bytes());
    format!("admin:fail:{}", hex::encode(&digest[..8]))
}

/// Middleware: lets the request through only with the admin token.
pub async fn require_admin(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let key = client_key(&req);
    if let Ok(Some(n)) = app.kv.get(&key).await {
        if n.parse::<i64>().unwrap_or(0) >= MAX_FAILURES {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failed_logins",
                "too many failed attempts; wait and retry",
            );
            e.retry_after_secs = Some(FAILURE_WINDOW_MS / 1000);
            return e.into_response();
        }
    }
    if let Err(e) = require_bearer(req.headers(), app.config.admin_token.as_ref()) {
        let _ = app.kv.incr_window(&key, 1, FAILURE_WINDOW_MS).await;
        tracing::warn!(code = e.code, "admin authentication failed");
        return e.into_response();
    }
    let token = app
        .config
        .admin_token
        .as_ref()
        .map(|t| t.expose())
        .unwrap_or("");
    let actor = format!(
        "admin:{}",
        &hex::encode(Sha256::digest(token.as_bytes()))[..8]
    );
    req.extensions_mut().insert(Actor(actor));
    next.run(req).await
}
