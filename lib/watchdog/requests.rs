//! `integration_requests`: what `integration_failing` counts. The sweep
//! hands over each executed batch's results ([`record`]); this module turns
//! them into the requests they stand for and writes them in one statement,
//! pipelined with the batch's own success write. Old rows are pruned at the
//! end of every sweep ([`PRUNE_HOOK`], registered in `jobs::registry`).
//!
//! A batched kind (HubSpot: one request for up to 100 contacts) counts one
//! request for its successes and one per distinct failure; every other kind
//! one per job. A result that made no request counts nothing: not
//! configured, paused, missing data, an exhausted AI budget, or our own
//! database failing around the call (`store`). An answer that arrived but could not be used
//! (an AI refusal or malformed draft, a duplicate) counts as a success: the
//! integration is up. A job that succeeds without calling (an AI draft
//! already stored) also counts as one: harmless, it is rare and it only
//! tells that the integration is not known to be failing.

use chrono::{DateTime, Duration, Utc};

use crate::db::Sql;
use crate::jobs::{JobError, JobKind, Reason};

/// Rows are kept this long (the window is at most an hour; the rest is
/// for looking back at an incident).
pub const RETENTION_DAYS: i64 = 7;
/// Rows pruned per sweep at most (bounded so a sweep stays short).
pub const PRUNE_BATCH: i64 = 5_000;

/// Registered in `jobs::registry`: rows past [`RETENTION_DAYS`], pruned at
/// the end of every sweep.
pub const PRUNE_HOOK: crate::jobs::delivery::SweepHook = crate::jobs::delivery::SweepHook {
    name: "integration_requests",
    run: |app, now| Box::pin(async move { prune(&app.db.get().await?, now).await }),
};

/// One request as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The upstream answered with success (or a usable refusal).
    pub ok: bool,
    /// A failure's reason code.
    pub reason: Option<&'static str>,
    /// A failure's upstream HTTP status.
    pub status: Option<i32>,
    /// Jobs the request carried.
    pub jobs: i32,
}

/// What one job's result says about its request.
fn made(result: &Result<(), JobError>) -> Option<Result<(), (&'static str, Option<i32>)>> {
    let Err(e) = result else {
        return Some(Ok(()));
    };
    match e.reason() {
        Reason::NotConfigured
        | Reason::Paused
        | Reason::MissingData
        | Reason::AiBudget
        | Reason::MaxAttempts
        | Reason::Store => None,
        Reason::DuplicateEvent | Reason::AiRefused | Reason::AiInvalidOutput => Some(Ok(())),
        r => Some(Err((r.as_str(), e.status().map(i32::from)))),
    }
}

/// The requests behind one batch's results.
pub fn requests(kind: JobKind, results: &[Result<(), JobError>]) -> Vec<Request> {
    let each: Vec<Result<(), (&'static str, Option<i32>)>> =
        results.iter().filter_map(made).collect();
    if kind != JobKind::CrmUpsert {
        return each
            .into_iter()
            .map(|r| match r {
                Ok(()) => Request {
                    ok: true,
                    reason: None,
                    status: None,
                    jobs: 1,
                },
                Err((reason, status)) => Request {
                    ok: false,
                    reason: Some(reason),
                    status,
                    jobs: 1,
                },
            })
            .collect();
    }
    let mut out: Vec<Request> = Vec::new();
    for r in each {
        let (ok, reason, status) = match r {
            Ok(()) => (true, None, None),
            Err((reason, status)) => (false, Some(reason), status),
        };
        match out
            .iter_mut()
            .find(|q| q.ok == ok && q.reason == reason && q.status == status)
        {
            Some(q) => q.jobs += 1,
            None => out.push(Request {
                ok,
                reason,
                status,
                jobs: 1,
            }),
        }
    }
    out
}

/// Records the requests of one executed batch of `kind`. Best effort: a
/// failure is logged and never fails the batch (the jobs' own results are
/// what must be written).
pub async fn record(
    client: &impl Sql,
    kind: JobKind,
    results: &[Result<(), JobError>],
    now: DateTime<Utc>,
) {
    let made = requests(kind, results);
    if made.is_empty() {
        return;
    }
    let ok: Vec<bool> = made.iter().map(|r| r.ok).collect();
    let reason: Vec<Option<&str>> = made.iter().map(|r| r.reason).collect();
    let status: Vec<Option<i32>> = made.iter().map(|r| r.status).collect();
    let jobs: Vec<i32> = made.iter().map(|r| r.jobs).collect();
    let written = client
        .execute(
            r#"INSERT INTO integration_requests (integration, at, ok, reason, status, jobs)
               SELECT $1, $2, r.ok, r.reason, r.status, r.jobs
               FROM unnest($3::bool[], $4::text[], $5::int4[], $6::int4[]) AS r (ok, reason, status, jobs)"#,
            &[&kind.integration(), &now, &ok, &reason, &status, &jobs],
        )
        .await;
    if let Err(e) = written {
        tracing::warn!(kind = kind.as_str(), error = %e, "could not record integration requests for the watchdog");
    }
}

/// Deletes up to [`PRUNE_BATCH`] rows older than [`RETENTION_DAYS`]. Only
/// the oldest ids are looked at (rows are written in time order), never
/// the table; and when the very oldest row is recent enough (nearly every
/// sweep), the one-time check ends the statement
/// after one primary-key probe.
pub async fn prune(client: &impl Sql, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let before = now - Duration::days(RETENTION_DAYS);
    let n = client.execute(PRUNE_SQL, &[&before, &PRUNE_BATCH]).await?;
    Ok(n)
}

/// The prune: `$1` the cutoff, `$2` the batch. `= ANY (ARRAY(...))`, not
/// `IN (...)`: the latter may be planned as a hash join over a scan of the
/// whole table (it is, on empty tables), this one only as primary-key probes.
pub const PRUNE_SQL: &str = r#"
DELETE FROM integration_requests
WHERE id = ANY (ARRAY(SELECT id FROM integration_requests ORDER BY id LIMIT $2)) AND at < $1
  AND EXISTS (SELECT 1 FROM (SELECT at FROM integration_requests ORDER BY id LIMIT 1) oldest
              WHERE oldest.at < $1)"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(reason: Reason, status: Option<u16>) -> Result<(), JobError> {
        Err(JobError::Retryable {
            reason,
            status,
            retry_after: None,
            message: String::new(),
        })
    }

    #[test]
    fn a_hubspot_batch_counts_once_for_its_successes_and_once_per_distinct_failure() {
        let results = vec![
            Ok(()),
            Ok(()),
            failed(Reason::Upstream5xx, Some(503)),
            failed(Reason::Upstream5xx, Some(503)),
        ];
        let got = requests(JobKind::CrmUpsert, &results);
        assert_eq!(
            got,
            vec![
                Request {
                    ok: true,
                    reason: None,
                    status: None,
                    jobs: 2
                },
                Request {
                    ok: false,
                    reason: Some("upstream_5xx"),
                    status: Some(503),
                    jobs: 2
                },
            ]
        );
    }

    #[test]
    fn other_kinds_count_one_request_per_job() {
        let results = vec![
            failed(Reason::UpstreamTimeout, None),
            Ok(()),
            failed(Reason::AuthFailed, Some(401)),
        ];
        let got = requests(JobKind::AppWebhook, &results);
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].ok, got[0].reason),
            (false, Some("upstream_timeout"))
        );
        assert!(got[1].ok);
        assert_eq!(
            (got[2].reason, got[2].status),
            (Some("auth_failed"), Some(401))
        );
    }

    #[test]
    fn results_that_made_no_request_count_nothing() {
        let results = vec![
            Err(JobError::permanent(Reason::NotConfigured, "x")),
            Err(JobError::permanent(Reason::MissingData, "x")),
            failed(Reason::AiBudget, None),
            Err(JobError::store("connection reset")),
        ];
        assert!(requests(JobKind::AiDraft, &results).is_empty());
        assert!(requests(JobKind::CrmUpsert, &results).is_empty());
    }

    #[test]
    fn an_answer_that_could_not_be_used_still_counts_as_a_success() {
        let results = vec![
            Err(JobError::permanent(Reason::AiRefused, "x")),
            Err(JobError::permanent(Reason::AiInvalidOutput, "x")),
        ];
        assert!(requests(JobKind::AiDraft, &results).iter().all(|r| r.ok));
    }
}
