//! The two Slack messages of an incident, enqueued through the outbox in
//! the transaction that opens or resolves it. The dedupe key is the
//! incident's id and the event, so neither can ever be queued twice. The
//! text is the incident's summary (ids and masked emails only) plus kind,
//! key and, on resolve, how long it lasted.

use chrono::{DateTime, Utc};

use super::store::Incident;
use crate::db::Sql;

fn name(i: &Incident) -> String {
    match &i.key {
        Some(k) => format!("{} ({k})", i.kind),
        None => i.kind.clone(),
    }
}

/// "3 min", "2 h 5 min", "45 s".
pub fn lasted(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The opening message.
pub fn opened_text(i: &Incident) -> String {
    format!(
        ":rotating_light: Incident #{} opened: {}. {} It stays open quietly until the watchdog sees it is over; details: GET /api/admin/incidents.",
        i.id,
        name(i),
        i.summary
    )
}

/// The resolving message.
pub fn resolved_text(i: &Incident, now: DateTime<Utc>) -> String {
    format!(
        ":white_check_mark: Incident #{} resolved: {}, after {}.",
        i.id,
        name(i),
        lasted((now - i.opened_at).num_seconds())
    )
}

/// Enqueues the opening alert; its job id.
pub async fn enqueue_opened(
    tx: &impl Sql,
    i: &Incident,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let key = format!("incident:{}:opened", i.id);
    crate::alerts::enqueue_alert(tx, key, opened_text(i), None, now).await
}

/// Enqueues the resolving alert; its job id.
pub async fn enqueue_resolved(
    tx: &impl Sql,
    i: &Incident,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let key = format!("incident:{}:resolved", i.id);
    crate::alerts::enqueue_alert(tx, key, resolved_text(i, now), None, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn incident() -> Incident {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        Incident {
            id: 12,
            kind: "integration_failing".into(),
            key: Some("hubspot".into()),
            status: "open".into(),
            summary: "hubspot: 3 failed requests in the last 10 min.".into(),
            since: at,
            opened_at: at,
            resolved_at: None,
        }
    }

    #[test]
    fn the_opening_message_names_kind_key_and_summary() {
        let t = opened_text(&incident());
        assert!(t.starts_with(":rotating_light: Incident #12 opened: integration_failing (hubspot). hubspot: 3 failed"), "{t}");
    }

    #[test]
    fn the_resolving_message_says_how_long_it_lasted() {
        let i = incident();
        let t = resolved_text(&i, i.opened_at + Duration::minutes(125));
        assert_eq!(t, ":white_check_mark: Incident #12 resolved: integration_failing (hubspot), after 2 h 5 min.");
        assert_eq!(lasted(45), "45 s");
        assert_eq!(lasted(180), "3 min");
    }
}
