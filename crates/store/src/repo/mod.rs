//! Repositories: queries that take any connection (the read pool, the writer
//! or a write transaction) and speak domain types.
//!
//! Every function that touches tenant data takes the org it is scoped to;
//! callers (the services) decide which org and user the caller may touch.

pub mod api_keys;
pub mod artifacts;
pub mod audit;
pub mod completions;
pub mod events;
pub mod files;
pub mod idempotency;
pub mod identity;
pub mod interactive;
pub mod messages;
pub mod orgs;
pub mod preferences;
pub mod rate_buckets;
pub mod reactions;
pub mod replies;
pub mod search;
pub mod sessions;
pub mod threads;
pub mod usage;
pub mod users;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use crate::error::OrmResult;
use crate::sqlite::SqliteModel;
use crate::{Conn, StoreError};

/// Runs statements in order, each step's rows kept, stopping after a step
/// marked as needing rows that returns none. On the SQLite writer the whole
/// chain is one visit to the writer thread instead of one per statement.
pub(crate) async fn chain<C: Conn>(
    db: &C,
    steps: Vec<(Statement, bool)>,
) -> Result<Vec<Vec<sea_orm::QueryResult>>, StoreError> {
    if let Some(session) = db.sqlite_session() {
        let rows = session.chain(sqlite_steps(steps)).await.map_err(|err| {
            StoreError::from_orm(sea_orm::DbErr::Query(sea_orm::RuntimeErr::Internal(err)))
        })?;
        return Ok(query_results(rows));
    }
    let mut results = Vec::with_capacity(steps.len());
    for (statement, needs_rows) in steps {
        let rows = db.orm().query_all_raw(statement).await.into_store()?;
        let stop = needs_rows && rows.is_empty();
        results.push(rows);
        if stop {
            break;
        }
    }
    Ok(results)
}

/// Runs a chain of statements and commits the SQLite session behind it in
/// one go: the commit is queued behind the chain, so the writer never waits
/// on the caller in between. A failure anywhere commits nothing.
pub(crate) async fn chain_then_commit(
    session: &crate::sqlite::Session,
    steps: Vec<(Statement, bool)>,
) -> Result<Vec<Vec<sea_orm::QueryResult>>, StoreError> {
    let rows = session
        .chain_then_commit(sqlite_steps(steps))
        .await
        .map_err(|err| {
            StoreError::from_orm(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::Internal(err)))
        })?;
    Ok(query_results(rows))
}

fn sqlite_steps(steps: Vec<(Statement, bool)>) -> Vec<crate::sqlite::Step> {
    steps
        .into_iter()
        .map(|(statement, needs_rows)| crate::sqlite::Step {
            sql: statement.sql,
            values: statement.values.map(|v| v.0).unwrap_or_default(),
            needs_rows,
        })
        .collect()
}

fn query_results(rows: Vec<Vec<sea_orm::ProxyRow>>) -> Vec<Vec<sea_orm::QueryResult>> {
    rows.into_iter()
        .map(|rows| rows.into_iter().map(sea_orm::QueryResult::from).collect())
        .collect()
}

/// Runs a write whose answer nothing depends on. In a SQLite transaction it
/// is sent ahead, so the session's next statement follows it on the writer
/// thread without a wait in between; a failure fails the commit instead.
pub(crate) async fn execute_ahead<C: Conn>(db: &C, statement: Statement) -> Result<(), StoreError> {
    if let Some(session) = db.sqlite_session() {
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        return session.execute_ahead(statement.sql, values).map_err(|err| {
            StoreError::from_orm(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::Internal(err)))
        });
    }
    db.orm().execute_raw(statement).await.into_store()?;
    Ok(())
}

/// The rows of a read as `M`: decoded in place from the SQLite read pool
/// (see `sqlite::model`), by sea-orm everywhere else. One statement, built
/// once, serves both.
pub(crate) async fn fetch<C, M>(db: &C, statement: Statement) -> Result<Vec<M>, StoreError>
where
    C: Conn,
    M: SqliteModel + FromQueryResult + Send + Sync,
{
    if let Some(reader) = db.sqlite_reader() {
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        return reader.query_models(&statement.sql, &values).map_err(|err| {
            StoreError::from_orm(sea_orm::DbErr::Query(sea_orm::RuntimeErr::Internal(
                err.to_string(),
            )))
        });
    }
    M::find_by_statement(statement)
        .all(db.orm())
        .await
        .into_store()
}
use xl_domain::{Cursor, Order, PageRequest};

/// A statement of the hottest reads, built with sea-query once per backend
/// and then bound anew for each call: building one (the entity's select,
/// its joins and conditions, then the SQL text) cost about four times what
/// SQLite takes to run it. The statement is built from sentinel UUIDs, and
/// each bound value is traced back to the argument it came from, so the
/// builder stays the one description of the query (values it binds itself,
/// such as a `LIMIT`, are kept as built).
pub(crate) struct StatementCache<const N: usize> {
    sqlite: std::sync::OnceLock<Template>,
    postgres: std::sync::OnceLock<Template>,
}

struct Template {
    sql: String,
    values: Vec<Slot>,
}

enum Slot {
    Argument(usize),
    Fixed(Value),
}

impl<const N: usize> StatementCache<N> {
    pub(crate) const fn new() -> Self {
        StatementCache {
            sqlite: std::sync::OnceLock::new(),
            postgres: std::sync::OnceLock::new(),
        }
    }

    /// The statement `build` makes of `args` on `backend`.
    pub(crate) fn statement(
        &self,
        backend: DbBackend,
        args: [uuid::Uuid; N],
        build: impl FnOnce(DbBackend, [uuid::Uuid; N]) -> Statement,
    ) -> Statement {
        let cell = match backend {
            DbBackend::Sqlite => &self.sqlite,
            _ => &self.postgres,
        };
        let template = cell.get_or_init(|| {
            let sentinels: [uuid::Uuid; N] =
                std::array::from_fn(|i| uuid::Uuid::from_u128(0x5e47_0000_0000_0000 + i as u128));
            let built = build(backend, sentinels);
            let values = built.values.map(|v| v.0).unwrap_or_default();
            Template {
                sql: built.sql,
                values: values
                    .into_iter()
                    .map(|value| {
                        let argument = sentinels
                            .iter()
                            .position(|s| value == Value::Uuid(Some(*s)));
                        match argument {
                            Some(i) => Slot::Argument(i),
                            None => Slot::Fixed(value),
                        }
                    })
                    .collect(),
            }
        });
        let values = template
            .values
            .iter()
            .map(|slot| match slot {
                Slot::Argument(i) => Value::Uuid(Some(args[*i])),
                Slot::Fixed(value) => value.clone(),
            })
            .collect::<Vec<_>>();
        Statement::from_sql_and_values(backend, template.sql.clone(), values)
    }
}

/// A statement written in SQL rather than with sea-query, in the one
/// placeholder scheme of this crate: PostgreSQL's numbered `$n`. On SQLite
/// each becomes `?n`, SQLite's explicitly numbered form, so a parameter may
/// appear in any order or more than once on both backends.
pub(crate) fn raw(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// A keyset page of `query` by a time-ordered id `column`: after the page's
/// cursor, in the page's order, one row more than the limit (so the page
/// knows whether more follow).
pub(crate) fn keyset<E, K>(
    query: sea_orm::Select<E>,
    column: K,
    page: &PageRequest,
) -> sea_orm::Select<E>
where
    E: sea_orm::EntityTrait,
    K: sea_orm::ColumnTrait,
{
    use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
    let query = match cursor_id(page) {
        Some(after) if ascending(page) => query.filter(column.gt(after)),
        Some(after) => query.filter(column.lt(after)),
        None => query,
    };
    let query = if ascending(page) {
        query.order_by_asc(column)
    } else {
        query.order_by_desc(column)
    };
    query.limit(overfetch(page))
}

/// Rows to fetch for a page: one more than the limit, to learn whether more follow.
pub(crate) fn overfetch(page: &PageRequest) -> u64 {
    u64::from(page.limit) + 1
}

/// Whether the keyset comparison for `page` is "greater than" (ascending).
pub(crate) fn ascending(page: &PageRequest) -> bool {
    page.order == Order::Asc
}

/// The id after which a page starts.
pub(crate) fn cursor_id(page: &PageRequest) -> Option<uuid::Uuid> {
    page.cursor.as_ref().map(|cursor: &Cursor| cursor.id)
}
