//! `stripe_signature_failures`: at least `WATCH_SIGNATURE_FAILURES` Stripe
//! deliveries were refused 401 in the window and none verified (events the
//! catch-up stored do not count: they prove nothing about the secret).
//! Resolves when a delivery verifies. Reads Redis only (see
//! [`crate::watchdog::signals`]).

use chrono::{DateTime, Utc};

use crate::config::WatchSettings;
use crate::state::App;
use crate::watchdog::kind::{Clears, Finding, Holding, Kind, Outcome};
use crate::watchdog::signals::{stripe_window, window_start, StripeWindow};

/// Reads the window and decides.
pub async fn evaluate(app: &App, now: DateTime<Utc>) -> Outcome {
    let watch = &app.config.watch;
    match stripe_window(&app.kv, now, watch.window_minutes).await {
        Ok(w) => Outcome::Evaluated(vec![decide(&w, watch, now)]),
        Err(e) => {
            tracing::warn!(error = %e, "watchdog could not read the signature counters");
            Outcome::Unavailable
        }
    }
}

/// The finding for what the window holds. The incident's `since` is the
/// window's start: no delivery had verified after it when it opened, so
/// any verified delivery at or after it resolves.
pub fn decide(w: &StripeWindow, watch: &WatchSettings, now: DateTime<Utc>) -> Finding {
    let start = window_start(now, watch.window_minutes);
    let verified_in_window = w.verified_at.is_some_and(|v| v >= start);
    let holding = (w.failures >= watch.signature_failures && !verified_in_window).then(|| Holding {
        since: start,
        summary: format!(
            "{} Stripe webhook deliveries were refused (401) in the last {} min and none verified. \
             A STRIPE_WEBHOOK_SECRET that no longer matches the endpoint's signing secret (after a rotation) looks like this.",
            w.failures, watch.window_minutes
        ),
    });
    Finding {
        kind: Kind::StripeSignatureFailures,
        key: None,
        holding,
        clears: Clears::OnGoodSignal(w.verified_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    #[test]
    fn five_refusals_and_no_verified_delivery_hold() {
        let w = StripeWindow {
            failures: 5,
            verified_at: Some(now() - Duration::minutes(11)),
        };
        let f = decide(&w, &WatchSettings::default(), now());
        assert_eq!(f.holding.unwrap().since, now() - Duration::minutes(10));
    }

    #[test]
    fn refusals_while_deliveries_verify_do_not_hold() {
        let w = StripeWindow {
            failures: 50,
            verified_at: Some(now() - Duration::minutes(9)),
        };
        assert!(decide(&w, &WatchSettings::default(), now())
            .holding
            .is_none());
    }

    #[test]
    fn four_refusals_do_not_hold() {
        let w = StripeWindow {
            failures: 4,
            verified_at: None,
        };
        assert!(decide(&w, &WatchSettings::default(), now())
            .holding
            .is_none());
    }
}
