//! The app's two functions: `POST /api/members/events` (signups and leads
//! in) and `GET /api/members/access` (access out). Both take
//! `Authorization: Bearer $APP_API_TOKEN`; the checks run in the order a
//! caller fixes them (token, content type, size, JSON, fields), and nothing
//! is written unless every check passed.

use axum::body::{to_bytes, Body};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{self, Lookup};
use super::events::{AppEvent, FieldErrors};
use super::ingest::MemberEventError;
use super::writer::ingest;
use crate::http::auth::require_bearer;
use crate::http::{ApiError, Background};
use crate::state::App;
use crate::telemetry::hash_email;

/// Largest accepted event body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Routes of the `members-events` function.
pub fn events_router(app: App) -> Router {
    Router::new()
        .route("/api/members/events", post(events))
        .with_state(app)
}

/// Routes of the `members-access` function.
pub fn access_router(app: App) -> Router {
    Router::new()
        .route("/api/members/access", get(access_handler))
        .with_state(app)
}

/// Why an event was refused, named for what the app must do.
#[derive(Debug)]
pub enum EventsError {
    /// Missing or wrong token: 401.
    Unauthorized(ApiError),
    /// Not `application/json`: 415.
    UnsupportedMediaType,
    /// Over [`MAX_BODY_BYTES`]: 413.
    TooLarge,
    /// Not a JSON object: 400.
    InvalidJson,
    /// Fields failed validation: 422 with per-field codes.
    InvalidFields(FieldErrors),
    /// The same id is being processed: 409, retry later.
    InFlight,
    /// The email belongs to another member: 409, nothing written.
    EmailTaken,
    /// Could not be stored: 503, retry later.
    Unavailable,
}

impl IntoResponse for EventsError {
    fn into_response(self) -> Response {
        let e = match self {
            Self::Unauthorized(e) => e,
            Self::UnsupportedMediaType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json",
            ),
            Self::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is over {MAX_BODY_BYTES} bytes"),
            ),
            Self::InvalidJson => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the body is not a JSON object",
            ),
            Self::InvalidFields(fields) => invalid_fields(fields),
            Self::InFlight => {
                let mut e = ApiError::new(
                    StatusCode::CONFLICT,
                    "in_flight",
                    "this event is being processed; retry later",
                );
                e.retry_after_secs = Some(5);
                e
            }
            Self::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "the email belongs to another member",
            ),
            Self::Unavailable => ApiError::unavailable("store_unavailable", 5),
        };
        e.into_response()
    }
}

fn invalid_fields(fields: FieldErrors) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_fields",
        "some fields are missing or invalid",
    )
    .with_details(json!({ "fields": fields }))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Token, content type, size, JSON, fields: the checks in the order a caller
/// fixes them.
async fn read_event(app: &App, headers: &HeaderMap, body: Body) -> Result<AppEvent, EventsError> {
    require_bearer(headers, app.config.app_api_token.as_ref())
        .map_err(EventsError::Unauthorized)?;
    if !is_json(headers) {
        return Err(EventsError::UnsupportedMediaType);
    }
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return EventsError::TooLarge;
            }
            cause = c.source();
        }
        EventsError::InvalidJson
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| EventsError::InvalidJson)?;
    if !value.is_object() {
        return Err(EventsError::InvalidJson);
    }
    AppEvent::parse(&value).map_err(EventsError::InvalidFields)
}

async fn events(
    State(app): State<App>,
    background: Background,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, EventsError> {
    let event = read_event(&app, &headers, body).await?;
    let event_id = event.id.as_str().to_string();
    let email_hash = hash_email(event.email.as_str());
    let ingested = match ingest(&app, event).await {
        Ok(i) => i,
        Err(MemberEventError::InFlight) => return Err(EventsError::InFlight),
        Err(MemberEventError::EmailTaken) => {
            tracing::info!(event_id = %event_id, email_hash = %email_hash, "app event refused: email taken");
            return Err(EventsError::EmailTaken);
        }
        Err(MemberEventError::Store(e)) => {
            tracing::error!(event_id = %event_id, error = %format!("{e:#}"), "app event not stored");
            return Err(EventsError::Unavailable);
        }
    };
    if !ingested.jobs.is_empty() {
        let jobs = ingested.jobs;
        background.spawn(async move { crate::jobs::run_now(&app, jobs).await });
    }
    let status = match ingested.duplicate {
        true => StatusCode::OK,
        false => StatusCode::ACCEPTED,
    };
    let body = json!({
        "member_id": ingested.member_id,
        "state": ingested.state.as_str(),
        "duplicate": ingested.duplicate,
    });
    Ok((status, Json(body)).into_response())
}

/// Query of `GET /api/members/access`.
#[derive(Debug, Deserialize)]
pub struct AccessQuery {
    /// The app's user id (wins when both are given).
    pub user_id: Option<String>,
    /// Email, any case.
    pub email: Option<String>,
}

impl AccessQuery {
    fn lookup(self) -> Result<Lookup, FieldErrors> {
        let blank = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        match (blank(self.user_id), blank(self.email)) {
            (Some(u), _) if u.chars().count() > super::events::MAX_USER_ID_CHARS => {
                Err(FieldErrors::from([("user_id", "too_long")]))
            }
            (Some(u), _) => Ok(Lookup::UserId(u)),
            (None, Some(e)) if !e.contains('@') || e.len() > super::events::MAX_EMAIL_CHARS => {
                Err(FieldErrors::from([("email", "invalid_email")]))
            }
            (None, Some(e)) => Ok(Lookup::Email(e)),
            (None, None) => Err(FieldErrors::from([
                ("user_id", "missing"),
                ("email", "missing"),
            ])),
        }
    }
}

async fn access_handler(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<AccessQuery>,
) -> Result<Response, ApiError> {
    require_bearer(&headers, app.config.app_api_token.as_ref())?;
    let lookup = query.lookup().map_err(invalid_fields)?;
    let answer = access::answer(&app, &lookup).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "access lookup failed");
        ApiError::unavailable("store_unavailable", 1)
    })?;
    let Some(answer) = answer else {
        let by = match &lookup {
            Lookup::UserId(_) => "user_id".to_string(),
            Lookup::Email(e) => format!("email_hash:{}", hash_email(e)),
        };
        tracing::info!(lookup = %by, "access asked for an unknown member");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "member_not_found",
            "no member matches",
        ));
    };
    let mut res = Json(answer).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
