//! [`Sql`]: the one way our code talks to Postgres, implemented by a pooled
//! [`super::Conn`] (statements outside a transaction) and a [`super::Tx`].
//! How a statement travels depends on the database mode ([`super::Mode`]):
//! in direct mode through the connection's prepared-statement cache
//! (deadpool's `prepare_cached`: one round trip per statement, parsed and
//! planned once per connection; all our SQL is static text, so the cache
//! stays small); through a transaction-mode pooler as an unnamed statement
//! (also one round trip, parsed every time).
//!
//! Concurrent calls on one client are pipelined (sent without waiting for
//! the previous answer), but their order on the wire is not guaranteed (a
//! cache miss prepares first; `tokio::try_join!` rotates which future it
//! polls first): join only statements that do not depend on each other.
//! [`Sql::execute_then`] pipelines two statements in a guaranteed order.
//!
//! Why not `tokio_postgres::GenericClient`: its methods re-prepare a `&str`
//! on every call. This trait keeps the same method names and arguments, so a
//! store function only changes its bound.

use std::future::Future;
use std::task::Poll;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// Query parameters, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A pooled connection or one of its transactions.
pub trait Sql: Sync {
    /// Like `Client::query`.
    fn query(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;
    /// Like `Client::query_one`.
    fn query_one(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Row, Error>> + Send;
    /// Like `Client::query_opt`.
    fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send;
    /// Like `Client::execute`.
    fn execute(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
    /// Executes `sql`, then `then` (statements on this same client), with
    /// `then` sent right behind `sql` on the wire, without waiting for its
    /// answer: one round trip for both. Postgres still runs them one after
    /// the other, so `then` sees everything `sql` waited for (an advisory
    /// lock, a row lock): its snapshot is taken when it starts, after `sql`
    /// finished. `sql`'s error wins over `then`'s (after a failed statement
    /// the transaction is aborted, and `then` fails only because of it).
    fn execute_then<T: Send>(
        &self,
        sql: &str,
        params: Params<'_>,
        then: impl Future<Output = Result<T, Error>> + Send,
    ) -> impl Future<Output = Result<T, Error>> + Send;
}

/// Awaits `then` once `first` is on the wire, then `first`'s answer.
///
/// Why this orders the two: tokio-postgres writes a request to the
/// connection's queue in the first poll of its future (no await comes
/// before it once the statement is prepared), and the connection sends
/// requests in queue order. So `first` is polled once, then `then` runs.
pub(crate) async fn sent_then<A, T>(
    first: impl Future<Output = Result<A, Error>>,
    then: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    futures::pin_mut!(first);
    // Both are polled until both are answered: a request whose answers
    // nobody reads stalls the connection (tokio-postgres hands each
    // request's answers over a one-slot channel), and `then`'s come after.
    let (first, result) = match futures::poll!(first.as_mut()) {
        Poll::Ready(r) => (r, then.await),
        Poll::Pending => futures::future::join(first, then).await,
    };
    first?;
    result
}
