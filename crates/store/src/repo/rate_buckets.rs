//! Rate-limit buckets kept in the database, so that every replica takes
//! from the same ones. Each is a GCRA cell: its row holds the theoretical
//! arrival time (`tat`, microseconds since the epoch) of the next unit; a
//! take of `n` units moves it `n × interval` past the later of itself and
//! now, and is admitted only if that lands within `window` of now. The
//! whole decision is one conditional upsert, so concurrent takes from any
//! number of processes serialise on the row and none is lost.

use sea_orm::{ConnectionTrait, DbBackend};

use crate::error::OrmResult;
use crate::{Conn, StoreError};

/// What a take found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Admitted; the bucket's arrival time is now this.
    Admitted { tat: i64 },
    /// Refused; the bucket's arrival time stays this.
    Refused { tat: i64 },
}

/// Takes `n × interval` from the bucket `key` at `now` (all microseconds),
/// admitted if the bucket then reaches no further than `window` past now.
pub async fn take<C: Conn>(
    db: &C,
    key: &str,
    now: i64,
    cost: i64,
    window: i64,
) -> Result<Take, StoreError> {
    let backend = db.orm().get_database_backend();
    let later = match backend {
        DbBackend::Postgres => "GREATEST",
        _ => "MAX",
    };
    // `$2 + $3 <= $2 + $4` for a new bucket: a take larger than the whole
    // window is refused even then.
    let sql = format!(
        "INSERT INTO rate_buckets (key, tat) SELECT $1, $2 + $3 WHERE $3 <= $4 \
         ON CONFLICT (key) DO UPDATE SET tat = {later}(rate_buckets.tat, $2) + $3 \
         WHERE {later}(rate_buckets.tat, $2) + $3 - $4 <= $2 \
         RETURNING tat"
    );
    let admitted = db
        .orm()
        .query_one_raw(super::raw(
            backend,
            &sql,
            vec![key.into(), now.into(), cost.into(), window.into()],
        ))
        .await
        .into_store()?;
    if let Some(row) = admitted {
        return Ok(Take::Admitted {
            tat: row.try_get("", "tat").into_store()?,
        });
    }
    let current = db
        .orm()
        .query_one_raw(super::raw(
            backend,
            "SELECT tat FROM rate_buckets WHERE key = $1",
            vec![key.into()],
        ))
        .await
        .into_store()?;
    let tat = match current {
        Some(row) => row.try_get("", "tat").into_store()?,
        None => now,
    };
    Ok(Take::Refused { tat })
}

/// Forgets buckets full again before `now` (their arrival time has passed:
/// a fresh row would behave the same). Returns how many went.
pub async fn forget_full<C: Conn>(db: &C, now: i64) -> Result<u64, StoreError> {
    let backend = db.orm().get_database_backend();
    let result = db
        .orm()
        .execute_raw(super::raw(
            backend,
            "DELETE FROM rate_buckets WHERE tat < $1",
            vec![now.into()],
        ))
        .await
        .into_store()?;
    Ok(result.rows_affected())
}
