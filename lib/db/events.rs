//! The `events` table: every inbound event (Stripe, the app) is stored once,
//! `UNIQUE (source, event_id)`, in the same transaction that applies it. Its
//! rows are written here only, with what the event did: [`insert`] (a
//! conflict means the event is already stored, and the caller rolls its
//! attempt back, so Postgres alone keeps exactly-once) and [`insert_all`].

use anyhow::Context;
use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::types::{accepts, to_sql_checked, IsNull, ToSql, Type};
use uuid::Uuid;

use super::Sql;

/// An event's payload as JSON text, stored as `jsonb`. Why not a
/// `serde_json::Value`: a webhook's body is stored as it came (the bytes
/// the signature covered), so the hot path neither clones the parsed tree
/// nor serializes it again, and numbers keep their exact digits.
#[derive(Debug, Clone)]
pub struct Payload(Bytes);

impl Payload {
    /// A body already parsed as JSON (so Postgres accepts it as `jsonb`).
    /// One escape is valid JSON that `jsonb` refuses: `\u0000` (text cannot
    /// hold NUL), which any free text a customer typed into Stripe may
    /// carry. Such a body is stored with each NUL as U+FFFD, so its event is
    /// stored instead of refused on every retry; any other body is stored
    /// byte for byte.
    pub fn parsed(body: Bytes) -> Self {
        const NUL: &[u8] = b"\\u0000";
        if !body.windows(NUL.len()).any(|w| w == NUL) {
            return Self(body);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(mut v) => {
                replace_nul(&mut v);
                Self(Bytes::from(v.to_string()))
            }
            Err(_) => Self(body),
        }
    }

    /// A JSON value, serialized once (NULs as in [`Payload::parsed`]: the
    /// catch-up's events come from Stripe's API as values).
    pub fn of(v: &Value) -> Self {
        Self::parsed(Bytes::from(v.to_string()))
    }
}

/// Replaces every NUL in `v`'s strings and keys with U+FFFD.
fn replace_nul(v: &mut Value) {
    let clean = |s: &str| s.replace('\0', "\u{FFFD}");
    match v {
        Value::String(s) if s.contains('\0') => *s = clean(s),
        Value::Array(a) => a.iter_mut().for_each(replace_nul),
        Value::Object(o) => {
            *o = std::mem::take(o)
                .into_iter()
                .map(|(k, mut v)| {
                    replace_nul(&mut v);
                    (clean(&k), v)
                })
                .collect();
        }
        _ => {}
    }
}

impl ToSql for Payload {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // jsonb's binary input is a version byte, then the JSON text.
        if *ty == Type::JSONB {
            out.put_u8(1);
        }
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    accepts!(JSONB, JSON);
    to_sql_checked!();
}

/// One event to store.
pub struct NewEvent<'a> {
    /// `stripe` or `app`.
    pub source: &'static str,
    /// The sender's event id (the dedupe key).
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// When the sender created it.
    pub created: DateTime<Utc>,
    /// Stripe: live or test mode.
    pub livemode: Option<bool>,
    /// Stripe Connect: the connected account.
    pub account: Option<&'a str>,
    /// Stripe: the API version of the payload.
    pub api_version: Option<&'a str>,
    /// The payload, as jsonb.
    pub payload: &'a Payload,
    /// What it did (`applied`, `stale`, ...), or `received` before it is applied.
    pub outcome: &'a str,
    /// How it arrived (`webhook`, `catchup`, `api`).
    pub via: &'a str,
    /// When we received it.
    pub received_at: DateTime<Utc>,
    /// The member it concerned, when known.
    pub member_id: Option<Uuid>,
}

/// Inserts `e`; `None` when an event with its source and id is already stored.
pub async fn insert(tx: &impl Sql, e: &NewEvent<'_>) -> anyhow::Result<Option<i64>> {
    let row = tx
        .query_opt(
            r#"INSERT INTO events (source, event_id, type, created, livemode, account, api_version,
                                   payload, outcome, via, received_at, member_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (source, event_id) DO NOTHING
               RETURNING id"#,
            &[
                &e.source,
                &e.event_id,
                &e.event_type,
                &e.created,
                &e.livemode,
                &e.account,
                &e.api_version,
                e.payload,
                &e.outcome,
                &e.via,
                &e.received_at,
                &e.member_id,
            ],
        )
        .await
        .context("Failed to store the event")?;
    Ok(row.map(|r| r.get(0)))
}

/// Inserts several events with one statement and NO conflict clause: a
/// conflict on `UNIQUE (source, event_id)` fails the statement, so the
/// transaction aborts and a `COMMIT` pipelined behind it becomes a rollback
/// (the group commit relies on this: an event stored meanwhile by another
/// instance means the batch is retried event by event). See
/// [`is_duplicate`].
pub async fn insert_all<'a>(tx: &impl Sql, events: &[NewEvent<'a>]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&NewEvent<'a>) -> &'a str| events.iter().map(f).collect::<Vec<&str>>();
    let sources = col(|e| e.source);
    let ids = col(|e| e.event_id);
    let types = col(|e| e.event_type);
    let outcomes = col(|e| e.outcome);
    let vias = col(|e| e.via);
    let created: Vec<DateTime<Utc>> = events.iter().map(|e| e.created).collect();
    let livemode: Vec<Option<bool>> = events.iter().map(|e| e.livemode).collect();
    let accounts: Vec<Option<&str>> = events.iter().map(|e| e.account).collect();
    let versions: Vec<Option<&str>> = events.iter().map(|e| e.api_version).collect();
    let payloads: Vec<&Payload> = events.iter().map(|e| e.payload).collect();
    let received: Vec<DateTime<Utc>> = events.iter().map(|e| e.received_at).collect();
    let members: Vec<Option<Uuid>> = events.iter().map(|e| e.member_id).collect();
    tx.execute(
        INSERT_ALL,
        &[
            &sources, &ids, &types, &created, &livemode, &accounts, &versions, &payloads,
            &outcomes, &vias, &received, &members,
        ],
    )
    .await
    .context("Failed to store the events")?;
    Ok(())
}

/// The statement of [`insert_all`].
pub const INSERT_ALL: &str = r#"INSERT INTO events (source, event_id, type, created, livemode, account, api_version,
                       payload, outcome, via, received_at, member_id)
   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bool[], $6::text[],
                        $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[])"#;

/// True when `e` (anywhere in its chain) is the `events` unique constraint
/// failing: the event is already stored.
pub fn is_duplicate(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.as_db_error())
            .is_some_and(|d| d.constraint() == Some("events_source_event_id"))
    })
}
