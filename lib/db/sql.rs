//! [`Sql`]: the one way our code talks to Postgres. Every statement goes
//! through the connection's prepared-statement cache (deadpool's
//! `prepare_cached`), so a hot path such as a Stripe ingest (a dozen
//! statements in one transaction) pays one round trip per statement instead
//! of two (prepare, then execute) and Postgres skips parsing and planning on
//! every repeat. All our SQL is static text (formatted only from constants),
//! so the per-connection cache stays small.
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

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// Query parameters, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A pooled client or one of its transactions; every statement is cached.
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
    let sent = futures::poll!(first.as_mut());
    let result = then.await;
    match sent {
        Poll::Ready(r) => r?,
        Poll::Pending => first.await?,
    };
    result
}

/// Implements [`Sql`] for a deadpool type that has `prepare_cached` and
/// derefs to a tokio-postgres client or transaction.
macro_rules! cached {
    ($($ty:ty),*) => {$(
        impl Sql for $ty {
            async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                (**self).query(&statement, params).await
            }
            async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
                let statement = self.prepare_cached(sql).await?;
                (**self).query_one(&statement, params).await
            }
            async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                (**self).query_opt(&statement, params).await
            }
            async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
                let statement = self.prepare_cached(sql).await?;
                (**self).execute(&statement, params).await
            }
            async fn execute_then<T: Send>(
                &self,
                sql: &str,
                params: Params<'_>,
                then: impl Future<Output = Result<T, Error>> + Send,
            ) -> Result<T, Error> {
                // Prepared first (a cache miss waits for its own round
                // trip, before `then` is polled): the execute's first poll
                // then puts it on the wire.
                let statement = self.prepare_cached(sql).await?;
                sent_then((**self).execute(&statement, params), then).await
            }
        }
    )*};
}

cached!(Client, Transaction<'_>);
