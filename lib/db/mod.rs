//! Postgres: the pool ([`pool`]) and the migrator ([`migrate`]).
//! Postgres is the source of truth; every business write and its outbox
//! jobs share one transaction.

pub mod events;
pub mod migrate;
pub mod pool;
pub mod sql;
pub mod tx;

pub use pool::{connect, Db, DbError};
pub use sql::Sql;
pub use tx::Tx;
