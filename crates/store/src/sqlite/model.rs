//! Rows decoded straight from rusqlite into the entity models of the hottest
//! reads, skipping the proxy rows of `values.rs`.
//!
//! A proxy row is a map of column names to owned values, and sea-orm reads a
//! NULL from it by building (and formatting) an error; for a page of 50
//! messages that is a thousand allocations and a hundred formatted errors.
//! A model listed with [`sqlite_model!`] decodes each column in place by its
//! Rust type instead. The query is the same sea-orm statement either way; only
//! the decoding differs, and on PostgreSQL it is sea-orm's own.

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{Row, Statement};
use uuid::Uuid;

use super::values::parse_timestamp;

/// A model the SQLite engine decodes itself, column by column.
pub(crate) trait SqliteModel: Sized {
    /// Its columns, in the order [`SqliteModel::decode`] reads them.
    const COLUMNS: &'static [&'static str];
    /// Decodes a row whose columns `at` are positioned as [`Self::COLUMNS`].
    fn decode(row: &Row<'_>, at: &[usize]) -> rusqlite::Result<Self>;
}

/// One column's value as a Rust type.
pub(crate) trait Field: Sized {
    /// Reads column `i`.
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self>;
}

fn bad(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Null,
        format!("not {what}").into(),
    )
}

impl Field for Uuid {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        match row.get_ref(i)? {
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes).map_err(|_| bad(i, "a UUID")),
            ValueRef::Text(text) => std::str::from_utf8(text)
                .ok()
                .and_then(|text| Uuid::parse_str(text).ok())
                .ok_or_else(|| bad(i, "a UUID")),
            _ => Err(bad(i, "a UUID")),
        }
    }
}

impl Field for String {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
}

impl Field for i32 {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
}

impl Field for i64 {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
}

impl Field for bool {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
}

impl Field for serde_json::Value {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        match row.get_ref(i)? {
            ValueRef::Text(text) | ValueRef::Blob(text) => {
                serde_json::from_slice(text).map_err(|_| bad(i, "JSON"))
            }
            _ => Err(bad(i, "JSON")),
        }
    }
}

impl Field for DateTime<Utc> {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        match row.get_ref(i)? {
            ValueRef::Text(text) => std::str::from_utf8(text)
                .ok()
                .and_then(parse_timestamp)
                .ok_or_else(|| bad(i, "a timestamp")),
            _ => Err(bad(i, "a timestamp")),
        }
    }
}

impl<T: Field> Field for Option<T> {
    fn read(row: &Row<'_>, i: usize) -> rusqlite::Result<Self> {
        match row.get_ref(i)? {
            ValueRef::Null => Ok(None),
            _ => T::read(row, i).map(Some),
        }
    }
}

/// Reads every row of a prepared query as `M`.
pub(crate) fn read_models<M: SqliteModel>(
    statement: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<M>> {
    let at = M::COLUMNS
        .iter()
        .map(|name| statement.column_index(name))
        .collect::<rusqlite::Result<Vec<usize>>>()?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(M::decode(row, &at)?);
    }
    Ok(out)
}

/// Lets the SQLite engine decode a struct (an entity model, or a repository's
/// own row) itself; the fields are listed once, in any order.
macro_rules! sqlite_model {
    ($model:path { $($field:ident),+ $(,)? }) => {
        impl $crate::sqlite::SqliteModel for $model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            fn decode(row: &rusqlite::Row<'_>, at: &[usize]) -> rusqlite::Result<Self> {
                let mut at = at.iter().copied();
                let mut next = || {
                    at.next()
                        .ok_or(rusqlite::Error::InvalidColumnIndex(usize::MAX))
                };
                Ok(Self {
                    $($field: $crate::sqlite::Field::read(row, next()?)?,)+
                })
            }
        }
    };
}

pub(crate) use sqlite_model;
