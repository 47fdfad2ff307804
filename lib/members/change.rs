//! Saving a member: when anything the app or CRM sees changed (state, plan,
//! access, email, name, user id), the change gets the next `sequence` and
//! enqueues, in the same transaction, ONE app webhook (`webhook-id` = the
//! change id, stable across retries) and ONE CRM upsert.

use crate::db::Sql;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::store::{self, Line, Member};
use crate::jobs::{self, JobKind, NewJob};

/// Event type when access changed.
pub const ACCESS_CHANGED: &str = "member.access_changed";
/// Event type for any other change.
pub const UPDATED: &str = "member.updated";

/// Jobs enqueued by a save, for `run_now`.
pub type Enqueued = Vec<(JobKind, i64)>;

/// What the app and the CRM see of a member: a change here is exported.
fn exported(m: &Member) -> [Option<&str>; 6] {
    [
        m.email.as_deref(),
        m.name.as_deref(),
        Some(m.state.as_str()),
        m.plan.as_deref(),
        Some(m.access.as_str()),
        m.app_user_id.as_deref(),
    ]
}

/// The inbound event behind a change (for the payment → access delay).
#[derive(Debug, Clone)]
pub struct Cause {
    /// Event type (`invoice.paid`, `user.signed_up`, ...).
    pub event_type: String,
    /// When the event happened upstream (Stripe `created`).
    pub created: DateTime<Utc>,
}

/// Writes `after` (read as `before`, or new when `before` is None) with
/// `lines` on its timeline and enqueues the change's jobs. Returns the jobs
/// enqueued.
pub async fn save(
    tx: &impl Sql,
    before: Option<&Member>,
    after: &mut Member,
    grace_days: i64,
    now: DateTime<Utc>,
    cause: Option<&Cause>,
    lines: Vec<Line>,
) -> anyhow::Result<Enqueued> {
    let change = prepare(before, after, grace_days, now, cause);
    change.write(tx, after, now, lines).await
}

/// A save decided but not yet written: [`prepare`] settles access and the
/// next `sequence` in memory, [`Change::write`] sends the statements. The
/// split lets a caller send its own independent writes in the same pipeline.
#[derive(Debug)]
pub struct Change {
    /// The member is new (`before: None`): inserted, not updated.
    insert: bool,
    /// The exported jobs (app webhook, CRM upsert) and the timeline line,
    /// when anything the app or CRM sees changed.
    exported: Option<Exported>,
}

#[derive(Debug)]
struct Exported {
    webhook: NewJob,
    crm: NewJob,
    summary: String,
    data: Value,
}

/// Settles `after`'s access and sequence; nothing is written yet.
pub fn prepare(
    before: Option<&Member>,
    after: &mut Member,
    grace_days: i64,
    now: DateTime<Utc>,
    cause: Option<&Cause>,
) -> Change {
    let access = after.access_at(grace_days, now);
    after.access = access.level.as_str().to_string();
    let changed = match before {
        None => true,
        Some(b) => exported(b) != exported(after),
    };
    let insert = before.is_none();
    if !changed {
        return Change {
            insert,
            exported: None,
        };
    }
    let access_changed = before
        .map(|b| b.access != after.access)
        .unwrap_or(after.access != "none");
    after.sequence += 1;
    let change_id = format!("chg_{}", uuid::Uuid::now_v7().simple());
    let kind = if access_changed {
        ACCESS_CHANGED
    } else {
        UPDATED
    };
    let body = json!({
        "type": kind,
        "id": change_id,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "member_id": after.id,
            "user_id": after.app_user_id,
            "email": after.email,
            "state": after.state.as_str(),
            "plan": after.plan,
            "access": after.access,
            "access_until": access.until.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "sequence": after.sequence,
        }
    });
    let new = |kind: JobKind, key: String, payload: Value| NewJob {
        kind,
        dedupe_key: key,
        payload,
        member_id: Some(after.id),
        sequence: Some(after.sequence),
    };
    let meta = json!({
        "event_type": cause.map(|c| c.event_type.clone()),
        "event_created": cause.map(|c| c.created),
    });
    let webhook = new(
        JobKind::AppWebhook,
        format!("app_webhook:{}:{}", after.id, after.sequence),
        json!({ "body": body, "meta": meta }),
    );
    let crm = new(
        JobKind::CrmUpsert,
        format!("crm_upsert:{}:{}", after.id, after.sequence),
        json!({ "member_id": after.id, "sequence": after.sequence }),
    );
    let summary = format!(
        "{} → {} ({} access)",
        before.map(|b| b.state.as_str()).unwrap_or("new"),
        after.state.as_str(),
        after.access
    );
    Change {
        insert,
        exported: Some(Exported {
            webhook,
            crm,
            summary,
            data: json!({ "sequence": after.sequence, "change_id": change_id }),
        }),
    }
}

impl Change {
    /// Writes the member, `lines` on its timeline and, for an exported
    /// change, its two jobs and its own timeline line: [`write_all`] for one.
    pub async fn write(
        self,
        tx: &impl Sql,
        m: &Member,
        now: DateTime<Utc>,
        lines: Vec<Line>,
    ) -> anyhow::Result<Enqueued> {
        let rows = vec![self.rows(m, now, lines)];
        let mut enqueued = write_rows(tx, rows, now, Keys::MayExist).await?;
        Ok(enqueued.pop().unwrap_or_default())
    }

    /// The rows this change writes (see [`Rows`]).
    pub fn rows(self, m: &Member, now: DateTime<Utc>, mut lines: Vec<Line>) -> Rows<'_> {
        let jobs = match self.exported {
            None => Vec::new(),
            Some(e) => {
                lines.insert(
                    0,
                    Line {
                        kind: "state",
                        summary: e.summary,
                        data: e.data,
                        at: now,
                    },
                );
                vec![e.webhook, e.crm]
            }
        };
        Rows {
            member: m,
            insert: self.insert,
            jobs,
            lines,
        }
    }
}

/// What one member's change writes: the member row (inserted or updated),
/// its exported jobs and its timeline lines.
pub struct Rows<'a> {
    member: &'a Member,
    insert: bool,
    jobs: Vec<NewJob>,
    lines: Vec<Line>,
}

/// The statements a group commit's batch writes with (those of
/// [`write_all`] and the batch's `events` insert), prepared before they are
/// pipelined behind `COMMIT` (`Tx::prepare_all`).
pub const BATCH_WRITES: [&str; 5] = [
    store::INSERT_ALL,
    store::UPDATE_ALL,
    store::TIMELINE_ALL,
    jobs::enqueue::INSERT_NEW,
    crate::db::events::INSERT_ALL,
];

/// Whether a change's jobs may find their dedupe keys taken.
#[derive(Clone, Copy)]
enum Keys {
    /// One change alone: `ON CONFLICT DO NOTHING` (belt and braces).
    MayExist,
    /// A group commit's changes: plain inserts ([`jobs::insert_new`]).
    New,
}

/// Writes the rows of many changes (one per member; a group commit's batch)
/// with at most four statements whatever their number: members inserted,
/// members updated, one jobs insert, one timeline insert (`unnest` of column
/// arrays). The statements are independent (foreign keys to `members` are
/// checked at commit), so they are sent together (tokio-postgres pipelines
/// concurrent queries on one connection): one round trip. The jobs go in
/// with [`jobs::insert_new`] (a taken key fails the batch, whose events then
/// go one by one). Returns each change's jobs, in order.
pub async fn write_all(
    tx: &impl Sql,
    rows: Vec<Rows<'_>>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Enqueued>> {
    write_rows(tx, rows, now, Keys::New).await
}

async fn write_rows(
    tx: &impl Sql,
    rows: Vec<Rows<'_>>,
    now: DateTime<Utc>,
    keys: Keys,
) -> anyhow::Result<Vec<Enqueued>> {
    let members: Vec<(&Member, bool)> = rows.iter().map(|r| (r.member, r.insert)).collect();
    let lines: Vec<(uuid::Uuid, &Line)> = rows
        .iter()
        .flat_map(|r| r.lines.iter().map(|l| (r.member.id, l)))
        .collect();
    let counts: Vec<usize> = rows.iter().map(|r| r.jobs.len()).collect();
    let jobs: Vec<&NewJob> = rows.iter().flat_map(|r| r.jobs.iter()).collect();
    let enqueue = async {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        match keys {
            Keys::MayExist => jobs::enqueue_many(tx, &jobs, now).await,
            Keys::New => jobs::insert_new(tx, &jobs, now).await,
        }
    };
    let (_, ids, _) = tokio::try_join!(
        store::write_all(tx, &members, now),
        enqueue,
        store::timeline_all(tx, &lines),
    )?;
    let mut ids = ids.into_iter();
    let mut kinds = jobs.iter().map(|j| j.kind);
    Ok(counts
        .into_iter()
        .map(|n| {
            (0..n)
                .filter_map(|_| {
                    let (kind, id) = (kinds.next()?, ids.next()?);
                    id.map(|id| (kind, id))
                })
                .collect()
        })
        .collect())
}
