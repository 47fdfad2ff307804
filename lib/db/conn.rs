//! [`Conn`]: the one door to Postgres. The pool hands out nothing else, and
//! a `Conn` offers only the [`Sql`] methods, a simple-query batch and a
//! transaction ([`Tx`]), so no statement can go around the database mode.
//!
//! Two modes ([`Mode`]), chosen at cold start from `DATABASE_POOLER`:
//! - **Direct** (`none`): statements go through the connection's
//!   prepared-statement cache (parse and plan once per connection), and the
//!   time limits are startup options of the session.
//! - **Transaction** (a transaction-mode pooler: PgBouncer, Supavisor, Neon's
//!   pooled URL): each transaction may run on another server connection, so
//!   statements are unnamed (`query_typed`: Parse, Bind and Execute in one
//!   round trip, types from [`super::typed`]), the limits are `SET LOCAL` in
//!   each transaction, and a statement outside a transaction is wrapped in
//!   `BEGIN`/`COMMIT` sent together with it (one round trip), so its limits
//!   hold too.
//!
//! Pipelining rule for poolers: a pooler hands the server connection back
//! as soon as it sees `ReadyForQuery` outside a transaction, so nothing may
//! be sent behind a request that ends a transaction until its answer is in
//! (Supavisor then drops the rest; PgBouncer loses sync). Inside a
//! transaction, pipelining is safe: the server connection stays ours. So in
//! transaction mode, statements outside a transaction take turns ([`Conn`]'s
//! gate); inside a [`Tx`] they may be pipelined as in direct mode.

use std::future::Future;

use deadpool_postgres::Object;
use tokio_postgres::{Error, Row};

use super::sql::{sent_then, Params, Sql};
use super::typed::typed;
use super::Tx;

/// How statements reach Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A direct session: cached prepared statements, limits at startup.
    Direct,
    /// Through a transaction-mode pooler: unnamed statements, limits per
    /// transaction.
    Transaction,
}

impl Mode {
    /// As health reports it: `none` (direct) or `transaction`.
    pub fn pooler(self) -> &'static str {
        match self {
            Mode::Direct => "none",
            Mode::Transaction => "transaction",
        }
    }

    /// What opens a transaction: in transaction mode the time limits travel
    /// with `BEGIN` (one simple query, no extra round trip).
    pub(super) fn begin_sql(self) -> &'static str {
        match self {
            Mode::Direct => "BEGIN",
            Mode::Transaction => BEGIN_WITH_LIMITS,
        }
    }
}

/// `BEGIN` plus the per-transaction limits a pooler cannot take at startup
/// (kept in step with the pool's constants by `begin_carries_the_pool_limits`).
const BEGIN_WITH_LIMITS: &str =
    "BEGIN; SET LOCAL statement_timeout = 5000; SET LOCAL idle_in_transaction_session_timeout = 10000";

/// One statement in the connection's mode: direct through the prepared
/// cache (`$prepared` on the cached statement), else unnamed (`$typed`, with
/// parameter types from the values).
macro_rules! statement_by_mode {
    ($name:ident, $ret:ty, $prepared:ident, $typed:ident) => {
        pub(super) async fn $name(&self, sql: &str, params: Params<'_>) -> Result<$ret, Error> {
            match self.mode {
                Mode::Direct => {
                    let statement = self.client.prepare_cached(sql).await?;
                    self.client.$prepared(&statement, params).await
                }
                Mode::Transaction => self.client.$typed(sql, &typed(params)).await,
            }
        }
    };
}

/// A pooled connection (see the module docs).
pub struct Conn {
    pub(super) client: Object,
    pub(super) mode: Mode,
    /// Transaction mode: one statement outside a transaction on the wire at a
    /// time (the pipelining rule above).
    gate: tokio::sync::Mutex<()>,
}

impl Conn {
    pub(super) fn new(client: Object, mode: Mode) -> Self {
        Self {
            client,
            mode,
            gate: tokio::sync::Mutex::new(()),
        }
    }

    /// The database mode of this connection.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Starts a transaction; `BEGIN` goes out with its first statement.
    pub fn begin(self) -> Tx {
        Tx::new(self)
    }

    /// Starts a [`Tx::keyed`] transaction on this connection.
    pub fn begin_keyed(self) -> Tx {
        Tx::keyed(self)
    }

    /// Runs `sql` (one or more statements, no parameters) with the simple
    /// query protocol: no statement is prepared, so it is safe in either
    /// mode. In transaction mode it runs inside `BEGIN`/`COMMIT` with the
    /// limits, like every statement outside a [`Tx`].
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.autocommit(self.client.batch_execute(sql)).await
    }

    /// Closes this connection instead of returning it to the pool (its
    /// session state is unknown, e.g. a transaction left open).
    pub fn discard(self) {
        drop(Object::take(self.client));
    }

    /// Runs one request outside a transaction. Direct: as it is. Transaction
    /// mode: `BEGIN` with the limits, the request, `COMMIT`, sent together and
    /// awaited together (the request's first poll puts it on the wire, which
    /// holds for every tokio-postgres request we make), one turn at a time.
    async fn autocommit<T>(
        &self,
        request: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if self.mode == Mode::Direct {
            return request.await;
        }
        let _turn = self.gate.lock().await;
        let (begun, result, committed) = futures::future::join3(
            self.client.batch_execute(BEGIN_WITH_LIMITS),
            request,
            self.client.batch_execute("COMMIT"),
        )
        .await;
        // The request's own error first: BEGIN failing means the connection
        // failed, which the request reports too; a failed request turns
        // COMMIT into a rollback without an error.
        let value = result?;
        begun?;
        committed?;
        Ok(value)
    }

    // Statements without any transaction handling: used by `autocommit`
    // and by `Tx`. Each puts its request on the wire in its first poll once
    // (in direct mode) the statement is prepared.

    statement_by_mode!(raw_query, Vec<Row>, query, query_typed);
    statement_by_mode!(raw_query_one, Row, query_one, query_typed_one);
    statement_by_mode!(raw_query_opt, Option<Row>, query_opt, query_typed_opt);
    statement_by_mode!(raw_execute, u64, execute, execute_typed);

    /// `sql`, then `then` right behind it on the wire (see
    /// [`Sql::execute_then`]).
    pub(super) async fn raw_execute_then<T: Send>(
        &self,
        sql: &str,
        params: Params<'_>,
        then: impl Future<Output = Result<T, Error>> + Send,
    ) -> Result<T, Error> {
        match self.mode {
            Mode::Direct => {
                // Prepared first (a cache miss waits for its own round trip,
                // before `then` is polled): the execute's first poll then puts
                // it on the wire.
                let statement = self.client.prepare_cached(sql).await?;
                sent_then(self.client.execute(&statement, params), then).await
            }
            Mode::Transaction => {
                let params = typed(params);
                sent_then(self.client.execute_typed(sql, &params), then).await
            }
        }
    }

    /// The simple-query batch without transaction handling (for `Tx`).
    pub(super) async fn raw_batch(&self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql).await
    }
}

/// Outside a transaction: each statement on its own (wrapped with the limits
/// in transaction mode, see [`Conn::autocommit`]).
impl Sql for Conn {
    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        self.autocommit(self.raw_query(sql, params)).await
    }
    async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
        self.autocommit(self.raw_query_one(sql, params)).await
    }
    async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
        self.autocommit(self.raw_query_opt(sql, params)).await
    }
    async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
        self.autocommit(self.raw_execute(sql, params)).await
    }
    async fn execute_then<T: Send>(
        &self,
        sql: &str,
        params: Params<'_>,
        then: impl Future<Output = Result<T, Error>> + Send,
    ) -> Result<T, Error> {
        match self.mode {
            Mode::Direct => self.raw_execute_then(sql, params, then).await,
            // Two statements outside a transaction are two transactions:
            // nothing may be pipelined behind the first's end (module docs).
            Mode::Transaction => {
                self.execute(sql, params).await?;
                then.await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pool::{IDLE_IN_TRANSACTION_TIMEOUT_MS, STATEMENT_TIMEOUT_MS};
    use super::*;

    #[test]
    fn begin_carries_the_pool_limits() {
        assert_eq!(
            BEGIN_WITH_LIMITS,
            format!(
                "BEGIN; SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}; \
                 SET LOCAL idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}"
            )
        );
        assert_eq!(Mode::Direct.begin_sql(), "BEGIN");
        assert_eq!(Mode::Transaction.pooler(), "transaction");
        assert_eq!(Mode::Direct.pooler(), "none");
    }
}
