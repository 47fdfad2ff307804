//! Listing one time slice completely: Stripe's pages come newest first; each
//! next page is `starting_after=<id of the last event of the page>` until
//! `has_more` is false. The slice is then reversed, so it is ingested oldest
//! first. 429/5xx are retried inside the run when the wait fits the budget;
//! otherwise the run stops and the next one tries again.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{list_events, ListQuery, Page, StripeError};
use super::stop::Stop;
use crate::config::StripeApi;
use crate::state::App;
use crate::stripe::event::HANDLED_TYPES;

/// Attempts per page before the run gives up on Stripe for now.
pub const MAX_PAGE_ATTEMPTS: u32 = 3;
/// Longest wait honoured inside a run: a longer `Retry-After` is honoured by
/// stopping (the next run comes minutes later).
pub const MAX_WAIT_SECS: u64 = 10;
/// A slice holding more events than this is split in two before ingesting:
/// it bounds memory and the listing time of one slice.
pub const MAX_SLICE_EVENTS: usize = 5_000;

/// A listed slice.
#[derive(Debug)]
pub enum Listed {
    /// Every event of the slice, oldest first.
    Complete(Vec<Value>),
    /// More than [`MAX_SLICE_EVENTS`]: list a shorter slice.
    TooLarge,
}

/// Lists `created` in `[from, to]` (Unix seconds); counts pages in `pages`.
pub async fn list_slice(
    app: &App,
    api: &StripeApi,
    (from, to): (i64, i64),
    deadline: Instant,
    pages: &mut u64,
) -> Result<Listed, Stop> {
    let mut events: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        if Instant::now() >= deadline {
            return Err(Stop::Budget);
        }
        let query = ListQuery {
            types: HANDLED_TYPES,
            created_gte: from,
            created_lte: to,
            starting_after: after.as_deref(),
        };
        let page = page_with_retries(app, api, &query, deadline).await?;
        *pages += 1;
        let last = page
            .data
            .last()
            .and_then(|e| e["id"].as_str())
            .map(str::to_owned);
        events.extend(page.data);
        if !page.has_more {
            break;
        }
        if events.len() >= MAX_SLICE_EVENTS && to > from {
            return Ok(Listed::TooLarge);
        }
        // `has_more` with an empty page would loop forever: Stripe never does it.
        after = Some(last.ok_or(Stop::Rejected)?);
    }
    events.reverse();
    Ok(Listed::Complete(events))
}

/// One page, retrying 429/5xx/timeouts while the wait fits the budget.
async fn page_with_retries(
    app: &App,
    api: &StripeApi,
    query: &ListQuery<'_>,
    deadline: Instant,
) -> Result<Page, Stop> {
    let mut attempt = 1;
    loop {
        let (reason, retry_after) = match list_events(app, api, query).await {
            Ok(page) => return Ok(page),
            Err(StripeError::Auth { status }) => {
                tracing::error!(status, "stripe refused the catch-up key");
                return Err(Stop::AuthFailed);
            }
            Err(StripeError::Rejected { status, message }) => {
                tracing::error!(status, error = %message, "stripe rejected the events list request");
                return Err(Stop::Rejected);
            }
            Err(StripeError::Retryable {
                reason,
                retry_after,
                ..
            }) => (reason, retry_after),
        };
        let wait = retry_after.unwrap_or(Duration::from_secs(1 << (attempt - 1)));
        let fits = wait <= Duration::from_secs(MAX_WAIT_SECS) && Instant::now() + wait < deadline;
        tracing::warn!(
            reason = reason.as_str(),
            attempt,
            wait_ms = wait.as_millis() as u64,
            retrying = fits && attempt < MAX_PAGE_ATTEMPTS,
            "stripe events list failed"
        );
        if !fits || attempt >= MAX_PAGE_ATTEMPTS {
            return Err(Stop::from_reason(reason));
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
