//! Values between sea-query and rusqlite: binding a statement's parameters in
//! the encoding the schema has always used, and reading a row back into the
//! typed values sea-orm's `FromQueryResult` expects.
//!
//! The encodings are the ones sqlx gave the data when it was the SQLite
//! driver, so existing databases read and compare the same: UUIDs as 16-byte
//! blobs, timestamps as RFC 3339 text with `+00:00`, JSON as text, booleans
//! as 0 or 1.
//!
//! sea-orm decodes a row value only from the variant its field type names
//! (an `i32` field needs `Value::Int`, a timestamp `Value::ChronoDateTimeUtc`),
//! while SQLite reports just a storage class. So each result column is typed
//! by where it comes from: a column of a table is looked up in the entities'
//! column definitions (through SQLite's column metadata, or, for `RETURNING`,
//! the statement's table); an expression is typed by its storage class, with
//! integers as `i64` (counts and sums) and 16-byte blobs as UUIDs.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use rusqlite::{Statement as SqlStatement, ToSql};
use sea_orm::sea_query::{ColumnType, Value};
use sea_orm::{ColumnTrait, EntityName, IdenStatic, Iterable, ProxyRow};

use crate::entity;

/// The type a result column decodes as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Uuid,
    Bool,
    I32,
    I64,
    Float,
    Text,
    Json,
    Timestamp,
    Bytes,
    /// An expression: typed by the value's storage class.
    Any,
}

impl Kind {
    fn of(column_type: &ColumnType) -> Kind {
        match column_type {
            ColumnType::Uuid => Kind::Uuid,
            ColumnType::Boolean => Kind::Bool,
            ColumnType::TinyInteger
            | ColumnType::SmallInteger
            | ColumnType::Integer
            | ColumnType::TinyUnsigned
            | ColumnType::SmallUnsigned
            | ColumnType::Unsigned => Kind::I32,
            ColumnType::BigInteger | ColumnType::BigUnsigned => Kind::I64,
            ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => Kind::Float,
            ColumnType::Json | ColumnType::JsonBinary => Kind::Json,
            ColumnType::Timestamp | ColumnType::TimestampWithTimeZone | ColumnType::DateTime => {
                Kind::Timestamp
            }
            ColumnType::Binary(_) | ColumnType::VarBinary(_) | ColumnType::Blob => Kind::Bytes,
            _ => Kind::Text,
        }
    }
}

/// Every entity column's kind, by (table, column).
static KINDS: LazyLock<HashMap<(&'static str, &'static str), Kind>> = LazyLock::new(|| {
    let mut kinds = HashMap::new();
    macro_rules! entities {
        ($($module:ident),* $(,)?) => {$(
            let table = entity::$module::Entity.table_name();
            for column in entity::$module::Column::iter() {
                kinds.insert((table, column.as_str()), Kind::of(column.def().get_column_type()));
            }
        )*};
    }
    entities!(
        analytics_events,
        api_keys,
        artifact_files,
        artifact_versions,
        artifacts,
        audit_log,
        completions,
        deleted_users,
        events,
        file_blobs,
        files,
        idempotency_keys,
        interactive_actions,
        invitations,
        message_files,
        message_revisions,
        messages,
        org_domains,
        orgs,
        preferences,
        rate_buckets,
        reactions,
        sessions,
        thread_members,
        thread_tags,
        threads,
        user_identities,
        users,
    );
    kinds
});

/// The kind of `column` of `table`, if an entity defines it.
fn kind_of(table: &str, column: &str) -> Option<Kind> {
    KINDS.get(&(table, column)).copied()
}

/// The table a data-changing statement writes, whose columns its
/// `RETURNING` clause names: `INSERT INTO "t"`, `UPDATE "t"`, `DELETE FROM "t"`.
fn written_table(sql: &str) -> Option<&str> {
    let rest = sql.trim_start();
    let rest = ["INSERT INTO ", "UPDATE ", "DELETE FROM "]
        .iter()
        .find_map(|prefix| {
            rest.get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &rest[prefix.len()..])
        })?
        .trim_start();
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next(),
        None => rest.split(|c: char| c.is_whitespace() || c == '(').next(),
    }
}

/// The kinds of a prepared statement's result columns.
pub(crate) fn column_kinds(statement: &SqlStatement<'_>, sql: &str) -> Vec<(String, Kind)> {
    let written = written_table(sql);
    statement
        .columns_with_metadata()
        .iter()
        .map(|column| {
            let name = column.name();
            let kind = match (column.table_name(), column.origin_name()) {
                (Some(table), Some(origin)) => kind_of(table, origin),
                _ => written.and_then(|table| kind_of(table, name)),
            };
            (name.to_owned(), kind.unwrap_or(Kind::Any))
        })
        .collect()
}

/// Why a stored value does not decode.
fn corrupt(column: &str, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Null,
        format!("column {column}: {what}").into(),
    )
}

/// Parses a timestamp as sqlx wrote it (RFC 3339), or in SQLite's own
/// `YYYY-MM-DD HH:MM:SS[.fff]` form (UTC), as `CURRENT_TIMESTAMP` writes it.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Some(time) = parse_utc_rfc3339(text.as_bytes()) {
        return Some(time);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(time) = DateTime::parse_from_str(text, "%F %T%.f%:z") {
        return Some(time.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%F %T%.f")
        .ok()
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// The form the store writes, `YYYY-MM-DDTHH:MM:SS[.f…]+00:00` (or `Z`),
/// read without chrono's general parser; anything else is left to it.
fn parse_utc_rfc3339(text: &[u8]) -> Option<DateTime<Utc>> {
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        text.get(range)?.iter().try_fold(0u32, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|(at, byte)| text.get(*at) != Some(byte))
    {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(5..7)?,
        digits(8..10)?,
    )?;
    let (mut at, mut nanos) = (19, 0u32);
    if text.get(at) == Some(&b'.') {
        let start = at + 1;
        let len = text[start..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if len == 0 || len > 9 {
            return None;
        }
        nanos = digits(start..start + len)? * 10u32.pow(9 - u32::try_from(len).ok()?);
        at = start + len;
    }
    if !matches!(text.get(at..), Some(b"Z" | b"+00:00")) {
        return None;
    }
    let time = chrono::NaiveTime::from_hms_nano_opt(
        digits(11..13)?,
        digits(14..16)?,
        digits(17..19)?,
        nanos,
    )?;
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

/// The typed value of one column of a row.
fn decode(column: &str, kind: Kind, value: ValueRef<'_>) -> rusqlite::Result<Value> {
    Ok(match (kind, value) {
        (Kind::Uuid, ValueRef::Null) => Value::Uuid(None),
        (Kind::Bool, ValueRef::Null) => Value::Bool(None),
        (Kind::I32, ValueRef::Null) => Value::Int(None),
        (Kind::I64 | Kind::Any, ValueRef::Null) => Value::BigInt(None),
        (Kind::Float, ValueRef::Null) => Value::Double(None),
        (Kind::Text, ValueRef::Null) => Value::String(None),
        (Kind::Json, ValueRef::Null) => Value::Json(None),
        (Kind::Timestamp, ValueRef::Null) => Value::ChronoDateTimeUtc(None),
        (Kind::Bytes, ValueRef::Null) => Value::Bytes(None),
        (Kind::Uuid, ValueRef::Blob(bytes)) => Value::Uuid(Some(
            uuid::Uuid::from_slice(bytes).map_err(|_| corrupt(column, "not a 16-byte UUID"))?,
        )),
        (Kind::Uuid, ValueRef::Text(text)) => Value::Uuid(Some(
            std::str::from_utf8(text)
                .ok()
                .and_then(|text| uuid::Uuid::parse_str(text).ok())
                .ok_or_else(|| corrupt(column, "not a UUID"))?,
        )),
        (Kind::Bool, ValueRef::Integer(n)) => Value::Bool(Some(n != 0)),
        (Kind::I32, ValueRef::Integer(n)) => Value::Int(Some(
            i32::try_from(n).map_err(|_| corrupt(column, "out of range for i32"))?,
        )),
        (Kind::I64 | Kind::Any, ValueRef::Integer(n)) => Value::BigInt(Some(n)),
        (Kind::Float, ValueRef::Integer(n)) => Value::Double(Some(n as f64)),
        (Kind::Float | Kind::Any, ValueRef::Real(x)) => Value::Double(Some(x)),
        (Kind::Json, ValueRef::Text(text)) => Value::Json(Some(Box::new(
            serde_json::from_slice(text).map_err(|_| corrupt(column, "not JSON"))?,
        ))),
        (Kind::Timestamp, ValueRef::Text(text)) => Value::ChronoDateTimeUtc(Some(
            std::str::from_utf8(text)
                .ok()
                .and_then(parse_timestamp)
                .ok_or_else(|| corrupt(column, "not a timestamp"))?,
        )),
        (Kind::Text | Kind::Any, ValueRef::Text(text)) => Value::String(Some(
            String::from_utf8(text.to_vec()).map_err(|_| corrupt(column, "not UTF-8"))?,
        )),
        (Kind::Any, ValueRef::Blob(bytes)) if bytes.len() == 16 => {
            Value::Uuid(uuid::Uuid::from_slice(bytes).ok())
        }
        (Kind::Bytes | Kind::Any, ValueRef::Blob(bytes)) => Value::Bytes(Some(bytes.to_vec())),
        (Kind::Text, ValueRef::Integer(n)) => Value::String(Some(n.to_string())),
        (_, other) => {
            return Err(corrupt(
                column,
                &format!("unexpected {:?} for {kind:?}", other.data_type()),
            ));
        }
    })
}

/// Reads every row of a query into typed proxy rows.
pub(crate) fn read_rows(
    statement: &mut SqlStatement<'_>,
    sql: &str,
    values: &[Value],
) -> rusqlite::Result<Vec<ProxyRow>> {
    let kinds = column_kinds(statement, sql);
    let params = values.iter().map(Bind).collect::<Vec<_>>();
    let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = BTreeMap::new();
        for (index, (name, kind)) in kinds.iter().enumerate() {
            values.insert(name.clone(), decode(name, *kind, row.get_ref(index)?)?);
        }
        out.push(ProxyRow::new(values));
    }
    Ok(out)
}

/// Runs a statement that returns no rows, giving the rows it changed.
pub(crate) fn execute(statement: &mut SqlStatement<'_>, values: &[Value]) -> rusqlite::Result<u64> {
    let params = values.iter().map(Bind).collect::<Vec<_>>();
    let changed = statement.execute(rusqlite::params_from_iter(params.iter()))?;
    Ok(changed as u64)
}

/// A sea-query value bound as a rusqlite parameter.
pub(crate) struct Bind<'a>(&'a Value);

/// A statement's values as rusqlite parameters.
pub(crate) fn bind(values: &[Value]) -> Vec<Bind<'_>> {
    values.iter().map(Bind).collect()
}

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let owned = |value: Sql| Ok(ToSqlOutput::Owned(value));
        let int = |n: Option<i64>| owned(n.map_or(Sql::Null, Sql::Integer));
        match self.0 {
            Value::Bool(v) => int(v.map(i64::from)),
            Value::TinyInt(v) => int(v.map(i64::from)),
            Value::SmallInt(v) => int(v.map(i64::from)),
            Value::Int(v) => int(v.map(i64::from)),
            Value::BigInt(v) => int(*v),
            Value::TinyUnsigned(v) => int(v.map(i64::from)),
            Value::SmallUnsigned(v) => int(v.map(i64::from)),
            Value::Unsigned(v) => int(v.map(i64::from)),
            Value::BigUnsigned(v) => match v {
                Some(n) => i64::try_from(*n)
                    .map(|n| ToSqlOutput::Owned(Sql::Integer(n)))
                    .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err))),
                None => owned(Sql::Null),
            },
            Value::Float(v) => owned(v.map_or(Sql::Null, |x| Sql::Real(f64::from(x)))),
            Value::Double(v) => owned(v.map_or(Sql::Null, Sql::Real)),
            Value::String(v) => Ok(match v {
                Some(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
                None => ToSqlOutput::Owned(Sql::Null),
            }),
            Value::Char(v) => owned(v.map_or(Sql::Null, |c| Sql::Text(c.to_string()))),
            Value::Bytes(v) => Ok(match v {
                Some(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
                None => ToSqlOutput::Owned(Sql::Null),
            }),
            Value::Json(v) => owned(
                v.as_ref()
                    .map_or(Sql::Null, |json| Sql::Text(json.to_string())),
            ),
            Value::ChronoDateTimeUtc(v) => owned(v.map_or(Sql::Null, |time| {
                Sql::Text(time.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            })),
            Value::ChronoDateTimeWithTimeZone(v) => owned(v.map_or(Sql::Null, |time| {
                Sql::Text(time.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            })),
            Value::ChronoDateTime(v) => owned(v.map_or(Sql::Null, |time| {
                Sql::Text(time.format("%F %T%.f").to_string())
            })),
            Value::Uuid(v) => owned(v.map_or(Sql::Null, |id| Sql::Blob(id.as_bytes().to_vec()))),
            other => Err(rusqlite::Error::ToSqlConversionFailure(
                format!("unsupported parameter {other:?}").into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_timestamps_read_as_chrono_reads_them() {
        for text in [
            "2026-12-02T03:39:45.078405797+00:00",
            "2026-12-02T03:39:45.078405+00:00",
            "2026-12-02T03:39:45.078Z",
            "2026-12-02T03:39:45Z",
            "2026-12-02T03:39:45.1+00:00",
            "0001-01-01T00:00:00+00:00",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(parse_utc_rfc3339(text.as_bytes()), Some(chrono), "{text}");
            assert_eq!(parse_timestamp(text), Some(chrono), "{text}");
        }
    }

    #[test]
    fn other_timestamp_forms_fall_back_or_fail_without_panicking() {
        // Another offset, SQLite's own form, and broken text.
        assert_eq!(
            parse_timestamp("2026-12-02T05:39:45+02:00"),
            DateTime::parse_from_rfc3339("2026-12-02T03:39:45Z")
                .ok()
                .map(|time| time.with_timezone(&Utc))
        );
        assert!(parse_timestamp("2026-12-02 03:39:45").is_some());
        for broken in [
            "",
            "2026",
            "2026-12-02T03:39",
            "2026-12-02T03:39:45",
            "2026-12-02T03:39:45.",
            "2026-13-02T03:39:45Z",
            "2026-12-02T25:39:45Z",
            "2026-12-02T03:39:45.1234567890Z",
            "2026-12-02T03:39:45+00:0",
            "2026-12-02T03:39:4xZ",
        ] {
            assert_eq!(parse_utc_rfc3339(broken.as_bytes()), None, "{broken}");
        }
    }

    #[test]
    fn the_written_table_is_found_in_each_statement_form() {
        assert_eq!(
            written_table(r#"INSERT INTO "messages" ("id") VALUES (?)"#),
            Some("messages")
        );
        assert_eq!(
            written_table(r#"UPDATE "threads" SET "x" = ?"#),
            Some("threads")
        );
        assert_eq!(
            written_table(r#"delete from "users" WHERE 1"#),
            Some("users")
        );
        assert_eq!(written_table("SELECT 1"), None);
    }

    #[test]
    fn timestamps_read_in_every_form_sqlite_and_sqlx_wrote() {
        let expected = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        assert_eq!(parse_timestamp("2026-01-02T03:04:05+00:00"), expected);
        assert_eq!(parse_timestamp("2026-01-02 03:04:05"), expected);
        assert_eq!(parse_timestamp("2026-01-02 03:04:05+00:00"), expected);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn entity_columns_have_their_declared_kinds() {
        assert_eq!(kind_of("messages", "id"), Some(Kind::Uuid));
        assert_eq!(kind_of("messages", "token_count"), Some(Kind::I32));
        assert_eq!(kind_of("threads", "last_event_seq"), Some(Kind::I64));
        assert_eq!(kind_of("threads", "pinned"), Some(Kind::Bool));
        assert_eq!(kind_of("messages", "blocks"), Some(Kind::Json));
        assert_eq!(kind_of("messages", "created_at"), Some(Kind::Timestamp));
        assert_eq!(kind_of("nowhere", "id"), None);
    }

    #[test]
    fn every_table_of_the_schema_has_its_column_kinds() {
        for table in migration::TABLES {
            assert!(
                KINDS.keys().any(|(t, _)| t == table),
                "{table} has no entity in sqlite::values::KINDS"
            );
        }
    }
}
