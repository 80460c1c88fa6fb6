//! Rate limits and budgets: how much a user and an org may ask of the
//! server, decided before the work is done.
//!
//! - Requests: token buckets per user and per org for each class of request
//!   (reads, writes, model calls), kept in this process (governor's keyed
//!   GCRA buckets). A refusal names the bucket and when it admits again.
//! - Tokens: the prompt tokens of model calls per minute, per user and per
//!   org, taken from the same kind of bucket when a call starts.
//! - Budgets: a monthly spend cap per org and per user in micro-USD, the
//!   registry's currency, checked against what `completions` recorded this
//!   calendar month (UTC), read at most every few seconds per org and user.
//!
//! The buckets are this process's by default: with N replicas a caller gets
//! up to N times a bucket's rate. With [`LimitsConfig::shared`] they are rows
//! in the database instead (`repo::rate_buckets`, the same GCRA as one
//! conditional upsert per bucket), so every replica on one PostgreSQL takes
//! from the same buckets, at the price of a round trip per bucket and
//! request; should the database fail to answer, the request is admitted
//! (the limit is a guard, and the request itself will meet the failure).
//! Budgets are always shared, since they read the database.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::Serialize;
use xl_domain::{Actor, OrgId, UserId};
use xl_store::repo;

use crate::{ServiceError, Services};

/// How long a budget's spend, once read, is trusted.
const SPEND_FRESH_FOR: Duration = Duration::from_secs(5);

/// What kind of request is being made, for its bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestClass {
    /// Reading (GET, HEAD).
    Read,
    /// Changing something.
    Write,
    /// Asking a model (chat completions, responses, regenerations).
    Model,
}

impl RequestClass {
    fn name(self) -> &'static str {
        match self {
            RequestClass::Read => "reads",
            RequestClass::Write => "writes",
            RequestClass::Model => "model",
        }
    }
}

/// Requests per minute for each class; 0 turns a bucket off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerMinute {
    /// Reads.
    pub reads: u32,
    /// Writes.
    pub writes: u32,
    /// Model calls.
    pub model: u32,
    /// Prompt tokens of model calls.
    pub tokens: u32,
}

impl PerMinute {
    /// No limits.
    pub const OFF: PerMinute = PerMinute {
        reads: 0,
        writes: 0,
        model: 0,
        tokens: 0,
    };

    fn of(&self, class: RequestClass) -> u32 {
        match class {
            RequestClass::Read => self.reads,
            RequestClass::Write => self.writes,
            RequestClass::Model => self.model,
        }
    }
}

/// The limits of an installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Per user.
    pub user: PerMinute,
    /// Per org (all its users together).
    pub org: PerMinute,
    /// Monthly spend cap per org, in micro-USD (`None`: none).
    pub org_monthly_budget_micros: Option<i64>,
    /// Monthly spend cap per user, in micro-USD (`None`: none).
    pub user_monthly_budget_micros: Option<i64>,
    /// Whether the buckets are kept in the database, shared by every
    /// process on it, rather than in this process.
    pub shared: bool,
}

impl Default for LimitsConfig {
    /// No limits (embedders and tests opt in; the server sets its own).
    fn default() -> Self {
        LimitsConfig {
            user: PerMinute::OFF,
            org: PerMinute::OFF,
            org_monthly_budget_micros: None,
            user_monthly_budget_micros: None,
            shared: false,
        }
    }
}

/// A minute, the window of every bucket, in microseconds.
const WINDOW_MICROS: i64 = 60_000_000;

/// One bucket's state after a request it admitted, for `RateLimit` headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BucketState {
    /// The policy's name (`user-reads`, `org-model`, …).
    pub policy: String,
    /// Requests per window.
    pub quota: u32,
    /// The window, in seconds.
    pub window_secs: u32,
    /// What is left now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u32,
}

/// A request refused by a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The bucket that refused, as it stands.
    pub bucket: BucketState,
    /// When to try again.
    pub retry_after: Duration,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rate limit {} of {} per {} s reached; retry in {} s",
            self.bucket.policy,
            self.bucket.quota,
            self.bucket.window_secs,
            self.retry_after.as_secs().max(1)
        )
    }
}

type Keyed<K> = RateLimiter<K, DashMapStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// A bucket per key, or none when its limit is 0.
struct Bucket<K: std::hash::Hash + Eq + Clone> {
    name: String,
    quota: u32,
    limiter: Option<Keyed<K>>,
}

impl<K: std::hash::Hash + Eq + Clone> Bucket<K> {
    fn new(name: String, per_minute: u32, clock: &DefaultClock) -> Self {
        let limiter = NonZeroU32::new(per_minute)
            .map(|n| RateLimiter::dashmap_with_clock(Quota::per_minute(n), clock.clone()))
            .map(RateLimiter::with_middleware::<StateInformationMiddleware>);
        Bucket {
            name,
            quota: per_minute,
            limiter,
        }
    }

    fn state(&self, remaining: u32) -> BucketState {
        // A GCRA bucket refills one unit every `60 / quota` seconds.
        let reset =
            u64::from(self.quota.saturating_sub(remaining)) * 60 / u64::from(self.quota.max(1));
        BucketState {
            policy: self.name.clone(),
            quota: self.quota,
            window_secs: 60,
            remaining,
            reset_secs: u32::try_from(reset).unwrap_or(u32::MAX),
        }
    }

    /// Takes `n` units for `key`.
    fn take(&self, key: &K, n: u32, clock: &DefaultClock) -> Result<Option<BucketState>, Refused> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(None);
        };
        match limiter.check_key_n(key, n) {
            Ok(Ok(snapshot)) => Ok(Some(self.state(snapshot.remaining_burst_capacity()))),
            Ok(Err(not_until)) => Err(Refused {
                bucket: self.state(0),
                retry_after: not_until.wait_time_from(clock.now()),
            }),
            // More than the bucket ever holds: it can never be admitted.
            Err(_) => Err(Refused {
                bucket: self.state(0),
                retry_after: Duration::from_secs(60),
            }),
        }
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// A spend read from the database, and when.
#[derive(Clone, Copy, Debug)]
struct Spend {
    micros: i64,
    read_at: Instant,
    month: (i32, u32),
}

/// The buckets and the spend cache of this process.
pub struct Limiter {
    config: LimitsConfig,
    clock: DefaultClock,
    user: [Bucket<UserId>; 3],
    org: [Bucket<OrgId>; 3],
    user_tokens: Bucket<UserId>,
    org_tokens: Bucket<OrgId>,
    spend: Mutex<std::collections::HashMap<(OrgId, Option<UserId>), Spend>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const CLASSES: [RequestClass; 3] = [RequestClass::Read, RequestClass::Write, RequestClass::Model];

impl Limiter {
    /// Buckets for these limits.
    pub fn new(config: LimitsConfig) -> Self {
        let clock = DefaultClock::default();
        let user = CLASSES.map(|class| {
            Bucket::new(
                format!("user-{}", class.name()),
                config.user.of(class),
                &clock,
            )
        });
        let org = CLASSES.map(|class| {
            Bucket::new(
                format!("org-{}", class.name()),
                config.org.of(class),
                &clock,
            )
        });
        Limiter {
            user_tokens: Bucket::new("user-tokens".into(), config.user.tokens, &clock),
            org_tokens: Bucket::new("org-tokens".into(), config.org.tokens, &clock),
            config,
            clock,
            user,
            org,
            spend: Mutex::default(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    /// Admits one request of `class` for the caller, or says which bucket
    /// refuses it; on admission, the state of the buckets it took from.
    pub fn admit(&self, actor: &Actor, class: RequestClass) -> Result<Vec<BucketState>, Refused> {
        let index = CLASSES.iter().position(|c| *c == class).unwrap_or(0);
        let mut states = Vec::with_capacity(2);
        states.extend(self.user[index].take(&actor.user_id, 1, &self.clock)?);
        states.extend(self.org[index].take(&actor.org_id, 1, &self.clock)?);
        Ok(states)
    }

    /// Takes a model call's prompt tokens from the token buckets.
    fn take_tokens(&self, actor: &Actor, tokens: u32) -> Result<(), Refused> {
        self.user_tokens.take(&actor.user_id, tokens, &self.clock)?;
        self.org_tokens.take(&actor.org_id, tokens, &self.clock)?;
        Ok(())
    }

    /// Drops the buckets of callers idle long enough to be full again.
    pub fn forget_idle(&self) {
        for bucket in &self.user {
            bucket.forget_idle();
        }
        for bucket in &self.org {
            bucket.forget_idle();
        }
        self.user_tokens.forget_idle();
        self.org_tokens.forget_idle();
    }

    fn cached_spend(&self, key: (OrgId, Option<UserId>), month: (i32, u32)) -> Option<i64> {
        let spend = self.spend.lock().ok()?;
        let found = spend.get(&key)?;
        (found.month == month && found.read_at.elapsed() < SPEND_FRESH_FOR).then_some(found.micros)
    }

    fn remember_spend(&self, key: (OrgId, Option<UserId>), month: (i32, u32), micros: i64) {
        if let Ok(mut spend) = self.spend.lock() {
            spend.insert(
                key,
                Spend {
                    micros,
                    read_at: Instant::now(),
                    month,
                },
            );
        }
    }

    /// Adds a recorded call's cost to the cached spends, so that calls in
    /// quick succession see each other before the next read.
    pub(crate) fn add_spend(&self, org: OrgId, user: Option<UserId>, micros: i64) {
        if micros == 0 {
            return;
        }
        if let Ok(mut spend) = self.spend.lock() {
            for key in [(org, None), (org, user)] {
                if let Some(found) = spend.get_mut(&key) {
                    found.micros += micros;
                }
            }
        }
    }
}

/// One budget as the usage report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Budget {
    /// `org` or `user`.
    pub scope: &'static str,
    /// The cap, in micro-USD.
    pub limit_micros: i64,
    /// Spent this month, in micro-USD.
    pub spent_micros: i64,
    /// What is left (never below 0).
    pub remaining_micros: i64,
    /// When the month ends and the budget starts again.
    pub resets_at: DateTime<Utc>,
}

/// The first instant of this UTC month and of the next.
fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    (start, next)
}

impl Services {
    /// Admits a request of this class for the caller, or says which bucket
    /// refuses it (see [`Limiter::admit`]); from the shared buckets when the
    /// limits are shared.
    pub async fn admit_request(
        &self,
        actor: &Actor,
        class: RequestClass,
    ) -> Result<Vec<BucketState>, Refused> {
        if !self.limits.config.shared {
            return self.limits.admit(actor, class);
        }
        let index = CLASSES.iter().position(|c| *c == class).unwrap_or(0);
        let mut states = Vec::with_capacity(2);
        states.extend(
            self.take_shared(&self.limits.user[index], actor.user_id, 1)
                .await?,
        );
        states.extend(
            self.take_shared(&self.limits.org[index], actor.org_id, 1)
                .await?,
        );
        Ok(states)
    }

    /// Takes `n` units for `key` from the database's row of `bucket`.
    async fn take_shared<K>(
        &self,
        bucket: &Bucket<K>,
        key: impl std::fmt::Display,
        n: u32,
    ) -> Result<Option<BucketState>, Refused>
    where
        K: std::hash::Hash + Eq + Clone,
    {
        if bucket.quota == 0 || n == 0 {
            return Ok(None);
        }
        let interval = WINDOW_MICROS / i64::from(bucket.quota);
        let cost = interval.saturating_mul(i64::from(n));
        let now = Utc::now().timestamp_micros();
        let row = format!("{}:{key}", bucket.name);
        match repo::rate_buckets::take(self.store.writer(), &row, now, cost, WINDOW_MICROS).await {
            Ok(repo::rate_buckets::Take::Admitted { tat }) => {
                let left = (now + WINDOW_MICROS - tat).max(0) / interval.max(1);
                Ok(Some(bucket.state(u32::try_from(left).unwrap_or(0))))
            }
            Ok(repo::rate_buckets::Take::Refused { tat }) => {
                let wait = (tat.max(now) + cost - WINDOW_MICROS - now).max(0);
                let wait = if cost > WINDOW_MICROS {
                    WINDOW_MICROS
                } else {
                    wait
                };
                Err(Refused {
                    bucket: bucket.state(0),
                    retry_after: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                })
            }
            Err(err) => {
                tracing::warn!(error = %err, bucket = %bucket.name, "a shared rate limit could not be read; admitting");
                Ok(None)
            }
        }
    }

    /// Takes a model call's prompt tokens from the caller's token buckets.
    async fn take_tokens(&self, actor: &Actor, tokens: u32) -> Result<(), Refused> {
        if !self.limits.config.shared {
            return self.limits.take_tokens(actor, tokens);
        }
        self.take_shared(&self.limits.user_tokens, actor.user_id, tokens)
            .await?;
        self.take_shared(&self.limits.org_tokens, actor.org_id, tokens)
            .await?;
        Ok(())
    }

    /// Forgets the shared buckets that are full again (nothing for
    /// in-process buckets, which [`Limiter::forget_idle`] trims).
    pub(crate) async fn forget_full_buckets(&self) -> Result<u64, ServiceError> {
        if !self.limits.config.shared {
            return Ok(0);
        }
        let now = Utc::now().timestamp_micros();
        Ok(repo::rate_buckets::forget_full(self.store.writer(), now).await?)
    }

    /// What the caller has spent this month, within the org and their own.
    async fn spent(&self, org: OrgId, user: Option<UserId>) -> Result<i64, ServiceError> {
        let now = Utc::now();
        let month = (now.year(), now.month());
        if let Some(micros) = self.limits.cached_spend((org, user), month) {
            return Ok(micros);
        }
        let (start, _) = month_bounds(now);
        let filter = repo::usage::UsageFilter {
            org_id: org,
            user_id: user,
            thread_id: None,
            from: Some(start),
            to: None,
        };
        let sums = repo::usage::call_totals(self.store.reader(), &filter).await?;
        let micros = i64::try_from(sums.cost_micros).unwrap_or(i64::MAX);
        self.limits.remember_spend((org, user), month, micros);
        Ok(micros)
    }

    /// The caller's budgets this month (none when no cap is set).
    pub async fn budgets(&self, actor: &Actor) -> Result<Vec<Budget>, ServiceError> {
        let (_, resets_at) = month_bounds(Utc::now());
        let config = self.limits.config();
        let mut budgets = Vec::new();
        for (scope, limit, user) in [
            ("org", config.org_monthly_budget_micros, None),
            (
                "user",
                config.user_monthly_budget_micros,
                Some(actor.user_id),
            ),
        ] {
            let Some(limit) = limit else { continue };
            let spent = self.spent(actor.org_id, user).await?;
            budgets.push(Budget {
                scope,
                limit_micros: limit,
                spent_micros: spent,
                remaining_micros: (limit - spent).max(0),
                resets_at,
            });
        }
        Ok(budgets)
    }

    /// Refuses a model call past a budget or the token buckets: every
    /// model call (chat completions, responses, the assistant's replies)
    /// goes through here before reaching the provider.
    pub(crate) async fn admit_model_call(
        &self,
        actor: &Actor,
        request: &xl_llm::ChatRequest,
    ) -> Result<(), ServiceError> {
        for budget in self.budgets(actor).await? {
            if budget.remaining_micros == 0 {
                return Err(ServiceError::BudgetExceeded(format!(
                    "the {} has spent its monthly budget of {} micro-USD; it starts again at {}",
                    if budget.scope == "org" {
                        "organisation"
                    } else {
                        "user"
                    },
                    budget.limit_micros,
                    budget.resets_at.to_rfc3339()
                )));
            }
        }
        let config = self.limits.config();
        if config.user.tokens == 0 && config.org.tokens == 0 {
            return Ok(());
        }
        let prompt = xl_llm::count_message_tokens(&request.model, &request.messages);
        let tokens = u32::try_from(prompt).unwrap_or(u32::MAX);
        self.take_tokens(actor, tokens)
            .await
            .map_err(ServiceError::RateLimited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(org: OrgId) -> Actor {
        Actor {
            user_id: UserId::new(),
            org_id: org,
            role: xl_domain::Role::User,
            email: xl_domain::Email::parse("a@example.com").unwrap(),
            credential: xl_domain::Credential::Jwt { session: None },
        }
    }

    #[test]
    fn a_bucket_admits_its_quota_then_says_when_to_retry() {
        let limiter = Limiter::new(LimitsConfig {
            user: PerMinute {
                reads: 3,
                ..PerMinute::OFF
            },
            ..LimitsConfig::default()
        });
        let ann = actor(OrgId::new());
        let remaining: Vec<u32> = (0..3)
            .map(|_| limiter.admit(&ann, RequestClass::Read).unwrap()[0].remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limiter.admit(&ann, RequestClass::Read).unwrap_err();
        assert_eq!(refused.bucket.policy, "user-reads");
        assert!(refused.retry_after > Duration::from_secs(15), "{refused}");
        assert!(refused.retry_after <= Duration::from_secs(20), "{refused}");
        // Other classes and other users have buckets of their own.
        assert!(limiter.admit(&ann, RequestClass::Write).unwrap().is_empty());
        assert!(
            limiter
                .admit(&actor(ann.org_id), RequestClass::Read)
                .is_ok()
        );
    }

    #[test]
    fn an_org_bucket_is_shared_by_its_users() {
        let limiter = Limiter::new(LimitsConfig {
            org: PerMinute {
                writes: 2,
                ..PerMinute::OFF
            },
            ..LimitsConfig::default()
        });
        let org = OrgId::new();
        assert!(limiter.admit(&actor(org), RequestClass::Write).is_ok());
        assert!(limiter.admit(&actor(org), RequestClass::Write).is_ok());
        let refused = limiter.admit(&actor(org), RequestClass::Write).unwrap_err();
        assert_eq!(refused.bucket.policy, "org-writes");
        assert!(
            limiter
                .admit(&actor(OrgId::new()), RequestClass::Write)
                .is_ok()
        );
    }

    #[test]
    fn a_call_larger_than_the_token_bucket_is_refused() {
        let limiter = Limiter::new(LimitsConfig {
            user: PerMinute {
                tokens: 1000,
                ..PerMinute::OFF
            },
            ..LimitsConfig::default()
        });
        let ann = actor(OrgId::new());
        assert!(limiter.take_tokens(&ann, 600).is_ok());
        assert!(limiter.take_tokens(&ann, 600).is_err(), "only 400 left");
        assert!(limiter.take_tokens(&ann, 5000).is_err(), "never fits");
    }

    #[test]
    fn months_start_on_the_first_and_december_rolls_over() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
        assert_eq!(
            month_bounds(at(2026, 12, 15)),
            (
                Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
            )
        );
        assert_eq!(
            month_bounds(at(2026, 2, 1)).1,
            at(2026, 3, 1) - chrono::Duration::hours(12)
        );
    }
}
