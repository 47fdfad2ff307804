//! Postgres, the source of truth: every business write and its outbox jobs
//! share one transaction.
//!
//! - [`url`]: any URL a Vercel integration sets (Neon, Supabase, Prisma-style).
//! - [`tls`]: libpq's `sslmode`s, with the CA from `sslrootcert` or `DATABASE_CA_CERT`.
//! - [`pool`]: the pool ([`Db`]), its mode and limits.
//! - [`conn`]: [`Conn`], the one door: direct (cached statements) or through a
//!   transaction pooler (unnamed statements, limits per transaction).
//! - [`typed`]: parameter types for unnamed statements.
//! - [`sql`]: the [`Sql`] trait both [`Conn`] and [`Tx`] implement.
//! - [`tx`]: [`Tx`], a transaction whose `BEGIN` rides with its first statement.
//! - [`group_commit`]: one transaction for many concurrent inbound events.
//! - [`migrate`]: the schema, checked in one round trip at cold start.
//! - [`events`]: the `events` table's outcome column.

pub mod conn;
pub mod events;
pub mod group_commit;
pub mod migrate;
pub mod pool;
pub mod sql;
pub mod tls;
pub mod tx;
pub mod typed;
pub mod url;

pub use conn::{Conn, Mode};
pub use pool::{connect, tls_failure, Db, DbError, Shape};
pub use sql::Sql;
pub use tx::Tx;
