//! The access answer: who the member is and what the app should let them do
//! right now. Access is computed at request time with
//! [`Member::access_at`] (never read from a cache or from the last exported
//! value), so a grace period that ran out a second ago already reads `none`
//! even before the sweep has sent the webhook.

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::members::Member;
use crate::state::App;

/// How the app names the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The app's user id.
    UserId(String),
    /// Email, compared case-insensitively.
    Email(String),
}

/// The body of `GET /api/members/access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessAnswer {
    /// Internal member id.
    pub member_id: String,
    /// The app's user id, if linked.
    pub user_id: Option<String>,
    /// Billing state.
    pub state: &'static str,
    /// Plan, if known.
    pub plan: Option<String>,
    /// `full`, `grace` or `none`.
    pub access: &'static str,
    /// When this access ends, if known (RFC 3339).
    pub access_until: Option<String>,
    /// Stable reason code (`active`, `payment_failed_grace`, ...).
    pub reason: &'static str,
    /// Last change of the member row (RFC 3339).
    pub updated_at: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl AccessAnswer {
    /// The answer for `m` at `now`.
    pub fn of(m: &Member, grace_days: i64, now: DateTime<Utc>) -> Self {
        let a = m.access_at(grace_days, now);
        Self {
            member_id: m.id.to_string(),
            user_id: m.app_user_id.clone(),
            state: m.state.as_str(),
            plan: m.plan.clone(),
            access: a.level.as_str(),
            access_until: a.until.map(rfc3339),
            reason: a.reason,
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// Finds the live member (one indexed read, `members::store::find`).
pub async fn find(app: &App, lookup: &Lookup) -> anyhow::Result<Option<Member>> {
    let (field, value) = match lookup {
        Lookup::UserId(u) => ("user_id", u),
        Lookup::Email(e) => ("email", e),
    };
    let client = app.db.get().await.context("Failed to get a connection")?;
    crate::members::store::find(&client, field, value).await
}

/// The access answer for `lookup` now, `None` for an unknown member.
pub async fn answer(app: &App, lookup: &Lookup) -> anyhow::Result<Option<AccessAnswer>> {
    let member = find(app, lookup).await?;
    let now = app.clock.now();
    Ok(member.map(|m| AccessAnswer::of(&m, app.config.past_due_grace_days, now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::MemberState;
    use chrono::{Duration, TimeZone};

    fn member(state: MemberState, past_due_since: Option<DateTime<Utc>>) -> Member {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        Member {
            id: uuid::Uuid::nil(),
            email: Some("jane@example.com".into()),
            name: None,
            state,
            plan: Some("pro".into()),
            needs_support: false,
            stripe_customer_id: None,
            crm_contact_id: None,
            support_user_id: None,
            app_user_id: Some("usr_1".into()),
            last_event_created: None,
            last_event_id: None,
            plan_event_created: None,
            plan_event_id: None,
            past_due_since,
            current_period_end: None,
            sequence: 3,
            access: "full".into(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_past_due_member_reads_grace_until_the_window_ends_then_none() {
        let failed = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
        let m = member(MemberState::PastDue, Some(failed));
        let during = AccessAnswer::of(&m, 3, failed + Duration::days(1));
        assert_eq!(
            (during.access, during.access_until.as_deref()),
            ("grace", Some("2026-11-24T08:00:00Z"))
        );
        let after = AccessAnswer::of(&m, 3, failed + Duration::days(3));
        assert_eq!((after.access, after.access_until), ("none", None));
        assert_eq!(after.reason, "payment_failed_grace_ended");
    }

    #[test]
    fn the_answer_uses_computed_access_not_the_last_exported_one() {
        let m = member(MemberState::Canceled, None);
        let a = AccessAnswer::of(&m, 3, Utc::now());
        assert_eq!(
            (a.state, a.access, a.reason),
            ("canceled", "none", "canceled")
        );
        assert_eq!(a.updated_at, "2026-11-20T12:00:00Z");
    }
}
