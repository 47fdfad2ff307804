//! The one module that touches `vercel_runtime`: it runs a function's axum
//! router under `vercel_runtime::run` and hands each request's `AppState` to
//! handlers as a [`Background`] (its `wait_until`). vercel_runtime's own
//! `axum::VercelLayer` drops `AppState`, hence this small service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::Router;
use http_body_util::{BodyExt, Limited};
use tower::ServiceExt;
use vercel_runtime::{AppState, Error, Request, Response, ResponseBody};

use super::Background;
use crate::functions::Function;
use crate::state::App;

/// Largest request body read from the runtime (Vercel itself caps at 4.5 MB;
/// each route sets its own, smaller limit).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Cold start for one function: logging, configuration (failing with every
/// problem at once), state, then serve `function`'s router until shutdown.
pub async fn serve(function: &Function) -> Result<(), Error> {
    crate::telemetry::init();
    let app = match App::from_env(function.needs).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(function = function.name, error = %format!("{e:#}"), "cannot start");
            return Err(e.into());
        }
    };
    let router = super::finish((function.router)(app));
    vercel_runtime::run(Adapter { router }).await
}

/// The tower service `vercel_runtime::run` drives.
#[derive(Clone)]
struct Adapter {
    router: Router,
}

impl tower::Service<(AppState, Request)> for Adapter {
    type Response = Response<ResponseBody>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (state, req): (AppState, Request)) -> Self::Future {
        let router = self.router.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => return Ok(too_large()),
            };
            restore_rewritten_path(&mut parts.uri);
            parts
                .extensions
                .insert(Background::new(move |f| state.wait_until(f)));
            let req = http::Request::from_parts(parts, Body::from(bytes));
            let res = match router.oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            let (parts, body) = res.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await?;
            Ok(Response::from_parts(parts, ResponseBody::from(bytes)))
        })
    }
}

fn too_large() -> Response<ResponseBody> {
    let mut res = Response::new(ResponseBody::from(
        r#"{"error":{"code":"payload_too_large","message":"payload too large","request_id":""}}"#,
    ));
    *res.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

/// The query parameter a `vercel.json` rewrite uses to pass the original
/// sub-path (`/api/admin/:path*` → `/api/admin?__path=:path*`).
pub const REWRITE_PARAM: &str = "__path";

/// A rewritten request may reach the function at its destination
/// (`/api/admin?__path=jobs%2F12`) or at its original path with the
/// rewrite's parameters added (`/api/admin/jobs/12?__path=jobs%2F12&path=jobs%2F12`:
/// Vercel also adds the named parameter itself). Either way the router must
/// see the public path and the caller's own query: the sub-path is restored
/// from `__path` when the path is the function's own, and the added
/// parameters are removed. Only plain segments are restored: anything with
/// `..`, empty segments or odd characters is left as it came (and 404s).
pub fn restore_rewritten_path(uri: &mut http::Uri) {
    let Some(query) = uri.query() else { return };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(sub) = pairs
        .iter()
        .find(|(k, _)| k == REWRITE_PARAM)
        .map(|(_, v)| v.clone())
    else {
        return;
    };
    let plain = !sub.is_empty()
        && sub.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    if !plain && !sub.is_empty() {
        return;
    }
    let added = |k: &str, v: &str| k == REWRITE_PARAM || (k == "path" && v == sub);
    let rest: Vec<&(String, String)> = pairs.iter().filter(|(k, v)| !added(k, v)).collect();
    let at_destination = !uri
        .path()
        .trim_end_matches('/')
        .ends_with(&format!("/{sub}"));
    let mut path = if at_destination && !sub.is_empty() {
        format!("{}/{}", uri.path().trim_end_matches('/'), sub)
    } else {
        uri.path().to_string()
    };
    if !rest.is_empty() {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(rest.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        path = format!("{path}?{q}");
    }
    if let Ok(p) = path.parse() {
        *uri = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restored(s: &str) -> String {
        let mut u: http::Uri = s.parse().unwrap();
        restore_rewritten_path(&mut u);
        u.to_string()
    }

    #[test]
    fn a_rewritten_admin_sub_path_is_restored_with_its_other_query_parameters() {
        assert_eq!(
            restored("/api/admin?__path=jobs/12/retry"),
            "/api/admin/jobs/12/retry"
        );
        assert_eq!(
            restored("/api/admin?__path=jobs&state=dead&kind=crm_upsert"),
            "/api/admin/jobs?state=dead&kind=crm_upsert"
        );
        assert_eq!(
            restored("/api/admin?state=dead&__path=jobs"),
            "/api/admin/jobs?state=dead"
        );
    }

    #[test]
    fn an_original_path_with_vercel_added_parameters_keeps_its_path_and_loses_them() {
        assert_eq!(
            restored("/api/admin/jobs/42?state=dead&__path=jobs%2F42&path=jobs%2F42"),
            "/api/admin/jobs/42?state=dead"
        );
        assert_eq!(
            restored("/api/admin?__path=jobs%2F42&path=jobs%2F42"),
            "/api/admin/jobs/42"
        );
        assert_eq!(restored("/api/admin/?__path=&path="), "/api/admin/");
    }

    #[test]
    fn requests_without_a_rewrite_or_with_a_hostile_one_are_left_alone() {
        assert_eq!(restored("/api/admin"), "/api/admin");
        assert_eq!(restored("/api/health?x=1"), "/api/health?x=1");
        assert_eq!(
            restored("/api/admin?__path=../health"),
            "/api/admin?__path=../health"
        );
        assert_eq!(
            restored("/api/admin?__path=jobs//1"),
            "/api/admin?__path=jobs//1"
        );
        assert_eq!(
            restored("/api/admin?__path=a%0d%0ab"),
            "/api/admin?__path=a%0d%0ab"
        );
    }
}
