//! Many keys in one round trip, for a group commit's batch: the claims
//! (`SET NX` + `GET`, pipelined), how a claim settles, and the done markers
//! set off the answer's path.

use std::sync::Arc;

use super::{Kv, KvError};

impl Kv {
    /// [`Kv::claim_many`] for a group commit's batch: with Redis down,
    /// every claim reads as unknown (`None`) and Postgres alone decides
    /// (degraded, logged).
    pub async fn claim_batch(&self, claims: &[(&str, &str)], ttl_ms: u64) -> Vec<Option<String>> {
        self.claim_many(claims, ttl_ms).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "redis unavailable: Postgres alone decides (degraded)");
            vec![None; claims.len()]
        })
    }

    /// Sets `keys` to `value` in one pipelined round trip in a task of its
    /// own, off the answer's path (a group commit's done markers, after the
    /// answers); a failure is logged.
    pub fn set_many_later(self: &Arc<Self>, keys: Vec<String>, value: &'static str, ttl_ms: u64) {
        if keys.is_empty() {
            return;
        }
        let kv = self.clone();
        tokio::spawn(async move {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            if let Err(e) = kv.set_many(&keys, value, ttl_ms).await {
                tracing::warn!(keys = keys.len(), error = %e, "could not set markers in redis");
            }
        });
    }

    /// Settles one claim of [`Kv::claim_batch`]: `token` (ours) is kept only
    /// if Redis holds it; else it is cleared and what Redis held instead (a
    /// `done` marker, another delivery's claim) is returned.
    pub fn settle_claim(token: &mut Option<String>, held: Option<String>) -> Option<String> {
        if held == *token {
            return None;
        }
        *token = None;
        held
    }

    /// Claims many keys in one round trip: for each `(key, token)`,
    /// `SET key token NX PX ttl` then `GET key`, pipelined. The value read
    /// says who holds the key: our token (claimed, also on the retry after a
    /// dropped connection, when the first attempt may have set it), another
    /// value (its holder's), or nothing (expired in between: unclaimed).
    pub async fn claim_many(
        &self,
        claims: &[(&str, &str)],
        ttl_ms: u64,
    ) -> Result<Vec<Option<String>>, KvError> {
        let keys: Vec<String> = claims.iter().map(|(k, _)| self.key(k)).collect();
        let (keys, claims) = (&keys, claims);
        self.call(|mut c, _| async move {
            let mut pipe = redis::pipe();
            for (key, (_, token)) in keys.iter().zip(claims) {
                pipe.cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore()
                    .cmd("GET")
                    .arg(key);
            }
            pipe.query_async::<Vec<Option<String>>>(&mut c).await
        })
        .await
    }

    /// `SET key value PX ttl` for many keys, pipelined: one round trip.
    pub async fn set_many(&self, keys: &[&str], value: &str, ttl_ms: u64) -> Result<(), KvError> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let keys = &keys;
        self.call(|mut c, _| async move {
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore();
            }
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }
}
