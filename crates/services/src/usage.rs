//! Usage and cost: the caller's own model calls, or an administrator's whole
//! org, summed per model and per UTC day from the `completions` record, with
//! the messages written beside them.
//!
//! A user sees only rows recorded under their own user id; the system view
//! is for administrators and covers their org only. Both scopes are applied
//! in SQL by `repo::usage`, so nothing outside them is ever read.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::Serialize;
use xl_domain::{Actor, DomainError, OrgId, ThreadId, UserId};
use xl_llm::MICRO_USD_PER_USD;
use xl_store::repo;
use xl_store::repo::usage::{CallGrouping, CallSums, UsageFilter};

use crate::{ServiceError, Services};

/// The filters as they arrive (query-string values), before parsing.
#[derive(Clone, Copy, Debug, Default)]
pub struct UsageParams<'a> {
    /// `from`: RFC 3339 instant or `YYYY-MM-DD` (that day's start, UTC).
    pub from: Option<&'a str>,
    /// `to`: RFC 3339 instant (exclusive) or `YYYY-MM-DD` (that whole day
    /// included).
    pub to: Option<&'a str>,
    /// `thread_id`: only calls made for this thread.
    pub thread_id: Option<&'a str>,
}

/// Parsed filters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Calls at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Calls before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only this thread's calls.
    pub thread_id: Option<ThreadId>,
}

impl UsageQuery {
    /// Parses the filters, naming the first one that is wrong. Empty values
    /// count as absent.
    pub fn parse(params: &UsageParams<'_>) -> Result<Self, DomainError> {
        let from = present(params.from)
            .map(|raw| bound("from", raw, Edge::Start))
            .transpose()?;
        let to = present(params.to)
            .map(|raw| bound("to", raw, Edge::End))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(DomainError::invalid("to", "must be later than from"));
        }
        let thread_id = present(params.thread_id)
            .map(str::parse::<ThreadId>)
            .transpose()?;
        Ok(UsageQuery {
            from,
            to,
            thread_id,
        })
    }
}

fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|raw| !raw.is_empty())
}

/// Which end of a range a bare date stands for.
#[derive(Clone, Copy)]
enum Edge {
    /// The day's first instant.
    Start,
    /// The next day's first instant, so that `to=2026-01-31` includes the
    /// 31st (the bound is exclusive).
    End,
}

fn bound(field: &str, raw: &str, edge: Edge) -> Result<DateTime<Utc>, DomainError> {
    let refuse = || {
        DomainError::invalid(
            field,
            "must be a date (2026-01-31) or an RFC 3339 date-time (2026-01-31T09:30:00Z)",
        )
    };
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = match edge {
            Edge::Start => day,
            Edge::End => day
                .checked_add_signed(TimeDelta::days(1))
                .ok_or_else(refuse)?,
        };
        return Ok(day.and_time(NaiveTime::MIN).and_utc());
    }
    // A `+` in a query string that was not percent-encoded arrives as a
    // space, so a space where the offset sign belongs is read as `+`.
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")))
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| refuse())
}

/// Sums over a set of model calls, as reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageSums {
    /// Calls made.
    pub requests: u64,
    /// Calls that completed.
    pub complete: u64,
    /// Calls that failed.
    pub failed: u64,
    /// Streamed calls the client abandoned.
    pub cancelled: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
    /// Cost in micro-USD, exact.
    pub cost_micros: u64,
    /// The same cost in USD, for display.
    pub cost_usd: f64,
}

impl From<CallSums> for UsageSums {
    fn from(sums: CallSums) -> Self {
        // Precision loss is irrelevant below 2^53 micro-USD ($9 billion).
        #[allow(clippy::cast_precision_loss)]
        let cost_usd = sums.cost_micros as f64 / MICRO_USD_PER_USD as f64;
        UsageSums {
            requests: sums.requests,
            complete: sums.complete,
            failed: sums.failed,
            cancelled: sums.cancelled,
            prompt_tokens: sums.prompt_tokens,
            completion_tokens: sums.completion_tokens,
            total_tokens: sums.prompt_tokens.saturating_add(sums.completion_tokens),
            cost_micros: sums.cost_micros,
            cost_usd,
        }
    }
}

/// Totals of the whole range.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageTotals {
    /// The model calls.
    #[serde(flatten)]
    pub calls: UsageSums,
    /// Messages written (by the user, or in the org) in the range.
    pub messages: u64,
}

/// One model's share.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelUsage {
    /// The model asked for.
    pub model: String,
    /// Whether the registry has no price for the model: its cost reads 0
    /// because it is unknown, not because it is free.
    pub unpriced: bool,
    /// Its calls.
    #[serde(flatten)]
    pub calls: UsageSums,
}

/// One UTC day's share (only days with calls or messages appear).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The day's calls.
    #[serde(flatten)]
    pub calls: UsageSums,
    /// Messages written that day.
    pub messages: u64,
}

/// One user's share of an org's usage.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UserUsage {
    /// The user.
    pub user_id: UserId,
    /// Their calls.
    #[serde(flatten)]
    pub calls: UsageSums,
}

/// Whose usage a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageScope {
    /// The caller's own.
    User,
    /// The caller's whole org.
    Org,
}

/// A usage report.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// Whose usage this is.
    pub scope: UsageScope,
    /// The org.
    pub org_id: OrgId,
    /// The user, for the `user` scope.
    pub user_id: Option<UserId>,
    /// The thread filter, if any.
    pub thread_id: Option<ThreadId>,
    /// The range's start, if bounded.
    pub from: Option<DateTime<Utc>>,
    /// The range's (exclusive) end, if bounded.
    pub to: Option<DateTime<Utc>>,
    /// Sums over everything in the range.
    pub totals: UsageTotals,
    /// Per model, by model id.
    pub by_model: Vec<ModelUsage>,
    /// Per UTC day, oldest first.
    pub by_day: Vec<DayUsage>,
    /// Per user, by user id (`org` scope only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_user: Option<Vec<UserUsage>>,
    /// The monthly budgets that apply to the caller, with what is left
    /// (empty when none is set).
    pub budgets: Vec<crate::limits::Budget>,
    /// Client analytics events per UTC day and name.
    pub events_by_day: Vec<EventsOfDay>,
}

/// How many analytics events of one name a day had.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventsOfDay {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// The event's name.
    pub name: String,
    /// How many.
    pub count: u64,
}

impl Services {
    /// The caller's own usage.
    pub async fn my_usage(
        &self,
        actor: &Actor,
        query: &UsageQuery,
    ) -> Result<UsageReport, ServiceError> {
        self.usage_report(actor, query, UsageScope::User).await
    }

    /// The usage of the caller's whole org; administrators only.
    pub async fn org_usage(
        &self,
        actor: &Actor,
        query: &UsageQuery,
    ) -> Result<UsageReport, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden(
                "the org's usage is for its administrators".into(),
            ));
        }
        self.usage_report(actor, query, UsageScope::Org).await
    }

    async fn usage_report(
        &self,
        actor: &Actor,
        query: &UsageQuery,
        scope: UsageScope,
    ) -> Result<UsageReport, ServiceError> {
        let filter = UsageFilter {
            org_id: actor.org_id,
            user_id: (scope == UsageScope::User).then_some(actor.user_id),
            thread_id: query.thread_id,
            from: query.from,
            to: query.to,
        };
        let db = self.store.reader();
        let by_user = async {
            match scope {
                UsageScope::Org => repo::usage::calls_by_user(db, &filter).await.map(Some),
                UsageScope::User => Ok(None),
            }
        };
        let (totals, by_model, calls_by_day, messages_by_day, by_user, events) = tokio::try_join!(
            repo::usage::call_totals(db, &filter),
            repo::usage::calls_by(db, &filter, CallGrouping::Model),
            repo::usage::calls_by(db, &filter, CallGrouping::Day),
            repo::usage::messages_by_day(db, &filter),
            by_user,
            repo::usage::events_by_day(db, &filter),
        )?;
        let messages = messages_by_day.iter().map(|(_, count)| count).sum();
        let budgets = self.budgets(actor).await?;
        Ok(UsageReport {
            budgets,
            events_by_day: events
                .into_iter()
                .map(|(day, name, count)| EventsOfDay { day, name, count })
                .collect(),
            scope,
            org_id: actor.org_id,
            user_id: filter.user_id,
            thread_id: query.thread_id,
            from: query.from,
            to: query.to,
            totals: UsageTotals {
                calls: totals.into(),
                messages,
            },
            by_model: by_model
                .into_iter()
                .map(|(model, sums)| ModelUsage {
                    unpriced: !self.models.is_priced(&model),
                    model,
                    calls: sums.into(),
                })
                .collect(),
            by_day: merge_days(calls_by_day, messages_by_day),
            by_user: by_user.map(|users| {
                users
                    .into_iter()
                    .map(|(user_id, sums)| UserUsage {
                        user_id,
                        calls: sums.into(),
                    })
                    .collect()
            }),
        })
    }
}

/// Joins the per-day call sums and message counts (both sorted by day) into
/// one list with every day that has either.
fn merge_days(calls: Vec<(String, CallSums)>, messages: Vec<(String, u64)>) -> Vec<DayUsage> {
    let mut days: std::collections::BTreeMap<String, DayUsage> = calls
        .into_iter()
        .map(|(day, sums)| {
            let usage = DayUsage {
                day: day.clone(),
                calls: sums.into(),
                messages: 0,
            };
            (day, usage)
        })
        .collect();
    for (day, count) in messages {
        days.entry(day.clone())
            .or_insert_with(|| DayUsage {
                day,
                calls: UsageSums::default(),
                messages: 0,
            })
            .messages = count;
    }
    days.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(from: &str, to: &str, thread: &str) -> Result<UsageQuery, DomainError> {
        UsageQuery::parse(&UsageParams {
            from: Some(from),
            to: Some(to),
            thread_id: Some(thread),
        })
    }

    #[test]
    fn dates_cover_whole_days_and_instants_are_exact() {
        let query = parse("2026-01-30", "2026-01-31", "").unwrap();
        assert_eq!(
            query.from.unwrap().to_rfc3339(),
            "2026-01-30T00:00:00+00:00"
        );
        assert_eq!(query.to.unwrap().to_rfc3339(), "2026-02-01T00:00:00+00:00");
        assert_eq!(query.thread_id, None);

        let query = parse("2026-01-30T10:00:00 02:00", "2026-01-30T12:00:00Z", " ").unwrap();
        assert_eq!(
            query.from.unwrap().to_rfc3339(),
            "2026-01-30T08:00:00+00:00"
        );
        assert_eq!(query.to.unwrap().to_rfc3339(), "2026-01-30T12:00:00+00:00");

        // The same day as both bounds is that one day.
        let query = parse("2026-01-30", "2026-01-30", "").unwrap();
        assert_eq!(query.to.unwrap() - query.from.unwrap(), TimeDelta::days(1));
    }

    #[test]
    fn bad_filters_are_refused_by_name() {
        let field = |result: Result<UsageQuery, DomainError>| {
            result
                .unwrap_err()
                .field_errors()
                .fields()
                .next()
                .map(str::to_owned)
        };
        assert_eq!(field(parse("yesterday", "", "")), Some("from".into()));
        assert_eq!(field(parse("", "2026-13-01", "")), Some("to".into()));
        assert_eq!(
            field(parse("2026-01-02", "2026-01-01", "")),
            Some("to".into())
        );
        assert!(parse("", "", "not-a-uuid").is_err());
    }

    #[test]
    fn cost_is_reported_in_micro_usd_and_usd() {
        let sums = UsageSums::from(CallSums {
            requests: 2,
            complete: 2,
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_micros: 1_250_000,
            ..CallSums::default()
        });
        assert_eq!(sums.total_tokens, 15);
        assert_eq!(sums.cost_usd, 1.25);
    }

    #[test]
    fn days_with_only_messages_are_kept() {
        let days = merge_days(
            vec![(
                "2026-01-02".into(),
                CallSums {
                    requests: 1,
                    ..CallSums::default()
                },
            )],
            vec![("2026-01-01".into(), 3), ("2026-01-02".into(), 4)],
        );
        let summary: Vec<(&str, u64, u64)> = days
            .iter()
            .map(|d| (d.day.as_str(), d.calls.requests, d.messages))
            .collect();
        assert_eq!(summary, [("2026-01-01", 0, 3), ("2026-01-02", 1, 4)]);
    }
}
