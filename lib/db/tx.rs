//! [`Tx`]: a transaction whose `BEGIN` travels with its first statement.
//!
//! `Client::transaction()` sends `BEGIN` and waits for Postgres to answer
//! before the first statement can leave: one round trip that carries no
//! work. A Stripe ingest has only three others (the identity locks with the
//! lookup behind them, the pipelined writes, `COMMIT`), so that wait would
//! be a quarter of its time on the wire. `Tx` sends `BEGIN` on the wire
//! right before its first statement, without waiting, and reads both
//! answers together.
//!
//! Through a transaction pooler that `BEGIN` also carries the time limits
//! (`SET LOCAL`, see [`super::conn`]), still in the same round trip.
//!
//! Why this is safe: tokio-postgres writes a request to the connection in
//! the first poll of its future, and the connection sends requests in the
//! order they were written, so `BEGIN` always precedes the statement. If
//! `BEGIN` failed (a broken connection), that first statement's error is
//! returned too. A `Tx` dropped while open (a cancelled request, a panic)
//! never returns its connection to the pool: the connection is closed, and
//! Postgres rolls the transaction back.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::{Error, Row};

use super::sql::{sent_then, Params, Sql};
use super::Conn;

/// What [`Tx::keyed`] sends with its `BEGIN`.
const KEYED: &str =
    "SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan";

/// A transaction on a pooled connection (see the module docs).
pub struct Tx {
    conn: Option<Conn>,
    /// `BEGIN` has been sent.
    begun: AtomicBool,
    /// Sequential scans off from `BEGIN` on (see [`Tx::keyed`]).
    keyed: bool,
}

impl Tx {
    /// Starts a transaction on `conn`; nothing is sent until the first
    /// statement.
    pub fn new(conn: Conn) -> Self {
        Self {
            conn: Some(conn),
            begun: AtomicBool::new(false),
            keyed: false,
        }
    }

    /// A transaction of keyed statements only (every row it reads or writes
    /// is found through a unique index), whose `BEGIN` turns sequential
    /// scans off and asks for generic plans (`SET LOCAL`, in the same
    /// message: no round trip). Its statements can then be cached: the
    /// generic plan a prepared statement settles on after five executions is
    /// kept until the next ANALYZE, and one made while a table held a few
    /// pages would be a scan of it, however large it grows meanwhile
    /// (measured: the Stripe batch lookup at 4 ms a batch after 3,000
    /// members, against 0.03 ms on the index). Generic from the first
    /// execution on, because a statement filtering on `= ANY($1)` never
    /// settles by itself: its custom plan for a one-element array always
    /// looks cheaper, so it was planned again every time (the stored-events
    /// check: 89 µs of planning for 5 µs of work, a lone event's Postgres
    /// CPU 1.08 → 0.90 ms, alternated runs).
    pub fn keyed(conn: Conn) -> Self {
        let mut tx = Self::new(conn);
        tx.keyed = true;
        tx
    }

    fn conn(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a Tx holds its connection until it ends")
    }

    /// Runs `sql` (no parameters; one or more statements) with the simple
    /// query protocol inside this transaction.
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.run(self.conn().raw_batch(sql)).await
    }

    /// Commits (the connection goes back to the pool).
    pub async fn commit(self) -> Result<(), Error> {
        self.end("COMMIT").await.map(drop)
    }

    /// Commits and keeps the connection for more work.
    pub async fn commit_keep(self) -> Result<Conn, Error> {
        self.end("COMMIT").await
    }

    /// Rolls back; gives the connection back for more work.
    pub async fn rollback(self) -> Result<Conn, Error> {
        self.end("ROLLBACK").await
    }

    /// Prepares `statements` in direct mode (cached per connection: no round
    /// trip once seen), so each goes on the wire in the first poll of its
    /// future; nothing to do in transaction mode (unnamed statements are sent
    /// whole). [`Tx::commit_behind`] needs this of its writes.
    pub async fn prepare_all(&self, statements: &[&str]) -> Result<(), Error> {
        if self.conn().mode == super::Mode::Direct {
            let client = &self.conn().client;
            futures::future::try_join_all(statements.iter().map(|s| client.prepare_cached(s)))
                .await?;
        }
        Ok(())
    }

    /// Sends `writes`, then `COMMIT` right behind them without waiting for
    /// their answers: one round trip for the writes and the commit. Every
    /// statement of `writes` must go on the wire in its first poll (direct
    /// mode: prepared by [`Tx::prepare_all`]; no statement may wait for
    /// another's answer), and the transaction must have begun. A failed write
    /// aborts the transaction, so Postgres turns that `COMMIT` into a
    /// rollback: its error is returned and nothing was written. An error of
    /// the `COMMIT` itself (a connection lost) leaves the outcome unknown;
    /// the caller answers "not stored" and the sender's retry finds a
    /// duplicate if it did commit. The `Tx` is done afterwards: drop it.
    pub async fn commit_behind<T>(
        &self,
        writes: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        assert!(
            self.begun.load(Ordering::SeqCst),
            "commit_behind needs a begun transaction"
        );
        futures::pin_mut!(writes);
        let first = futures::poll!(writes.as_mut());
        // The writes keep being polled while COMMIT is answered: a request
        // whose answers nobody reads stalls the connection (tokio-postgres
        // hands each request's answers over a one-slot channel), and the
        // COMMIT's answer comes after theirs.
        let commit = self.conn().raw_batch("COMMIT");
        let (written, committed) = match first {
            std::task::Poll::Ready(written) => (written, commit.await),
            std::task::Poll::Pending => futures::future::join(writes, commit).await,
        };
        // On a COMMIT error the Tx stays begun: dropped, its connection
        // closes. Else the transaction is over (committed, or rolled back by
        // a failed write) and the connection goes back to the pool on drop.
        committed?;
        self.begun.store(false, Ordering::SeqCst);
        written
    }

    /// Commits a transaction its owner holds by reference (a group commit's
    /// batch keeps its `Tx` to the end), after writes that had to be awaited
    /// (see [`Tx::commit_behind`] for what an error means).
    pub async fn commit_now(&self) -> anyhow::Result<()> {
        self.commit_behind(async { Ok(()) }).await
    }

    async fn end(mut self, sql: &str) -> Result<Conn, Error> {
        if self.begun.load(Ordering::SeqCst) {
            // On failure `self` drops still begun: the connection is closed.
            self.conn().raw_batch(sql).await?;
        }
        self.begun.store(false, Ordering::SeqCst);
        Ok(self
            .conn
            .take()
            .expect("a Tx holds its connection until it ends"))
    }

    /// Runs `statement`, preceded on the wire by `BEGIN` if it is the first.
    async fn run<T>(&self, statement: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        if self.begun.swap(true, Ordering::SeqCst) {
            return statement.await;
        }
        let conn = self.conn();
        let begin: std::borrow::Cow<str> = match self.keyed {
            false => conn.mode.begin_sql().into(),
            true => format!("{}; {KEYED}", conn.mode.begin_sql()).into(),
        };
        sent_then(conn.raw_batch(&begin), statement).await
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.begun.load(Ordering::SeqCst) {
                // Still open: close the connection instead of pooling it.
                conn.discard();
            }
        }
    }
}

/// Every statement is the connection's own (in its mode, see [`Sql`]), run
/// behind `BEGIN` when it is the first.
impl Sql for Tx {
    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        self.run(self.conn().raw_query(sql, params)).await
    }
    async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
        self.run(self.conn().raw_query_one(sql, params)).await
    }
    async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
        self.run(self.conn().raw_query_opt(sql, params)).await
    }
    async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
        self.run(self.conn().raw_execute(sql, params)).await
    }
    async fn execute_then<T: Send>(
        &self,
        sql: &str,
        params: Params<'_>,
        then: impl Future<Output = Result<T, Error>> + Send,
    ) -> Result<T, Error> {
        // `then`'s statements find the transaction begun and go out behind.
        // Boxed: nested by value through three layers, a large `then` (a
        // batch's lookups) made futures of hundreds of KB in debug builds.
        self.run(self.conn().raw_execute_then(sql, params, Box::pin(then)))
            .await
    }
}
