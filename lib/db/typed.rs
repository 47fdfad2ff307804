//! Parameter types for unnamed statements: what lets every statement cross a
//! transaction-mode pooler in one round trip.
//!
//! Through PgBouncer or Supavisor in transaction mode, a named prepared
//! statement lives on whichever server connection parsed it, and the next
//! transaction may run on another (`prepared statement "s13" does not
//! exist`). tokio-postgres' `query_typed`/`execute_typed` send Parse, Bind and
//! Execute of an UNNAMED statement together, but they need each parameter's
//! Postgres type up front, where a prepared statement would have asked the
//! server.
//!
//! Every Rust type we bind accepts exactly one family of Postgres types
//! (`i64` only `int8`, `Uuid` only `uuid`, `DateTime<Utc>` only
//! `timestamptz`), so the type follows from the value, as in sqlx: each
//! parameter is offered [`CANDIDATES`] in order and takes the first one its
//! `ToSql` accepts. Where a Rust type accepts several (`String`: `text`,
//! `varchar`, `name`; `serde_json::Value`: `jsonb`, `json`) the list puts
//! the one our schema uses first; Postgres converts implicitly between the
//! others. The check is `to_sql_checked` itself, so a value never goes out
//! typed as something its own encoder refuses. `None` of an `Option<T>` is
//! typed as `T` would be.

use bytes::BytesMut;
use tokio_postgres::types::{ToSql, Type};

/// The types a parameter may take, most specific first.
pub const CANDIDATES: &[Type] = &[
    Type::BOOL,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::FLOAT8,
    Type::FLOAT4,
    Type::TEXT,
    Type::JSONB,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMP,
    Type::DATE,
    Type::TIME,
    Type::BYTEA,
    Type::INET,
    Type::OID,
    Type::CHAR,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::INT4_ARRAY,
    Type::INT2_ARRAY,
    Type::UUID_ARRAY,
    Type::JSONB_ARRAY,
    Type::TIMESTAMPTZ_ARRAY,
    Type::BOOL_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::BYTEA_ARRAY,
];

/// The Postgres type `value` is sent as: the first of [`CANDIDATES`] its
/// encoder accepts. A value none accepts is typed `text`, so tokio-postgres
/// reports the usual "error serializing parameter N" for it.
pub fn type_of(value: &(dyn ToSql + Sync)) -> Type {
    let mut scratch = BytesMut::new();
    CANDIDATES
        .iter()
        .find(|ty| {
            scratch.clear();
            value.to_sql_checked(ty, &mut scratch).is_ok()
        })
        .cloned()
        .unwrap_or(Type::TEXT)
}

/// `params` with their types, as `query_typed` takes them.
pub fn typed<'a>(params: &[&'a (dyn ToSql + Sync)]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|p| (*p, type_of(*p))).collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn each_rust_type_we_bind_takes_its_one_postgres_type() {
        let now: DateTime<Utc> = Utc::now();
        let naive: NaiveDateTime = now.naive_utc();
        let cases: Vec<(Box<dyn ToSql + Sync>, Type)> = vec![
            (Box::new(true), Type::BOOL),
            (Box::new(7i64), Type::INT8),
            (Box::new(7i32), Type::INT4),
            (Box::new(7i16), Type::INT2),
            (Box::new(1.5f64), Type::FLOAT8),
            (Box::new("x"), Type::TEXT),
            (Box::new(String::from("x")), Type::TEXT),
            (Box::new(json!({"a": 1})), Type::JSONB),
            (Box::new(Uuid::nil()), Type::UUID),
            (Box::new(now), Type::TIMESTAMPTZ),
            (Box::new(naive), Type::TIMESTAMP),
            (Box::new(vec![1u8, 2]), Type::BYTEA),
            (Box::new(vec![String::from("a")]), Type::TEXT_ARRAY),
            (Box::new(vec![1i64]), Type::INT8_ARRAY),
            (Box::new(vec![Uuid::nil()]), Type::UUID_ARRAY),
            (Box::new(Vec::<i64>::new()), Type::INT8_ARRAY),
        ];
        for (value, expected) in cases {
            assert_eq!(type_of(value.as_ref()), expected, "{value:?}");
        }
    }

    #[test]
    fn a_null_is_typed_as_its_value_would_be() {
        assert_eq!(type_of(&None::<i64>), Type::INT8);
        assert_eq!(type_of(&None::<Uuid>), Type::UUID);
        assert_eq!(type_of(&None::<String>), Type::TEXT);
        assert_eq!(type_of(&None::<DateTime<Utc>>), Type::TIMESTAMPTZ);
        assert_eq!(type_of(&Some(5i32)), Type::INT4);
    }

    #[test]
    fn parameters_keep_their_order() {
        let a = 1i64;
        let b = "two";
        let typed = typed(&[&a, &b]);
        let types: Vec<Type> = typed.into_iter().map(|(_, t)| t).collect();
        assert_eq!(types, vec![Type::INT8, Type::TEXT]);
    }
}
