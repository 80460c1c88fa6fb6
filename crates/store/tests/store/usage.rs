//! Usage roll-ups on SQLite and on PostgreSQL: sums per model, per UTC day
//! and per user, the org and user scopes, and date bounds. On PostgreSQL the
//! database's time zone is set far from UTC first, so a day bucketed in the
//! session's zone instead of UTC would show.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use xl_domain::{CompletionId, Email, OrgId, Role, UserId};
use xl_store::repo;
use xl_store::repo::completions::CompletionRecord;
use xl_store::repo::usage::{CallGrouping, CallSums, UsageFilter};
use xl_store::testing::PostgresTestDb;
use xl_store::{Store, StoreConfig};

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    store.migrate_up(None).await.unwrap();
    scenario(&store).await;
    store.close().await.unwrap();
}

#[tokio::test]
async fn postgres() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    // Sessions of this database default to a zone where 04:30 UTC is still
    // the previous day.
    let admin = Database::connect(db.url.as_str()).await.unwrap();
    admin
        .execute_unprepared(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone TO %L', \
             current_database(), 'America/New_York'); END $$",
        )
        .await
        .unwrap();
    admin.close().await.unwrap();
    let store = Store::connect(&StoreConfig::new(db.url.clone()))
        .await
        .unwrap();
    store.migrate_up(None).await.unwrap();
    scenario(&store).await;
    store.close().await.unwrap();
    db.drop_database().await.unwrap();
}

async fn org(store: &Store, slug: &str) -> OrgId {
    repo::orgs::find_or_create(store.writer(), slug)
        .await
        .unwrap()
        .id
}

async fn user(store: &Store, org: OrgId, email: &str) -> UserId {
    repo::users::insert(
        store.writer(),
        repo::users::NewUserRow {
            org_id: org,
            subject: None,
            email: Email::parse(email).unwrap(),
            name: email.split('@').next().unwrap().to_owned(),
            role: Role::User,
            avatar_url: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn call(store: &Store, org: OrgId, user: UserId, at: &str, model: &str, cost: u64) {
    let created_at: DateTime<Utc> = at.parse().unwrap();
    repo::completions::insert(
        store.writer(),
        CompletionRecord {
            id: CompletionId::new(),
            org_id: org,
            user_id: Some(user),
            api_key_id: None,
            thread_id: None,
            message_id: None,
            model: model.to_owned(),
            provider: "openai".to_owned(),
            stream: true,
            status: if cost == 0 { "failed" } else { "complete" }.to_owned(),
            request: json!({}),
            response: None,
            error: None,
            prompt_tokens: 10,
            completion_tokens: 2,
            cost_micros: cost,
            latency_ms: 5,
            first_byte_ms: Some(1),
            created_at,
        },
    )
    .await
    .unwrap();
}

fn filter(org: OrgId, user: Option<UserId>) -> UsageFilter {
    UsageFilter {
        org_id: org,
        user_id: user,
        thread_id: None,
        from: None,
        to: None,
    }
}

async fn scenario(store: &Store) {
    let acme = org(store, "acme").await;
    let other = org(store, "other").await;
    let ann = user(store, acme, "ann@acme.io").await;
    let ben = user(store, acme, "ben@acme.io").await;
    let oz = user(store, other, "oz@other.org").await;
    call(store, acme, ann, "2026-02-28T20:00:00Z", "gpt-4o", 1_000).await;
    // 23:30 in New York, already the 1st in UTC.
    call(store, acme, ann, "2026-03-01T04:30:00Z", "gpt-4o", 2_000).await;
    call(store, acme, ann, "2026-03-01T05:00:00Z", "o3", 0).await;
    call(store, acme, ben, "2026-03-01T06:00:00Z", "o3", 4_000).await;
    call(store, other, oz, "2026-03-01T06:00:00Z", "o3", 8_000).await;
    let db = store.reader();

    let totals = repo::usage::call_totals(db, &filter(acme, None))
        .await
        .unwrap();
    assert_eq!(
        totals,
        CallSums {
            requests: 4,
            complete: 3,
            failed: 1,
            cancelled: 0,
            prompt_tokens: 40,
            completion_tokens: 8,
            cost_micros: 7_000,
        }
    );
    let days = repo::usage::calls_by(db, &filter(acme, Some(ann)), CallGrouping::Day)
        .await
        .unwrap();
    let days: Vec<(&str, u64, u64)> = days
        .iter()
        .map(|(day, sums)| (day.as_str(), sums.requests, sums.cost_micros))
        .collect();
    assert_eq!(days, [("2026-02-28", 1, 1_000), ("2026-03-01", 2, 2_000)]);

    let models = repo::usage::calls_by(db, &filter(acme, None), CallGrouping::Model)
        .await
        .unwrap();
    let models: Vec<(&str, u64, u64)> = models
        .iter()
        .map(|(model, sums)| (model.as_str(), sums.requests, sums.cost_micros))
        .collect();
    assert_eq!(models, [("gpt-4o", 2, 3_000), ("o3", 2, 4_000)]);

    let mut users = repo::usage::calls_by_user(db, &filter(acme, None))
        .await
        .unwrap();
    users.sort_by_key(|(user, _)| *user);
    let mut expected = vec![(ann, 3_000), (ben, 4_000)];
    expected.sort();
    let users: Vec<(UserId, u64)> = users
        .iter()
        .map(|(user, sums)| (*user, sums.cost_micros))
        .collect();
    assert_eq!(users, expected);

    // Bounds: `from` inclusive, `to` exclusive.
    let bounded = UsageFilter {
        from: Some("2026-03-01T04:30:00Z".parse().unwrap()),
        to: Some("2026-03-01T06:00:00Z".parse().unwrap()),
        ..filter(acme, None)
    };
    let sums = repo::usage::call_totals(db, &bounded).await.unwrap();
    assert_eq!((sums.requests, sums.cost_micros), (2, 2_000));

    // Another org's rows never count, and an empty range sums to zero.
    let theirs = repo::usage::call_totals(db, &filter(other, None))
        .await
        .unwrap();
    assert_eq!((theirs.requests, theirs.cost_micros), (1, 8_000));
    let nobody = repo::usage::call_totals(db, &filter(other, Some(ann)))
        .await
        .unwrap();
    assert_eq!(nobody, CallSums::default());
    let records = repo::usage::calls(db, &filter(acme, Some(ann)), 2)
        .await
        .unwrap();
    assert_eq!(records.len(), 2, "limited");
    assert_eq!(records[0].model, "o3", "newest first");
    assert_eq!(records[0].first_byte_ms, Some(1));
}
