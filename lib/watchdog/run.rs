//! One watchdog run: read the open incidents, evaluate every rule, open
//! what holds and is not open, resolve what is open and over. Each open or resolve is its own short transaction with
//! its Slack alert, so a run that dies halfway leaves nothing half-done
//! and the next run carries on from what the database says.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::kind::{Finding, Holding, Kind, Outcome};
use super::store::{self, Incident};
use super::{alert, rules};
use crate::jobs::JobKind;
use crate::state::App;

/// What one run did (the cron's answer; also logged as one line).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Incidents open after this run, newest first: `{"id","kind","key"}`.
    pub open: Vec<Value>,
    /// Opened by this run.
    pub opened: Vec<Value>,
    /// Resolved by this run.
    pub resolved: Vec<Value>,
    /// Each rule: `evaluated`, `off: <why>` or `unavailable`.
    pub rules: Map<String, Value>,
    /// Wall time.
    pub duration_ms: u64,
    /// The Slack alerts enqueued, to run right after the answer.
    #[serde(skip)]
    pub alerts: Vec<(JobKind, i64)>,
}

/// Runs every rule once and reconciles the incidents.
pub async fn run(app: &App) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let now = app.clock.now();
    let before = store::open_incidents(&app.db.get().await?).await?;
    let outcomes = rules::evaluate(app, now).await;
    let mut s = Summary::default();
    let mut open: Vec<Incident> = before.clone();
    for (kind, outcome) in Kind::ALL.into_iter().zip(&outcomes) {
        let state = match outcome {
            Outcome::Evaluated(_) => "evaluated",
            Outcome::Off(why) => why,
            Outcome::Unavailable => "unavailable",
        };
        s.rules.insert(kind.as_str().into(), state.into());
        let Outcome::Evaluated(findings) = outcome else {
            continue;
        };
        for f in findings {
            let current = before
                .iter()
                .find(|i| i.kind == f.kind.as_str() && i.key == f.key);
            match (current, &f.holding) {
                (None, Some(h)) => {
                    if let Some((i, job)) = open_one(app, f, h, now).await? {
                        s.opened.push(i.reference());
                        s.alerts.extend(job.map(|id| (JobKind::SlackAlert, id)));
                        open.push(i);
                    }
                }
                (Some(i), _) if f.resolves(i.since) => {
                    if let Some((i, job)) = resolve_one(app, i.id, now).await? {
                        s.resolved.push(i.reference());
                        s.alerts.extend(job.map(|id| (JobKind::SlackAlert, id)));
                        open.retain(|o| o.id != i.id);
                    }
                }
                _ => {}
            }
        }
    }
    open.sort_by_key(|i| std::cmp::Reverse((i.opened_at, i.id)));
    s.open = open.iter().map(Incident::reference).collect();
    s.duration_ms = started.elapsed().as_millis() as u64;
    let rules = Value::Object(s.rules.clone());
    tracing::info!(
        open = s.open.len(), opened = s.opened.len(), resolved = s.resolved.len(),
        duration_ms = s.duration_ms, rules = %rules, "watchdog done"
    );
    Ok(s)
}

/// Opens one incident with its alert, in one transaction; `None` when
/// another run opened it first.
async fn open_one(
    app: &App,
    f: &Finding,
    h: &Holding,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(Incident, Option<i64>)>> {
    let tx = app.db.begin().await?;
    let Some(i) = store::open(&tx, f.kind, f.key.as_deref(), h, now).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let job = alert::enqueue_opened(&tx, &i, now).await?;
    tx.commit().await?;
    tracing::warn!(incident_id = i.id, kind = %i.kind, key = ?i.key, "incident opened");
    Ok(Some((i, job)))
}

/// Resolves one incident with its alert, in one transaction; `None` when
/// another run resolved it first.
async fn resolve_one(
    app: &App,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(Incident, Option<i64>)>> {
    let tx = app.db.begin().await?;
    let Some(i) = store::resolve(&tx, id, now).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let job = alert::enqueue_resolved(&tx, &i, now).await?;
    tx.commit().await?;
    tracing::info!(incident_id = i.id, kind = %i.kind, key = ?i.key, "incident resolved");
    Ok(Some((i, job)))
}
