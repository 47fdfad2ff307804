//! Why a catch-up run stopped before the end of its window. Each stop leaves
//! the cursor at the last stored event, so the next run resumes there.

use crate::jobs::Reason;

/// Why a run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The time budget was spent.
    Budget,
    /// Stripe refused the key (401/403).
    AuthFailed,
    /// Stripe answered 429 and its wait did not fit the run.
    RateLimited,
    /// Stripe answered 5xx, again and again.
    Upstream5xx,
    /// Stripe did not answer.
    UpstreamTimeout,
    /// Stripe refused the request itself (400, not a list): a bug or an API change.
    Rejected,
    /// The webhook was storing the same event and did not finish in time.
    InFlight,
    /// Postgres failed: nothing more can be stored now.
    StoreFailed,
}

impl Stop {
    /// The reason code reported in answers, logs and `catchup_state`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::AuthFailed => Reason::AuthFailed.as_str(),
            Self::RateLimited => Reason::RateLimited.as_str(),
            Self::Upstream5xx => Reason::Upstream5xx.as_str(),
            Self::UpstreamTimeout => Reason::UpstreamTimeout.as_str(),
            Self::Rejected => "upstream_rejected",
            Self::InFlight => "in_flight",
            Self::StoreFailed => "store_failed",
        }
    }

    /// The stop for a retryable reason from the client.
    pub fn from_reason(reason: Reason) -> Self {
        match reason {
            Reason::RateLimited => Self::RateLimited,
            Reason::Upstream5xx => Self::Upstream5xx,
            _ => Self::UpstreamTimeout,
        }
    }
}
