//! Bearer-token checks (`CRON_SECRET`, `ADMIN_TOKEN`, `APP_API_TOKEN`),
//! compared in constant time.

use axum::http::HeaderMap;

use super::ApiError;
use crate::secret::Secret;

/// Checks `Authorization: Bearer <token>` against `expected`.
/// A function started without its secret refuses everyone.
pub fn require_bearer(headers: &HeaderMap, expected: Option<&Secret>) -> Result<(), ApiError> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match (presented, expected) {
        (None, _) => Err(ApiError::unauthorized("missing_token")),
        (Some(p), Some(s)) if s.matches(p) => Ok(()),
        _ => Err(ApiError::unauthorized("invalid_token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", auth.parse().unwrap());
        h
    }

    #[test]
    fn a_matching_bearer_token_passes() {
        let s = Secret::new("abc");
        assert!(require_bearer(&headers("Bearer abc"), Some(&s)).is_ok());
    }

    #[test]
    fn a_wrong_missing_or_unconfigured_token_is_refused_with_its_own_code() {
        let s = Secret::new("abc");
        assert_eq!(
            require_bearer(&headers("Bearer abd"), Some(&s))
                .unwrap_err()
                .code,
            "invalid_token"
        );
        assert_eq!(
            require_bearer(&headers("Basic abc"), Some(&s))
                .unwrap_err()
                .code,
            "missing_token"
        );
        assert_eq!(
            require_bearer(&HeaderMap::new(), Some(&s))
                .unwrap_err()
                .code,
            "missing_token"
        );
        assert_eq!(
            require_bearer(&headers("Bearer abc"), None)
                .unwrap_err()
                .code,
            "invalid_token"
        );
    }
}
