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
    let value = row.get_ref(i)?;
    T::from_value(value).map_err(|what| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            value.data_type(),
            format!("not {what}").into(),
        )
    })
}

impl Field for Uuid {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        match value {
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes).ok(),
            value => value
                .as_str()
                .ok()
                .and_then(|text| Uuid::parse_str(text).ok()),
        }
        .ok_or("a UUID")
    }
}

impl Field for String {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        value.as_str().map(str::to_owned).map_err(|_| "text")
    }
}

impl Field for i32 {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        value
            .as_i64()
            .ok()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or("a 32-bit integer")
    }
}

impl Field for i64 {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        value.as_i64().map_err(|_| "an integer")
    }
}

impl Field for bool {
    fn from_value(value: ValueRef<'_>) -> Result<Self, &'static str> {
        value.as_i64().map(|n| n != 0).map_err(|_| "a boolean")
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
        value
            .as_str()
            .ok()
            .and_then(parse_timestamp)
            .ok_or("a timestamp")
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

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use rusqlite::types::Type;

    use super::*;

    /// Reads the one column of `SELECT {expr}` as `T`.
    fn select<T: Field>(expr: &str) -> rusqlite::Result<T> {
        let conn = Connection::open_in_memory().unwrap();
        conn.query_row(&format!("SELECT {expr}"), [], |row| read(row, 0))
    }

    #[test]
    fn values_decode_by_type_and_null_is_none() {
        let id = Uuid::now_v7();
        assert_eq!(select::<Uuid>(&format!("'{id}'")).unwrap(), id);
        assert_eq!(select::<String>("'plain'").unwrap(), "plain");
        assert_eq!(select::<i32>("7").unwrap(), 7);
        assert!(select::<bool>("1").unwrap());
        assert_eq!(
            select::<serde_json::Value>("'{\"a\":1}'").unwrap(),
            serde_json::json!({"a": 1})
        );
        let time = select::<DateTime<Utc>>("'2026-12-02T10:00:00.5+00:00'").unwrap();
        assert_eq!(time.to_rfc3339(), "2026-12-02T10:00:00.500+00:00");
        assert_eq!(select::<Option<String>>("NULL").unwrap(), None);
        assert_eq!(select::<Option<i32>>("3").unwrap(), Some(3));
    }

    #[test]
    fn a_mismatch_names_the_column_its_type_and_what_was_wanted() {
        let err = select::<i32>("'seven'").unwrap_err();
        let rusqlite::Error::FromSqlConversionFailure(column, found, why) = err else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!((column, found), (0, Type::Text));
        assert_eq!(why.to_string(), "not a 32-bit integer");
        // Out of range is refused, not wrapped.
        assert!(select::<i32>("4294967296").is_err());
        // NULL is only an `Option`'s.
        assert!(select::<String>("NULL").is_err());
        assert!(select::<Uuid>("'not a uuid'").is_err());
    }
}
