//! The watchdog's thresholds (`WATCH_*`), checked at cold start like every
//! other variable. Out of range is an error, not a silent clamp: a threshold
//! the founder set and we quietly changed would make an alert fire (or stay
//! silent) when they do not expect it.

use super::read::Reader;

/// The watchdog rules' window and thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// How far back the rules look, in minutes (`WATCH_WINDOW_MINUTES`,
    /// default 10, 1..=60: signature failures are counted per minute in
    /// Redis, one key per minute of the window).
    pub window_minutes: i64,
    /// Refused Stripe deliveries in the window that open an incident when
    /// none verified (`WATCH_SIGNATURE_FAILURES`, default 5).
    pub signature_failures: i64,
    /// Failed requests to one integration in the window, with no success
    /// since the first of them (`WATCH_INTEGRATION_FAILURES`, default 3).
    pub integration_failures: i64,
    /// Minutes a paid change may wait for its app delivery
    /// (`WATCH_PROVISION_MINUTES`, default 10).
    pub provision_minutes: i64,
    /// Minutes a job may stay due before the outbox counts as backed up
    /// (`WATCH_BACKLOG_MINUTES`, default 15).
    pub backlog_minutes: i64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            window_minutes: 10,
            signature_failures: 5,
            integration_failures: 3,
            provision_minutes: 10,
            backlog_minutes: 15,
        }
    }
}

/// One day, in minutes: the largest delay threshold accepted.
const DAY_MINUTES: i64 = 24 * 60;

/// Reads the `WATCH_*` variables; a value outside its range is a problem.
pub(super) fn read_watch(r: &mut Reader<'_>) -> WatchSettings {
    let d = WatchSettings::default();
    let mut bounded = |name: &str, default: i64, max: i64| {
        let v = r.number(name, default);
        if (1..=max).contains(&v) {
            v
        } else {
            r.problem(name, format!("must be between 1 and {max}"));
            default
        }
    };
    WatchSettings {
        window_minutes: bounded("WATCH_WINDOW_MINUTES", d.window_minutes, 60),
        signature_failures: bounded("WATCH_SIGNATURE_FAILURES", d.signature_failures, 10_000),
        integration_failures: bounded("WATCH_INTEGRATION_FAILURES", d.integration_failures, 10_000),
        provision_minutes: bounded("WATCH_PROVISION_MINUTES", d.provision_minutes, DAY_MINUTES),
        backlog_minutes: bounded("WATCH_BACKLOG_MINUTES", d.backlog_minutes, DAY_MINUTES),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::WatchSettings;
    use crate::config::{Config, Need};

    fn load(extra: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let mut map: HashMap<&str, &str> = HashMap::from([
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("REDIS_URL", "redis://localhost:6379"),
        ]);
        map.extend(extra.iter().copied());
        Config::from_lookup(|k| map.get(k).map(|v| v.to_string()), &[] as &[Need])
    }

    #[test]
    fn unset_watch_variables_take_the_documented_defaults() {
        let c = load(&[]).unwrap();
        assert_eq!(c.watch, WatchSettings::default());
        assert_eq!(
            (c.watch.window_minutes, c.watch.signature_failures),
            (10, 5)
        );
        assert_eq!(
            (
                c.watch.integration_failures,
                c.watch.provision_minutes,
                c.watch.backlog_minutes
            ),
            (3, 10, 15)
        );
    }

    #[test]
    fn every_bad_watch_variable_is_named_at_cold_start() {
        let err = load(&[
            ("WATCH_WINDOW_MINUTES", "61"),
            ("WATCH_SIGNATURE_FAILURES", "0"),
            ("WATCH_INTEGRATION_FAILURES", "three"),
            ("WATCH_PROVISION_MINUTES", "-5"),
            ("WATCH_BACKLOG_MINUTES", "1441"),
        ])
        .unwrap_err();
        let mut named = err.variables();
        named.sort_unstable();
        assert_eq!(
            named,
            vec![
                "WATCH_BACKLOG_MINUTES",
                "WATCH_INTEGRATION_FAILURES",
                "WATCH_PROVISION_MINUTES",
                "WATCH_SIGNATURE_FAILURES",
                "WATCH_WINDOW_MINUTES"
            ],
            "{err}"
        );
    }

    #[test]
    fn watch_thresholds_within_range_are_taken_as_given() {
        let c = load(&[
            ("WATCH_WINDOW_MINUTES", "60"),
            ("WATCH_SIGNATURE_FAILURES", "1"),
            ("WATCH_INTEGRATION_FAILURES", "2"),
            ("WATCH_PROVISION_MINUTES", "1440"),
            ("WATCH_BACKLOG_MINUTES", "1"),
        ])
        .unwrap();
        assert_eq!(
            c.watch,
            WatchSettings {
                window_minutes: 60,
                signature_failures: 1,
                integration_failures: 2,
                provision_minutes: 1440,
                backlog_minutes: 1,
            }
        );
    }
}
