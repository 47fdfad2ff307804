//! Member states and the access rules: one pure function, table-tested.
//!
//! | state      | access                                                    |
//! |------------|-----------------------------------------------------------|
//! | `trial`    | `full` (until the trial's period end, if known)           |
//! | `active`   | `full` (until the current period end, if known)           |
//! | `past_due` | `grace` until `PAST_DUE_GRACE_DAYS` after the first failed |
//! |            | payment's Stripe `created`, then `none`                   |
//! | `paused`   | `none` (reason `paused`)                                  |
//! | `canceled` | `none`                                                    |
//! | `lead`     | `none`                                                    |
//!
//! A dispute sets `needs_support` and leaves access to a person.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Where a member stands with billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    /// Known person, no subscription (signup or lead).
    Lead,
    /// Trialing subscription.
    Trial,
    /// Paid and current.
    Active,
    /// A payment failed and is not yet recovered.
    PastDue,
    /// Subscription paused in Stripe (no invoices, no access) until resumed.
    Paused,
    /// Subscription ended.
    Canceled,
}

impl MemberState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Trial => "trial",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Lead,
            Self::Trial,
            Self::Active,
            Self::PastDue,
            Self::Paused,
            Self::Canceled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// What the app should let the member do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Everything the plan includes.
    Full,
    /// Temporarily full while a failed payment is being fixed.
    Grace,
    /// No paid access.
    None,
}

impl AccessLevel {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Grace => "grace",
            Self::None => "none",
        }
    }
}

/// The access decision with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Level.
    pub level: AccessLevel,
    /// When this access ends, if known.
    pub until: Option<DateTime<Utc>>,
    /// Stable reason code.
    pub reason: &'static str,
}

/// The access rules.
pub fn access(
    state: MemberState,
    past_due_since: Option<DateTime<Utc>>,
    current_period_end: Option<DateTime<Utc>>,
    grace_days: i64,
    now: DateTime<Utc>,
) -> Access {
    let (level, until, reason) = match state {
        MemberState::Trial => (AccessLevel::Full, current_period_end, "trial"),
        MemberState::Active => (AccessLevel::Full, current_period_end, "active"),
        MemberState::PastDue => {
            let end = past_due_since.unwrap_or(now) + Duration::days(grace_days);
            if now < end {
                (AccessLevel::Grace, Some(end), "payment_failed_grace")
            } else {
                (AccessLevel::None, None, "payment_failed_grace_ended")
            }
        }
        MemberState::Paused => (AccessLevel::None, None, "paused"),
        MemberState::Canceled => (AccessLevel::None, None, "canceled"),
        MemberState::Lead => (AccessLevel::None, None, "no_subscription"),
    };
    Access {
        level,
        until,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_access_rules_as_a_table() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let end = now + Duration::days(20);
        let failed = |days_ago: i64| Some(now - Duration::days(days_ago));
        use AccessLevel as L;
        use MemberState as S;
        type Row = (
            S,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            L,
            Option<DateTime<Utc>>,
            &'static str,
        );
        let table: &[Row] = &[
            (S::Trial, None, Some(end), L::Full, Some(end), "trial"),
            (S::Active, None, Some(end), L::Full, Some(end), "active"),
            (S::Active, None, None, L::Full, None, "active"),
            (
                S::PastDue,
                failed(1),
                Some(end),
                L::Grace,
                Some(now + Duration::days(2)),
                "payment_failed_grace",
            ),
            (
                S::PastDue,
                failed(3),
                None,
                L::None,
                None,
                "payment_failed_grace_ended",
            ),
            (
                S::PastDue,
                failed(10),
                None,
                L::None,
                None,
                "payment_failed_grace_ended",
            ),
            (S::Paused, None, Some(end), L::None, None, "paused"),
            (S::Paused, failed(1), None, L::None, None, "paused"),
            (S::Canceled, None, Some(end), L::None, None, "canceled"),
            (S::Lead, None, None, L::None, None, "no_subscription"),
        ];
        for (state, since, period_end, level, until, reason) in table {
            let a = access(*state, *since, *period_end, 3, now);
            assert_eq!(
                (a.level, a.until, a.reason),
                (*level, *until, *reason),
                "{state:?} {since:?}"
            );
        }
    }

    #[test]
    fn grace_ends_exactly_at_the_configured_days() {
        let since = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let just_before = since + Duration::days(3) - Duration::seconds(1);
        assert_eq!(
            access(MemberState::PastDue, Some(since), None, 3, just_before).level,
            AccessLevel::Grace
        );
        let at = since + Duration::days(3);
        assert_eq!(
            access(MemberState::PastDue, Some(since), None, 3, at).level,
            AccessLevel::None
        );
        assert_eq!(
            access(MemberState::PastDue, Some(since), None, 0, since).level,
            AccessLevel::None
        );
    }

    #[test]
    fn every_state_round_trips_through_its_name() {
        for s in ["lead", "trial", "active", "past_due", "paused", "canceled"] {
            assert_eq!(MemberState::parse(s).unwrap().as_str(), s);
        }
        assert!(MemberState::parse("vip").is_none());
    }
}

/// Legal state transitions: `lead` is only ever the first state; an active
/// subscription never goes back to a trial; anything can end.
pub fn legal(from: MemberState, to: MemberState) -> bool {
    use MemberState::*;
    !matches!((from, to), (_, Lead) | (Active | PastDue, Trial)) || from == to
}

#[cfg(test)]
mod transition_tests {
    use super::*;

    #[test]
    fn illegal_transitions_are_refused() {
        use MemberState::*;
        assert!(!legal(Active, Lead));
        assert!(!legal(Active, Trial));
        assert!(!legal(PastDue, Trial));
        assert!(legal(Lead, Active));
        assert!(legal(Trial, Active));
        assert!(legal(Canceled, Active));
        assert!(legal(Active, PastDue));
        assert!(legal(PastDue, Canceled));
        assert!(legal(Active, Paused));
        assert!(legal(Paused, Active));
        assert!(!legal(Paused, Lead));
        assert!(legal(Lead, Lead));
    }
}
