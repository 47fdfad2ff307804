//! The `incidents` SQL. Opening is an insert that does nothing when the
//! (kind, key) is already open (the partial unique index `incidents_one_open`
//! decides, so concurrent runs open it once); resolving is an update that
//! only an open row matches (a second run's update finds it resolved).
//! Each returns whether THIS call did it: only that call enqueues the alert.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_postgres::Row;

use super::kind::{Holding, Kind};
use crate::db::Sql;

/// The statuses an incident can have.
pub const STATUSES: &[&str] = &["open", "resolved"];

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Id.
    pub id: i64,
    /// Kind (stored name).
    pub kind: String,
    /// Key, `None` for kinds without one.
    pub key: Option<String>,
    /// `open` or `resolved`.
    pub status: String,
    /// What the founder reads.
    pub summary: String,
    /// When the condition started.
    pub since: DateTime<Utc>,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Resolved, if it is.
    pub resolved_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, key, status, summary, since, opened_at, resolved_at";

impl Incident {
    fn from_row(r: &Row) -> Self {
        Self {
            id: r.get(0),
            kind: r.get(1),
            key: r.get(2),
            status: r.get(3),
            summary: r.get(4),
            since: r.get(5),
            opened_at: r.get(6),
            resolved_at: r.get(7),
        }
    }

    /// `{"id","kind","key"}`, as the cron answers.
    pub fn reference(&self) -> Value {
        json!({ "id": self.id, "kind": self.kind, "key": self.key })
    }

    /// The admin listing's shape (RFC 3339 times).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "summary": self.summary,
        })
    }
}

/// Every open incident.
pub async fn open_incidents(client: &impl Sql) -> anyhow::Result<Vec<Incident>> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM incidents WHERE status = 'open' ORDER BY opened_at DESC, id DESC"),
            &[],
        )
        .await
        .context("Failed to read open incidents")?;
    Ok(rows.iter().map(Incident::from_row).collect())
}

/// Opens an incident unless one of this kind and key is open; the new row
/// when this call opened it.
pub async fn open(
    tx: &impl Sql,
    kind: Kind,
    key: Option<&str>,
    holding: &Holding,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Incident>> {
    let row = tx
        .query_opt(
            &format!(
                r#"INSERT INTO incidents (kind, key, status, summary, since, opened_at)
                   VALUES ($1, $2, 'open', $3, $4, $5)
                   ON CONFLICT (kind, (coalesce(key, ''))) WHERE status = 'open' DO NOTHING
                   RETURNING {COLUMNS}"#
            ),
            &[&kind.as_str(), &key, &holding.summary, &holding.since, &now],
        )
        .await
        .context("Failed to open an incident")?;
    Ok(row.as_ref().map(Incident::from_row))
}

/// Resolves incident `id` if it is still open; the resolved row when this
/// call resolved it.
pub async fn resolve(
    tx: &impl Sql,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Incident>> {
    let row = tx
        .query_opt(
            &format!(
                r#"UPDATE incidents SET status = 'resolved', resolved_at = $2
                   WHERE id = $1 AND status = 'open'
                   RETURNING {COLUMNS}"#
            ),
            &[&id, &now],
        )
        .await
        .context("Failed to resolve an incident")?;
    Ok(row.as_ref().map(Incident::from_row))
}

/// Newest first, optionally of one status.
pub async fn list(
    client: &impl Sql,
    status: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<Incident>> {
    let rows = client
        .query(
            &format!(
                r#"SELECT {COLUMNS} FROM incidents WHERE ($1::text IS NULL OR status = $1)
                   ORDER BY opened_at DESC, id DESC LIMIT $2"#
            ),
            &[&status, &limit],
        )
        .await
        .context("Failed to list incidents")?;
    Ok(rows.iter().map(Incident::from_row).collect())
}
