//! `POST /api/support/intake` (public): CORS allowlist, provider auth, rate
//! limits, body limits, parsing, Idempotency-Key, then one transaction and
//! a 202 `{"ticket_id","priority","status"}`; the outbox jobs (helpdesk,
//! Slack, CRM, app webhook) run after the response.
//!
//! Order of checks: Origin (403) → provider auth (401) → per-IP limit (429)
//! → content type (415) → body size (413) → fields (400/422) → honeypot
//! (decoy 202) → Idempotency-Key (replay/409/422) → per-email limit (429).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ORIGIN, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::accept::{accept, Accepted, Outcome};
use super::error::IntakeError;
use super::idempotency::{self, Begin, IdempotencyKey, Keyed, Settled, Stored};
use super::input::{self, Intake, Parsed};
use super::{limits, postmark};
use crate::http::Background;
use crate::state::App;
use crate::telemetry::mask_email;

/// Largest JSON or form post.
pub const MAX_BODY_BYTES: usize = 128 * 1024;
/// Largest inbound email payload (HTML bodies and base64 attachments are
/// big; Vercel itself caps requests at 4.5 MB).
pub const MAX_INBOUND_EMAIL_BYTES: usize = 4 * 1024 * 1024;
/// Header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Routes of the support intake function.
pub fn router(app: App) -> Router {
    let cors = cors(&app.config.support_allowed_origins);
    Router::new()
        .route("/api/support/intake", post(intake))
        .layer(RequestBodyLimitLayer::new(MAX_INBOUND_EMAIL_BYTES))
        .layer(cors)
        .with_state(app)
}

/// Preflight and response headers for the allowlist (`*` allows any).
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST])
        .allow_headers([
            CONTENT_TYPE,
            ACCEPT,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            RETRY_AFTER,
            HeaderName::from_static(REPLAYED_HEADER),
        ])
        .max_age(Duration::from_secs(600))
}

/// Who is posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    /// A browser form, the portal, a chat widget (JSON or form posts).
    Web,
    /// Postmark's inbound email webhook (basic auth).
    Postmark,
}

#[derive(Debug, Deserialize)]
struct IntakeQuery {
    provider: Option<String>,
}

async fn intake(
    State(app): State<App>,
    background: Background,
    Query(q): Query<IntakeQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IntakeError> {
    let provider = admit(&app, q.provider.as_deref(), &headers).await?;
    let bytes = read_body(&headers, body, provider).await?;
    let (parsed, implicit_key) = parse(&headers, &bytes, provider)?;
    let Parsed::Contact(intake) = parsed else {
        tracing::info!("honeypot filled: answered 202, stored nothing");
        return Ok(decoy());
    };
    let keyed =
        idempotency_key(&headers, implicit_key)?.map(|k| Keyed::new(&intake.email, k, &bytes));
    let token = match &keyed {
        None => None,
        Some(k) => match idempotency::begin(&app, k).await {
            Ok(Begin::Proceed(token)) => token,
            Ok(Begin::Settled(other)) => return settled(other),
            Err(e) => return Err(IntakeError::unavailable(&e)),
        },
    };
    let result = limit_and_accept(&app, &intake, keyed.as_ref()).await;
    if let Some(k) = &keyed {
        idempotency::release(&app, k, token).await;
    }
    let accepted = match result? {
        Outcome::Accepted(a) => a,
        Outcome::Settled(other) => return settled(other),
    };
    Ok(respond(app, background, &intake, accepted))
}

/// Logs the contact (masked email), hands its jobs to the background and
/// answers 202.
fn respond(app: App, background: Background, intake: &Intake, accepted: Accepted) -> Response {
    tracing::info!(
        ticket_id = %accepted.ticket_id,
        member_id = accepted.member_id.map(|m| m.to_string()),
        priority = accepted.priority.as_str(), merged = accepted.merged,
        source = intake.source.as_str(), email = %mask_email(intake.email.as_str()),
        "support contact accepted"
    );
    if !accepted.jobs.is_empty() {
        let jobs = accepted.jobs;
        background.spawn(async move { crate::jobs::run_now(&app, jobs).await });
    }
    reply(&accepted.response, false)
}

/// Origin, provider and its credentials, per-IP limit.
async fn admit(
    app: &App,
    provider: Option<&str>,
    headers: &HeaderMap,
) -> Result<Provider, IntakeError> {
    if let Some(origin) = headers.get(ORIGIN) {
        let allowed = &app.config.support_allowed_origins;
        let ok = allowed
            .iter()
            .any(|o| o == "*" || o.as_bytes() == origin.as_bytes());
        if !ok {
            return Err(IntakeError::OriginNotAllowed);
        }
    }
    match provider {
        None | Some("") => {
            limits::check_ip(app, limits::client_ip(headers))
                .await
                .map_err(|l| IntakeError::RateLimited(l.retry_after_secs))?;
            Ok(Provider::Web)
        }
        Some("postmark") => {
            postmark::authenticate(app.config.support_inbound.as_ref(), headers)
                .map_err(IntakeError::Unauthorized)?;
            Ok(Provider::Postmark)
        }
        Some(_) => Err(IntakeError::UnknownProvider),
    }
}

/// The body, within the provider's limit; 415 for another content type.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    provider: Provider,
) -> Result<Bytes, IntakeError> {
    let limit = match provider {
        Provider::Web => MAX_BODY_BYTES,
        Provider::Postmark => MAX_INBOUND_EMAIL_BYTES,
    };
    content_kind(headers, provider).ok_or(IntakeError::UnsupportedMediaType)?;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(IntakeError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if too_large(e.as_ref()) => Err(IntakeError::TooLarge),
        Err(_) => Err(IntakeError::Malformed("unreadable_body")),
    }
}

fn too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Form,
}

fn content_kind(headers: &HeaderMap, provider: Provider) -> Option<Kind> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    match (mime.as_str(), provider) {
        ("application/json", _) => Some(Kind::Json),
        ("application/x-www-form-urlencoded", Provider::Web) => Some(Kind::Form),
        _ => None,
    }
}

fn parse(
    headers: &HeaderMap,
    bytes: &[u8],
    provider: Provider,
) -> Result<(Parsed, Option<String>), IntakeError> {
    let parsed = match (provider, content_kind(headers, provider)) {
        (Provider::Postmark, _) => postmark::parse(bytes)?,
        (Provider::Web, Some(Kind::Form)) => (input::parse_form(bytes)?, None),
        (Provider::Web, _) => (input::parse_json(bytes)?, None),
    };
    Ok(parsed)
}

/// The caller's `Idempotency-Key`, else the provider's implicit one.
fn idempotency_key(
    headers: &HeaderMap,
    implicit: Option<String>,
) -> Result<Option<IdempotencyKey>, IntakeError> {
    match headers.get("idempotency-key") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(IdempotencyKey::parse)
            .map(Some)
            .ok_or(IntakeError::InvalidIdempotencyKey),
        None => Ok(implicit.as_deref().and_then(IdempotencyKey::parse)),
    }
}

/// Per-email limit, then the transaction.
/// The per-email limit, then [`accept`] (which stores the contact).
async fn limit_and_accept(
    app: &App,
    intake: &Intake,
    keyed: Option<&Keyed>,
) -> Result<Outcome, IntakeError> {
    limits::check_email(app, &intake.email)
        .await
        .map_err(|l| IntakeError::RateLimited(l.retry_after_secs))?;
    accept(app, intake, keyed)
        .await
        .map_err(|e| IntakeError::unavailable(&e))
}

/// The answer another request with the same key decided.
fn settled(s: Settled) -> Result<Response, IntakeError> {
    match s {
        Settled::Replay(stored) => Ok(reply(&stored, true)),
        Settled::InFlight => Err(IntakeError::InFlight),
        Settled::Reused => Err(IntakeError::KeyReused),
    }
}

fn reply(stored: &Stored, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::ACCEPTED);
    let mut res = (status, Json(stored.body.clone())).into_response();
    if replayed {
        res.headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    res
}

/// What a bot that filled the honeypot sees: an ordinary-looking 202.
fn decoy() -> Response {
    let body = json!({ "ticket_id": uuid::Uuid::new_v4(), "priority": "normal", "status": "open" });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}
