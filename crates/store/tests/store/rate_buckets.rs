//! Shared rate-limit buckets on SQLite and on PostgreSQL: a bucket admits
//! its window's worth, refuses the next with its arrival time, refills with
//! time, refuses a take larger than the window, and full buckets are
//! forgotten.

use xl_store::Store;
use xl_store::repo::rate_buckets::{self, Take};

on_both_engines!(
    buckets_on_sqlite,
    buckets_on_postgres,
    a_bucket_admits_its_window_then_refills
);

const SECOND: i64 = 1_000_000;

async fn a_bucket_admits_its_window_then_refills(store: &Store) {
    let db = store.writer();
    // Three a minute: each take moves the bucket 20 s on.
    let (window, cost, t0) = (60 * SECOND, 20 * SECOND, 1_000_000 * SECOND);
    for n in 1..=3 {
        assert_eq!(
            rate_buckets::take(db, "user-writes:ada", t0, cost, window)
                .await
                .unwrap(),
            Take::Admitted { tat: t0 + n * cost },
            "take {n}"
        );
    }
    assert_eq!(
        rate_buckets::take(db, "user-writes:ada", t0, cost, window)
            .await
            .unwrap(),
        Take::Refused { tat: t0 + 3 * cost }
    );
    // Another key is another bucket.
    assert!(matches!(
        rate_buckets::take(db, "user-writes:bob", t0, cost, window)
            .await
            .unwrap(),
        Take::Admitted { .. }
    ));
    // 20 s later one unit is back.
    assert_eq!(
        rate_buckets::take(db, "user-writes:ada", t0 + cost, cost, window)
            .await
            .unwrap(),
        Take::Admitted { tat: t0 + 4 * cost }
    );
    // More than the window holds is refused, even from a fresh bucket.
    assert!(matches!(
        rate_buckets::take(db, "user-tokens:cy", t0, 2 * window, window)
            .await
            .unwrap(),
        Take::Refused { .. }
    ));
    // Once full again (the arrival time passed), a bucket is forgotten.
    assert_eq!(
        rate_buckets::forget_full(db, t0 + 2 * window)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        rate_buckets::take(db, "user-writes:ada", t0 + 2 * window, cost, window)
            .await
            .unwrap(),
        Take::Admitted { .. }
    ));
}
