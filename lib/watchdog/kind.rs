//! Incident kinds, and what one rule reports about one key at one run.

use chrono::{DateTime, Utc};

/// What an incident is about (DESIGN.md, "The watchdog").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Stripe deliveries refused 401 and none verified (no key).
    StripeSignatureFailures,
    /// Repeated failed requests to one integration (key: the integration).
    IntegrationFailing,
    /// A paid change not delivered to the app in time (no key).
    ProvisioningDelayed,
    /// A job due for too long (no key).
    OutboxBacklog,
}

impl Kind {
    /// Every kind, in the order rules run and answers list them.
    pub const ALL: [Kind; 4] = [
        Kind::StripeSignatureFailures,
        Kind::IntegrationFailing,
        Kind::ProvisioningDelayed,
        Kind::OutboxBacklog,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StripeSignatureFailures => "stripe_signature_failures",
            Self::IntegrationFailing => "integration_failing",
            Self::ProvisioningDelayed => "provisioning_delayed",
            Self::OutboxBacklog => "outbox_backlog",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How an open incident resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clears {
    /// At the first run where the rule no longer holds.
    WhenNotHolding,
    /// Only on a good signal at or after the incident's `since` (the newest
    /// one is carried). Why not "when it no longer holds": a wrong webhook
    /// secret or a dead token stays broken while failures merely thin out
    /// (Stripe and the outbox back off), so only a verified delivery or a
    /// successful request says it is over.
    OnGoodSignal(Option<DateTime<Utc>>),
}

/// The rule holds: an incident should be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// When the condition started (stored on the incident).
    pub since: DateTime<Utc>,
    /// What the founder reads: ids and masked emails only.
    pub summary: String,
}

/// What one rule found for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub kind: Kind,
    /// The key (the integration), `None` for kinds without one.
    pub key: Option<String>,
    /// Set while the rule holds.
    pub holding: Option<Holding>,
    /// How an open incident of this kind and key resolves.
    pub clears: Clears,
}

impl Finding {
    /// Whether an open incident whose condition started at `since` is over.
    pub fn resolves(&self, since: DateTime<Utc>) -> bool {
        match self.clears {
            Clears::WhenNotHolding => self.holding.is_none(),
            Clears::OnGoodSignal(good) => good.is_some_and(|g| g >= since),
        }
    }
}

/// One rule's result at one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Evaluated: one finding per key the rule watches.
    Evaluated(Vec<Finding>),
    /// Switched off, and why: nothing opens or resolves.
    Off(&'static str),
    /// What it counts could not be read (a store failed): nothing opens or
    /// resolves, so an outage never passes for a recovery.
    Unavailable,
}

/// `HH:MM UTC`, for summaries.
pub fn clock_time(at: DateTime<Utc>) -> String {
    at.format("%H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn finding(holding: bool, clears: Clears) -> Finding {
        let since = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        Finding {
            kind: Kind::IntegrationFailing,
            key: Some("hubspot".into()),
            holding: holding.then(|| Holding {
                since,
                summary: String::new(),
            }),
            clears,
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
    }

    #[test]
    fn a_good_signal_resolves_only_when_it_came_at_or_after_the_incident_started() {
        let since = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let before = finding(
            false,
            Clears::OnGoodSignal(Some(since - Duration::seconds(1))),
        );
        assert!(!before.resolves(since));
        assert!(finding(false, Clears::OnGoodSignal(Some(since))).resolves(since));
        assert!(!finding(false, Clears::OnGoodSignal(None)).resolves(since));
    }

    #[test]
    fn a_rule_that_resolves_when_not_holding_stays_open_while_it_holds() {
        let since = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert!(!finding(true, Clears::WhenNotHolding).resolves(since));
        assert!(finding(false, Clears::WhenNotHolding).resolves(since));
    }
}
