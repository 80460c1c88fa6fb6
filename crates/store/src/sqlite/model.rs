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

/// One column's value as a Rust type, decoded from the value SQLite holds
/// (each column is fetched once, by [`read`]).
pub(crate) trait Field: Sized {
    /// Decodes `value`, or names what it is not.
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str>;
}

/// Reads column `i` of `row` as `T`.
pub(crate) fn read<T: Field>(row: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    T::from_value(row.get_ref(i)?).map_err(|what| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Null,
            format!("not {what}").into(),
        )
    })
}

fn text(value: ValueRef<'_>) -> Option<&str> {
    match value {
        ValueRef::Text(text) => std::str::from_utf8(text).ok(),
        _ => None,
    }
}

fn integer(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(n) => Some(n),
        _ => None,
    }
}

impl Field for Uuid {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        match value {
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes).ok(),
            value => text(value).and_then(|text| Uuid::parse_str(text).ok()),
        }
        .ok_or("a UUID")
    }
}

impl Field for String {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        text(value).map(str::to_owned).ok_or("text")
    }
}

impl Field for i32 {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        integer(value)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or("a 32-bit integer")
    }
}

impl Field for i64 {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        integer(value).ok_or("an integer")
    }
}

impl Field for bool {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        integer(value).map(|n| n != 0).ok_or("a boolean")
    }
}

impl Field for serde_json::Value {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        match value {
            ValueRef::Text(text) | ValueRef::Blob(text) => serde_json::from_slice(text).ok(),
            _ => None,
        }
        .ok_or("JSON")
    }
}

impl Field for DateTime<Utc> {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        text(value).and_then(parse_timestamp).ok_or("a timestamp")
    }
}

impl<T: Field> Field for Option<T> {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        match value {
            ValueRef::Null => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }
}

/// Reads every row of a prepared query as `M`.
pub(crate) fn read_models<M: SqliteModel>(
    statement: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<M>> {
    // A statement usually selects the columns in the model's order: check
    // that position first, and search the names only when it differs.
    let at = M::COLUMNS
        .iter()
        .enumerate()
        .map(|(k, name)| match statement.column_name(k) {
            Ok(found) if found == *name => Ok(k),
            _ => statement.column_index(name),
        })
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
                        .ok_or_else(|| rusqlite::Error::InvalidColumnIndex(usize::MAX))
                };
                Ok(Self {
                    $($field: $crate::sqlite::read_field(row, next()?)?,)+
                })
            }
        }
    };
}

pub(crate) use sqlite_model;
