//! How an attempt ended, classified where the upstream answered: timeouts,
//! 408, 409, 429 and 5xx are retryable (honouring `Retry-After`); 401/403 are
//! `auth_failed`; other 4xx are permanent and go straight to `dead`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Stable reason codes stored on jobs (listed in docs/outbox.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// HubSpot did not answer in time.
    CrmTimeout,
    /// HubSpot answered 429.
    CrmRateLimited,
    /// An upstream answered 5xx.
    Upstream5xx,
    /// An upstream did not answer (timeout or connection failure).
    UpstreamTimeout,
    /// An upstream (other than HubSpot) answered 429.
    RateLimited,
    /// 401/403: the token was rotated or lacks scope.
    AuthFailed,
    /// 400/422: the upstream rejected what we sent.
    InvalidPayload,
    /// Another permanent 4xx (404, 410, ...).
    Upstream4xx,
    /// The integration has no credentials.
    NotConfigured,
    /// The integration's kill switch is off.
    Paused,
    /// Retries ran out.
    MaxAttempts,
    /// The upstream already had this (treated as success where safe).
    DuplicateEvent,
    /// The job refers to something that no longer exists or cannot be built.
    MissingData,
    /// AI: the budget store (Redis) could not answer; no call was made.
    AiBudget,
    /// AI: the model refused (`message.refusal` or a content filter).
    AiRefused,
    /// AI: the model's answer was not JSON, was cut off, or broke the schema.
    AiInvalidOutput,
    /// Our own database failed inside the job (not the upstream): retried.
    Store,
}

impl Reason {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CrmTimeout => "crm_timeout",
            Self::CrmRateLimited => "crm_rate_limited",
            Self::Upstream5xx => "upstream_5xx",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::RateLimited => "rate_limited",
            Self::AuthFailed => "auth_failed",
            Self::InvalidPayload => "invalid_payload",
            Self::Upstream4xx => "upstream_4xx",
            Self::NotConfigured => "not_configured",
            Self::Paused => "paused",
            Self::MaxAttempts => "max_attempts",
            Self::DuplicateEvent => "duplicate_event",
            Self::MissingData => "missing_data",
            Self::AiBudget => "ai_budget",
            Self::AiRefused => "ai_refused",
            Self::AiInvalidOutput => "ai_invalid_output",
            Self::Store => "store",
        }
    }
}

impl JobError {
    /// Our own database failed while running the job: retried like any
    /// transient failure, but named for what it is (`store`), so a dead
    /// letter never blames an upstream for a Postgres outage.
    pub fn store(e: impl std::fmt::Display) -> Self {
        Self::Retryable {
            reason: Reason::Store,
            status: None,
            retry_after: None,
            message: format!("database: {e}"),
        }
    }
}

/// A failed attempt.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later.
    #[error("{}: {message}", reason.as_str())]
    Retryable {
        /// Why.
        reason: Reason,
        /// Upstream HTTP status, if any.
        status: Option<u16>,
        /// The upstream's `Retry-After`, already clamped.
        retry_after: Option<Duration>,
        /// Short description (no secrets, no personal data).
        message: String,
    },
    /// Will never succeed as is: `dead` at once.
    #[error("{}: {message}", reason.as_str())]
    Permanent {
        /// Why.
        reason: Reason,
        /// Upstream HTTP status, if any.
        status: Option<u16>,
        /// Short description.
        message: String,
    },
    /// Not an attempt: wait until `until` without spending one (HubSpot's
    /// daily limit).
    #[error("{}: {message}", reason.as_str())]
    Park {
        /// When to try again.
        until: DateTime<Utc>,
        /// Why.
        reason: Reason,
        /// Short description.
        message: String,
    },
}

impl JobError {
    /// The reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Retryable { reason, .. }
            | Self::Permanent { reason, .. }
            | Self::Park { reason, .. } => *reason,
        }
    }

    /// The upstream status, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Retryable { status, .. } | Self::Permanent { status, .. } => *status,
            Self::Park { .. } => None,
        }
    }

    /// A permanent failure.
    pub fn permanent(reason: Reason, message: impl Into<String>) -> Self {
        Self::Permanent {
            reason,
            status: None,
            message: message.into(),
        }
    }
}

/// Longest `Retry-After` we honour; longer waits are clamped.
pub const MAX_RETRY_AFTER_SECS: u64 = 3_600;

/// Reads `Retry-After` (seconds or an HTTP date), clamped to 1 s..1 h.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
            (at - now).num_seconds().max(1) as u64
        }
    };
    Some(Duration::from_secs(secs.clamp(1, MAX_RETRY_AFTER_SECS)))
}

/// Classifies an HTTP answer. `crm` picks the CRM-specific reason codes.
pub fn classify_status(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
    crm: bool,
) -> Result<(), JobError> {
    let retryable = |reason: Reason| JobError::Retryable {
        reason,
        status: Some(status),
        retry_after: retry_after(headers, now),
        message: format!("upstream answered {status}"),
    };
    let permanent = |reason: Reason| JobError::Permanent {
        reason,
        status: Some(status),
        message: format!("upstream answered {status}"),
    };
    match status {
        200..=299 => Ok(()),
        429 if crm => Err(retryable(Reason::CrmRateLimited)),
        429 => Err(retryable(Reason::RateLimited)),
        408 if crm => Err(retryable(Reason::CrmTimeout)),
        408 => Err(retryable(Reason::UpstreamTimeout)),
        409 => Err(retryable(Reason::Upstream4xx)),
        401 | 403 => Err(permanent(Reason::AuthFailed)),
        400 | 422 => Err(permanent(Reason::InvalidPayload)),
        500..=599 => Err(retryable(Reason::Upstream5xx)),
        _ => Err(permanent(Reason::Upstream4xx)),
    }
}

/// Classifies a transport failure (no answer): always retryable.
pub fn classify_transport(error: &reqwest::Error, crm: bool) -> JobError {
    let reason = if crm {
        Reason::CrmTimeout
    } else {
        Reason::UpstreamTimeout
    };
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    JobError::Retryable {
        reason,
        status: None,
        retry_after: None,
        message: what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn statuses_are_classified_as_the_policy_says() {
        let h = HeaderMap::new();
        let now = Utc::now();
        let code = |s: u16, crm: bool| {
            classify_status(s, &h, now, crm)
                .err()
                .map(|e| e.reason().as_str())
        };
        let retry = |s: u16| {
            matches!(
                classify_status(s, &h, now, false),
                Err(JobError::Retryable { .. })
            )
        };
        assert_eq!(code(200, false), None);
        assert_eq!(code(204, true), None);
        assert_eq!(code(429, true), Some("crm_rate_limited"));
        assert_eq!(code(429, false), Some("rate_limited"));
        assert_eq!(code(408, true), Some("crm_timeout"));
        assert_eq!(code(500, true), Some("upstream_5xx"));
        assert_eq!(code(503, false), Some("upstream_5xx"));
        assert_eq!(code(401, true), Some("auth_failed"));
        assert_eq!(code(403, false), Some("auth_failed"));
        assert_eq!(code(400, true), Some("invalid_payload"));
        assert_eq!(code(404, false), Some("upstream_4xx"));
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(retry(s), "{s} should be retryable");
        }
        for s in [400, 401, 403, 404, 410, 422] {
            assert!(!retry(s), "{s} should be permanent");
        }
    }

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date_and_clamped() {
        let now = Utc::now();
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert("retry-after", "999999".parse().unwrap());
        assert_eq!(
            retry_after(&h, now),
            Some(Duration::from_secs(MAX_RETRY_AFTER_SECS))
        );
        let date = (now + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert("retry-after", date.parse().unwrap());
        let got = retry_after(&h, now).unwrap().as_secs();
        assert!((119..=120).contains(&got), "{got}");
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }
}
