//! `Idempotency-Key` (IETF httpapi draft `idempotency-key-header`) for the
//! intake: the same key with the same body replays the first response
//! (status and body, plus `idempotent-replayed: true`); the same key while
//! the first request is still in flight → 409 `idempotency_in_flight`; the
//! same key with another body → 422 `idempotency_key_reused`.
//!
//! Keys are scoped per client — the sender's address (hashed), which stays
//! the same when a phone changes networks between retries — and kept 24 h.
//! The body fingerprint is SHA-256 of the raw bytes.
//!
//! Redis holds the short in-flight claim (svix-style start lock); the
//! Postgres record, written in the ticket's own transaction, holds the
//! response and is the durable backstop: with Redis down, a concurrent
//! duplicate waits on the primary key, finds the committed record and
//! replays it. Expired records are overwritten on reuse and pruned a few at
//! a time by later keyed requests.

use crate::db::Sql;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::input::Email;
use crate::state::App;
use crate::telemetry::hash_email;

/// How long a key is remembered.
pub const TTL_HOURS: i32 = 24;
/// The in-flight claim: longer than the request timeout, released at once
/// when the request ends.
pub const CLAIM_TTL_MS: u64 = 15_000;
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// Expired records deleted per keyed request.
const PRUNE_BATCH: i64 = 20;

/// A well-formed key: 1..=255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses the header: the draft's structured-field string (`"…"`) or,
    /// as most clients send it, the bare value.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let inner = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        let ok = !inner.is_empty()
            && inner.len() <= MAX_KEY_LEN
            && inner.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
        ok.then(|| Self(inner.to_string()))
    }
}

/// One keyed request: whose, which key, which body.
#[derive(Debug, Clone)]
pub struct Keyed {
    scope: String,
    key: String,
    hash: String,
}

impl Keyed {
    /// Scopes `key` to the sender and fingerprints `body`.
    pub fn new(email: &Email, key: IdempotencyKey, body: &[u8]) -> Self {
        Self {
            scope: hash_email(email.as_str()),
            key: key.0,
            hash: hex::encode(Sha256::digest(body)),
        }
    }

    fn claim_key(&self) -> String {
        let k = hex::encode(&Sha256::digest(self.key.as_bytes())[..12]);
        format!("support:idem:{}:{k}", self.scope)
    }
}

/// A stored first response.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

/// What to do with a keyed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// Go ahead; release the claim (its token, if Redis granted one) after.
    Proceed(Option<String>),
    /// Another request with this key decided the answer.
    Settled(Settled),
}

/// The answer another request with the same key decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Answer with the first response again.
    Replay(Stored),
    /// The first request with this key is still running: 409.
    InFlight,
    /// This key was used with another body: 422.
    Reused,
}

/// Looks the key up, then claims it.
pub async fn begin(app: &App, k: &Keyed) -> anyhow::Result<Begin> {
    if let Some(found) = lookup(app, k).await? {
        return Ok(Begin::Settled(found));
    }
    let token = format!("{}:{}", k.hash, uuid::Uuid::new_v4().simple());
    match app.kv.set_nx(&k.claim_key(), &token, CLAIM_TTL_MS).await {
        Ok(true) => Ok(Begin::Proceed(Some(token))),
        Ok(false) => {
            // The holder may have committed between our lookup and claim.
            if let Some(found) = lookup(app, k).await? {
                return Ok(Begin::Settled(found));
            }
            match app.kv.get(&k.claim_key()).await {
                Ok(Some(v)) if !v.starts_with(&k.hash) => Ok(Begin::Settled(Settled::Reused)),
                _ => Ok(Begin::Settled(Settled::InFlight)),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "redis unavailable: idempotency claim skipped, Postgres decides");
            Ok(Begin::Proceed(None))
        }
    }
}

/// Releases the claim (best effort; it expires anyway).
pub async fn release(app: &App, k: &Keyed, token: Option<String>) {
    if let Some(token) = token {
        let _ = app.kv.del_if_eq(&k.claim_key(), &token).await;
    }
}

/// The committed record for `k` as a decision: `Replay` for the same
/// body, `Reused` for another; `None` when there is no live record.
pub async fn settled(
    client: &impl Sql,
    k: &Keyed,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Settled>> {
    Ok(load(client, k, now).await?.map(|(hash, stored)| {
        if hash == k.hash {
            Settled::Replay(stored)
        } else {
            Settled::Reused
        }
    }))
}

async fn lookup(app: &App, k: &Keyed) -> anyhow::Result<Option<Settled>> {
    let client = app
        .db
        .get()
        .await
        .context("Failed to get a connection for an idempotency lookup")?;
    settled(&client, k, app.clock.now()).await
}

/// The live record (fingerprint, response) of `k`, if any.
pub async fn load(
    client: &impl Sql,
    k: &Keyed,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(String, Stored)>> {
    let row = client
        .query_opt(
            r#"SELECT request_hash, response_status, response_body FROM support_idempotency
               WHERE scope = $1 AND key = $2 AND created_at > $3::timestamptz - make_interval(hours => $4)"#,
            &[&k.scope, &k.key, &now, &TTL_HOURS],
        )
        .await
        .context("Failed to read an idempotency record")?;
    Ok(row.map(|r| {
        let status: i32 = r.get(1);
        (
            r.get(0),
            Stored {
                status: status as u16,
                body: r.get(2),
            },
        )
    }))
}

/// Deletes up to `batch` records older than [`TTL_HOURS`]: a few on every
/// keyed request, and a large batch on every sweep, so the table stays small.
pub async fn prune(client: &impl Sql, now: DateTime<Utc>, batch: i64) -> anyhow::Result<u64> {
    client
        .execute(
            r#"DELETE FROM support_idempotency WHERE ctid IN (
                   SELECT ctid FROM support_idempotency
                   WHERE created_at <= $1::timestamptz - make_interval(hours => $2) LIMIT $3)"#,
            &[&now, &TTL_HOURS, &batch],
        )
        .await
        .context("Failed to prune idempotency records")
}

/// Stores the response in the caller's transaction; false when a live
/// record exists already (a concurrent duplicate committed first: roll back
/// and replay it).
pub async fn record(
    tx: &impl Sql,
    k: &Keyed,
    stored: &Stored,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    prune(tx, now, PRUNE_BATCH).await?;
    let status = i32::from(stored.status);
    let row = tx
        .query_opt(
            r#"INSERT INTO support_idempotency (scope, key, request_hash, response_status, response_body, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
                   response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body,
                   created_at = EXCLUDED.created_at
               WHERE support_idempotency.created_at <= $6::timestamptz - make_interval(hours => $7)
               RETURNING 1"#,
            &[&k.scope, &k.key, &k.hash, &status, &stored.body, &now, &TTL_HOURS],
        )
        .await
        .context("Failed to write an idempotency record")?;
    Ok(row.is_some())
}

/// Registered in `jobs::registry`: keys past their 24 hours, pruned at the
/// end of every sweep.
pub const PRUNE_HOOK: crate::jobs::delivery::SweepHook = crate::jobs::delivery::SweepHook {
    name: "intake_keys",
    run: |app, now| {
        Box::pin(
            async move { prune(&app.db.get().await?, now, crate::jobs::sweep::PRUNE_BATCH).await },
        )
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_may_be_a_structured_string_or_bare() {
        assert_eq!(
            IdempotencyKey::parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\""),
            IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324")
        );
        assert!(IdempotencyKey::parse("abc").is_some());
    }

    #[test]
    fn empty_spaced_quoted_or_oversized_keys_are_refused() {
        for bad in ["", "\"\"", "a b", "a\"b", "é", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert_eq!(IdempotencyKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_scope_is_the_sender_and_the_fingerprint_the_exact_body() {
        let key = || IdempotencyKey::parse("k1").unwrap();
        let jane = Email::parse("Jane@example.com").unwrap();
        let a = Keyed::new(&jane, key(), b"{\"a\":1}");
        let b = Keyed::new(
            &Email::parse("jane@EXAMPLE.com").unwrap(),
            key(),
            b"{\"a\":1}",
        );
        assert_eq!((a.scope.clone(), a.hash.clone()), (b.scope, b.hash));
        let c = Keyed::new(&jane, key(), b"{\"a\":2}");
        assert_ne!(a.hash, c.hash);
        assert!(!a.claim_key().contains("jane"));
    }
}
