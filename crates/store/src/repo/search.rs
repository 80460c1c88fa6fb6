//! Full-text search over the threads a user is a member of and the messages
//! in them: FTS5 with bm25 on SQLite, `tsvector` with `ts_rank` on
//! PostgreSQL (the indexes are built by migration `m0005_search`).
//!
//! Scope is decided here in SQL, like the thread list: only threads of the
//! org that the user is a member of (being an org administrator is not
//! enough; search covers the caller's own threads), never deleted threads,
//! never tombstoned messages.
//!
//! Hits are ordered best first, then by id, and paged by keyset on that pair
//! (the rank rides in the cursor's key). Ranks are recomputed by each query,
//! so pages are stable while the index is unchanged; writes between two
//! pages can move hits across the boundary, as with any ranked listing.
//!
//! Snippets are built with private-use sentinel characters around the
//! matches, then HTML-escaped here, and only then are the sentinels turned
//! into `<mark>` tags, so message text can never inject markup.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Statement, Value as DbValue,
};
use uuid::Uuid;
use xl_domain::search::{HitKind, SearchHit, SearchPage, SearchQuery};
use xl_domain::{MessageId, MessageRole, OrgId, Page, ThreadId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::thread_members;
use crate::error::OrmResult;

/// Opens a match in raw snippets (a private-use character, so it cannot be
/// confused with anything the index returns as text).
const OPEN: char = '\u{E000}';
/// Closes a match in raw snippets.
const CLOSE: char = '\u{E001}';

/// The PostgreSQL text search configuration; it must be the one the
/// migration builds the `search_vector` columns with.
const PG_CONFIG: &str = "english";

/// How much more a thread's title and description weigh than message text
/// in bm25 on SQLite (PostgreSQL weighs them with `setweight` A and B), so a
/// title naming the term outranks a passing mention in a message.
const SQLITE_TITLE_WEIGHT: f64 = 10.0;
/// See [`SQLITE_TITLE_WEIGHT`].
const SQLITE_DESCRIPTION_WEIGHT: f64 = 4.0;

/// Tokens in an FTS5 snippet.
const SQLITE_SNIPPET_TOKENS: u32 = 24;

/// Collects bound values and writes the backend's placeholders; SQL is built
/// in textual order, which SQLite's positional `?` requires.
struct Binder {
    backend: DbBackend,
    values: Vec<DbValue>,
}

impl Binder {
    fn new(backend: DbBackend) -> Self {
        Binder {
            backend,
            values: Vec::new(),
        }
    }

    fn bind(&mut self, value: impl Into<DbValue>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// The caller and the filters, as every branch of the query needs them.
struct Scope<'a> {
    org: OrgId,
    user: UserId,
    query: &'a SearchQuery,
}

impl Scope<'_> {
    /// Conditions on the message alias `m` and thread alias `t` (member `tm`).
    fn message_conditions(&self, b: &mut Binder) -> String {
        let mut sql = format!(
            " AND tm.user_id = {} AND m.org_id = {} AND t.org_id = {} \
              AND m.deleted_at IS NULL AND t.deleted_at IS NULL",
            b.bind(self.user.as_uuid()),
            b.bind(self.org.as_uuid()),
            b.bind(self.org.as_uuid()),
        );
        if let Some(thread) = self.query.thread_id {
            sql += &format!(" AND m.thread_id = {}", b.bind(thread.as_uuid()));
        }
        if let Some(role) = self.query.role {
            sql += &format!(" AND m.role = {}", b.bind(role.as_str()));
        }
        sql += &self.date_conditions(b, "m");
        sql
    }

    /// Conditions on the thread alias `t` (member `tm`).
    fn thread_conditions(&self, b: &mut Binder) -> String {
        let mut sql = format!(
            " AND tm.user_id = {} AND t.org_id = {} AND t.deleted_at IS NULL",
            b.bind(self.user.as_uuid()),
            b.bind(self.org.as_uuid()),
        );
        if let Some(thread) = self.query.thread_id {
            sql += &format!(" AND t.id = {}", b.bind(thread.as_uuid()));
        }
        sql += &self.date_conditions(b, "t");
        sql
    }

    fn date_conditions(&self, b: &mut Binder, alias: &str) -> String {
        let mut sql = String::new();
        if let Some(from) = self.query.from {
            sql += &format!(" AND {alias}.created_at >= {}", b.bind(from));
        }
        if let Some(to) = self.query.to {
            sql += &format!(" AND {alias}.created_at < {}", b.bind(to));
        }
        sql
    }

    /// Thread hits are left out when only messages of a role are wanted.
    fn wants_threads(&self) -> bool {
        self.query.role.is_none()
    }
}

/// The keyset condition on the alias `h` and the page size.
fn keyset_and_limit(b: &mut Binder, page: &SearchPage) -> String {
    let condition = match page.after {
        Some(after) => format!(
            "WHERE (h.rank < {} OR (h.rank = {} AND h.id > {}))",
            b.bind(after.rank),
            b.bind(after.rank),
            b.bind(after.id),
        ),
        None => String::new(),
    };
    format!(
        "{condition} ORDER BY h.rank DESC, h.id ASC LIMIT {}",
        b.bind(i64::from(page.limit) + 1)
    )
}

/// An FTS5 query requiring every term: each term is one double-quoted string
/// (quotes inside doubled), which FTS5 reads as a phrase of the tokens in it
/// and never as syntax (`AND`, `NEAR(`, `col:`, `*`, `^`).
fn fts5_query(terms: &[&str]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Threads a caller may be in before the index is narrowed by org alone
/// (an FTS5 OR of that many thread tokens stays cheap).
const SQLITE_SCOPE_THREADS: usize = 256;

/// The FTS5 query of the hit list: the words in the text columns, and the
/// caller's org (and threads, when few) in the `scope` column, so the index
/// itself narrows the match to what the caller may see (m0009).
fn scoped_fts5_query(
    terms: &[&str],
    org: OrgId,
    threads: Option<&[Uuid]>,
    text_columns: &str,
) -> String {
    let mut query = format!(
        "scope : \"o{}\" AND {{{text_columns}}} : ({})",
        org.as_uuid().simple(),
        fts5_query(terms)
    );
    if let Some(threads) = threads {
        let tokens = threads
            .iter()
            .map(|id| format!("\"t{}\"", id.simple()))
            .collect::<Vec<_>>()
            .join(" OR ");
        query += &format!(" AND scope : ({tokens})");
    }
    query
}

fn sqlite_statement(
    scope: &Scope<'_>,
    terms: &[&str],
    page: &SearchPage,
    threads: Option<&[Uuid]>,
) -> Statement {
    let fts = fts5_query(terms);
    let messages_match = scoped_fts5_query(terms, scope.org, threads, "body");
    let threads_match = scoped_fts5_query(terms, scope.org, threads, "title description");
    let mut b = Binder::new(DbBackend::Sqlite);
    let tokens = SQLITE_SNIPPET_TOKENS;
    let mut sql = format!(
        "SELECT hits.kind, hits.id, hits.thread_id, hits.role, hits.created_at, \
           hits.thread_title, hits.rank, \
           CASE hits.kind \
             WHEN 'message' THEN (SELECT snippet(messages_fts, 0, '{OPEN}', '{CLOSE}', '…', {tokens}) \
               FROM messages_fts WHERE messages_fts MATCH {} AND rowid = hits.fts_rowid) \
             ELSE (SELECT snippet(threads_fts, -1, '{OPEN}', '{CLOSE}', '…', {tokens}) \
               FROM threads_fts WHERE threads_fts MATCH {} AND rowid = hits.fts_rowid) \
           END AS snippet \
         FROM (SELECT * FROM (",
        b.bind(fts.clone()),
        b.bind(fts.clone()),
    );
    // bm25 is lower-is-better (and negative); negated, every rank in the
    // API is higher-is-better on both backends.
    // `CROSS JOIN` fixes SQLite's join order: the full-text match drives and
    // each match costs primary-key lookups. Left to itself (no statistics),
    // the planner starts from the org's threads and runs the match once per
    // message the user can see, which grows with the corpus, not the hits.
    sql += &format!(
        "SELECT 'message' AS kind, m.id AS id, m.thread_id AS thread_id, m.role AS role, \
           m.created_at AS created_at, t.title AS thread_title, \
           -bm25(messages_fts, 1.0, 0.0) AS rank, messages_fts.rowid AS fts_rowid \
         FROM messages_fts \
         CROSS JOIN messages_fts_keys AS k ON k.fts_rowid = messages_fts.rowid \
         CROSS JOIN messages AS m ON m.id = k.message_id \
         CROSS JOIN threads AS t ON t.id = m.thread_id \
         CROSS JOIN thread_members AS tm ON tm.thread_id = t.id \
         WHERE messages_fts MATCH {}",
        b.bind(messages_match),
    );
    sql += &scope.message_conditions(&mut b);
    if scope.wants_threads() {
        sql += &format!(
            " UNION ALL \
             SELECT 'thread', t.id, t.id, NULL, t.created_at, t.title, \
               -bm25(threads_fts, {SQLITE_TITLE_WEIGHT:.1}, {SQLITE_DESCRIPTION_WEIGHT:.1}, 0.0), \
               threads_fts.rowid \
             FROM threads_fts \
             CROSS JOIN threads_fts_keys AS k ON k.fts_rowid = threads_fts.rowid \
             CROSS JOIN threads AS t ON t.id = k.thread_id \
             CROSS JOIN thread_members AS tm ON tm.thread_id = t.id \
             WHERE threads_fts MATCH {}",
            b.bind(threads_match),
        );
        sql += &scope.thread_conditions(&mut b);
    }
    sql += ") AS h ";
    sql += &keyset_and_limit(&mut b, page);
    sql += ") AS hits ORDER BY hits.rank DESC, hits.id ASC";
    b.statement(sql)
}

fn postgres_statement(scope: &Scope<'_>, terms: &[&str], page: &SearchPage) -> Statement {
    let mut b = Binder::new(DbBackend::Postgres);
    // `plainto_tsquery` reads any text as words joined by AND (no operators),
    // so user input can never be a syntax error; the terms are the caller's
    // words with control characters and punctuation-only tokens dropped.
    let mut sql = format!(
        "WITH query AS (SELECT plainto_tsquery('{PG_CONFIG}'::regconfig, {}) AS q), \
         hits AS (",
        b.bind(terms.join(" ")),
    );
    sql += "SELECT 'message'::text AS kind, m.id AS id, m.thread_id AS thread_id, \
              m.role::text AS role, m.created_at AS created_at, t.title::text AS thread_title, \
              ts_rank(m.search_vector, query.q, 1)::float8 AS rank \
            FROM query, messages AS m \
            JOIN threads AS t ON t.id = m.thread_id \
            JOIN thread_members AS tm ON tm.thread_id = t.id \
            WHERE m.search_vector @@ query.q";
    sql += &scope.message_conditions(&mut b);
    if scope.wants_threads() {
        sql += " UNION ALL \
                SELECT 'thread'::text, t.id, t.id, NULL::text, t.created_at, t.title::text, \
                  ts_rank(t.search_vector, query.q, 1)::float8 \
                FROM query, threads AS t \
                JOIN thread_members AS tm ON tm.thread_id = t.id \
                WHERE t.search_vector @@ query.q";
        sql += &scope.thread_conditions(&mut b);
    }
    sql += "), page AS (SELECT * FROM hits AS h ";
    sql += &keyset_and_limit(&mut b, page);
    // Headlines are the expensive part, so they are made for the page only.
    let options = format!(
        "StartSel={OPEN}, StopSel={CLOSE}, MaxWords=24, MinWords=8, MaxFragments=2, \
         FragmentDelimiter=\" … \""
    );
    sql += &format!(
        ") SELECT page.kind, page.id, page.thread_id, page.role, page.created_at, \
           page.thread_title, page.rank, \
           CASE page.kind \
             WHEN 'message' THEN (SELECT ts_headline('{PG_CONFIG}'::regconfig, \
                 m.content || E'\\n' || coalesce((SELECT string_agg(x, E'\\n') \
                   FROM jsonb_array_elements_text(jsonb_path_query_array(m.blocks, \
                     'strict $.**.text ? (@.type() == \"string\")')) AS x), ''), \
                 query.q, {}) \
               FROM messages AS m WHERE m.id = page.id) \
             ELSE (SELECT ts_headline('{PG_CONFIG}'::regconfig, \
                 coalesce(t.title, '') || E'\\n' || coalesce(t.description, ''), query.q, {}) \
               FROM threads AS t WHERE t.id = page.id) \
           END AS snippet \
         FROM page, query ORDER BY page.rank DESC, page.id ASC",
        b.bind(options.clone()),
        b.bind(options),
    );
    b.statement(sql)
}

#[derive(FromQueryResult)]
struct HitRow {
    kind: String,
    id: Uuid,
    thread_id: Uuid,
    role: Option<String>,
    created_at: DateTime<Utc>,
    thread_title: Option<String>,
    rank: f64,
    snippet: Option<String>,
}

fn to_domain(row: HitRow) -> Result<SearchHit, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("search hit {}: {what}", row.id));
    let (kind, message_id) = match row.kind.as_str() {
        "message" => (HitKind::Message, Some(MessageId::from_uuid(row.id))),
        "thread" => (HitKind::Thread, None),
        _ => return Err(corrupt("unknown kind")),
    };
    let role = row
        .role
        .as_deref()
        .map(str::parse::<MessageRole>)
        .transpose()
        .map_err(|err| corrupt(&err.to_string()))?;
    Ok(SearchHit {
        kind,
        thread_id: ThreadId::from_uuid(row.thread_id),
        message_id,
        role,
        snippet: render_snippet(row.snippet.as_deref().unwrap_or_default()),
        rank: row.rank,
        created_at: row.created_at,
        thread_title: row.thread_title,
    })
}

/// Turns a raw snippet (matches between [`OPEN`] and [`CLOSE`]) into HTML:
/// text escaped, matches in `<mark>`, runs of whitespace folded to one space.
/// Sentinels typed by a user can at worst add a balanced highlight, since a
/// stray open or close is ignored and an open mark is always closed.
fn render_snippet(raw: &str) -> String {
    let mut html = String::with_capacity(raw.len() + 16);
    let mut open = false;
    let mut space = false;
    for c in raw.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            html.push(' ');
            space = false;
        }
        match c {
            OPEN if !open => {
                html.push_str("<mark>");
                open = true;
            }
            CLOSE if open => {
                html.push_str("</mark>");
                open = false;
            }
            OPEN | CLOSE => {}
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            other => html.push(other),
        }
    }
    if open {
        html.push_str("</mark>");
    }
    html
}

/// The threads `user` is a member of, when there are few enough to name in
/// the index query.
async fn member_threads<C: Conn>(db: &C, user: UserId) -> Result<Option<Vec<Uuid>>, StoreError> {
    let members = thread_members::Entity::find()
        .filter(thread_members::Column::UserId.eq(user.as_uuid()))
        .limit(SQLITE_SCOPE_THREADS as u64 + 1)
        .all(db.orm())
        .await
        .into_store()?;
    if members.len() > SQLITE_SCOPE_THREADS {
        return Ok(None);
    }
    Ok(Some(members.into_iter().map(|m| m.thread_id).collect()))
}

/// One page of the hits for `query` among the threads `user` is a member of
/// in `org`, best first.
pub async fn search<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    query: &SearchQuery,
    page: &SearchPage,
) -> Result<Page<SearchHit>, StoreError> {
    let terms = query.text.terms();
    let cursor_of = |hit: &SearchHit| hit.position().cursor();
    if terms.is_empty() {
        return Ok(Page::from_overfetch(Vec::new(), page.limit, cursor_of));
    }
    let scope = Scope { org, user, query };
    let statement = match db.orm().get_database_backend() {
        DbBackend::Postgres => postgres_statement(&scope, &terms, page),
        _ => {
            let threads = match query.thread_id {
                Some(thread) => Some(vec![thread.as_uuid()]),
                None => member_threads(db, user).await?,
            };
            if threads.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Page::from_overfetch(Vec::new(), page.limit, cursor_of));
            }
            sqlite_statement(&scope, &terms, page, threads.as_deref())
        }
    };
    let hits = HitRow::find_by_statement(statement)
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(hits, page.limit, cursor_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_one_quoted_string() {
        assert_eq!(
            fts5_query(&["deploy", "say\"hi", "NEAR(", "col:val"]),
            r#""deploy" "say""hi" "NEAR(" "col:val""#
        );
    }

    #[test]
    fn snippets_are_escaped_and_marked() {
        let raw = format!("  <b>x</b> & {OPEN}deploy{CLOSE}\n\n 'now' \"ok\"  ");
        assert_eq!(
            render_snippet(&raw),
            "&lt;b&gt;x&lt;/b&gt; &amp; <mark>deploy</mark> &#39;now&#39; &quot;ok&quot;"
        );
    }

    #[test]
    fn stray_sentinels_cannot_unbalance_the_marks() {
        let raw = format!("{CLOSE}a {OPEN}b {OPEN}c{CLOSE} d {OPEN}e");
        assert_eq!(render_snippet(&raw), "a <mark>b c</mark> d <mark>e</mark>");
    }

    proptest::proptest! {
        /// Snippets of any text, sentinels included, render without panicking
        /// and with balanced marks.
        #[test]
        fn snippets_of_any_text_render(text in "[\\PC\u{E000}\u{E001}]{0,80}") {
            let html = render_snippet(&text);
            proptest::prop_assert_eq!(html.matches("<mark>").count(), html.matches("</mark>").count());
        }
    }
}
