//! Job kinds, the integration each needs, and each kind's retry policy.

use crate::config::Config;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Upsert the member's contact in HubSpot.
    CrmUpsert,
    /// POST the member change to the founder's app.
    AppWebhook,
    /// Send a fixed-template email (failed-payment follow-up) through Resend.
    CustomerEmail,
    /// Post an alert to Slack.
    SlackAlert,
    /// POST a support ticket contact to the helpdesk (Standard Webhooks signed).
    HelpdeskTicket,
    /// Create a Zendesk ticket for a contact, or add it as a comment.
    ZendeskTicket,
    /// Draft a reply to a ticket contact with OpenAI (stored, never sent).
    AiDraft,
}

/// How often and how patiently a kind is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before `dead` with `max_attempts`.
    pub max_attempts: i32,
    /// First backoff ceiling, seconds (doubles per attempt).
    pub base_secs: u64,
    /// Largest backoff ceiling, seconds.
    pub cap_secs: u64,
}

impl JobKind {
    /// Every kind, in sweep priority order (CRM first).
    pub const ALL: [JobKind; 7] = [
        JobKind::CrmUpsert,
        JobKind::AppWebhook,
        JobKind::CustomerEmail,
        JobKind::SlackAlert,
        JobKind::HelpdeskTicket,
        JobKind::ZendeskTicket,
        JobKind::AiDraft,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CrmUpsert => "crm_upsert",
            Self::AppWebhook => "app_webhook",
            Self::CustomerEmail => "customer_email",
            Self::SlackAlert => "slack_alert",
            Self::HelpdeskTicket => "helpdesk_ticket",
            Self::ZendeskTicket => "zendesk_ticket",
            Self::AiDraft => "ai_draft",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The integration (and kill-switch name) this kind needs.
    pub fn integration(self) -> &'static str {
        match self {
            Self::CrmUpsert => "hubspot",
            Self::AppWebhook => "app_webhook",
            Self::CustomerEmail => "resend",
            Self::SlackAlert => "slack",
            Self::HelpdeskTicket => "helpdesk",
            Self::ZendeskTicket => "zendesk",
            Self::AiDraft => "openai",
        }
    }

    /// Whether the integration has its credentials in `config`.
    pub fn configured(self, config: &Config) -> bool {
        match self {
            Self::CrmUpsert => config.hubspot.is_some(),
            Self::AppWebhook => config.app_webhook.is_some(),
            Self::CustomerEmail => config.resend.is_some(),
            Self::SlackAlert => config.slack_webhook_url.is_some(),
            Self::HelpdeskTicket => config.helpdesk.is_some(),
            Self::ZendeskTicket => config.zendesk.is_some(),
            Self::AiDraft => config.openai.is_some(),
        }
    }

    /// How many jobs one claim takes (HubSpot batch upserts take 100).
    pub fn batch_size(self) -> i64 {
        match self {
            Self::CrmUpsert => 100,
            // One round of calls (up to OPENAI_TIMEOUT_MS each) per claim.
            Self::AiDraft => 8,
            _ => 25,
        }
    }

    /// The retry policy. With full jitter the expected wait per retry is half
    /// the ceiling; worst-case total windows: CRM 8 attempts over ≤ ~63 min
    /// (30 s, 1, 2, 4, 8, 16, 32 min ceilings); app webhooks 12 attempts
    /// over ≤ ~6 h; emails 6 over ≤ ~1 h; Slack 5 over ≤ ~8 min; helpdesk
    /// tickets 10 over ≤ ~3 h (a ticket must reach a person the same day),
    /// Zendesk tickets the same (the window outlives Zendesk's 2 h
    /// `Idempotency-Key`, which is why a late retry looks the ticket up first);
    /// AI drafts 3 over ≤ ~3 min (30 s, 1 min ceilings, capped at 2 min: a
    /// late draft is worth little, and a dead one sends the ticket to a person).
    pub fn policy(self) -> RetryPolicy {
        let (max_attempts, base_secs, cap_secs) = match self {
            Self::CrmUpsert => (8, 30, 3_600),
            Self::AppWebhook => (12, 30, 3_600),
            Self::CustomerEmail => (6, 60, 3_600),
            Self::SlackAlert => (5, 30, 300),
            Self::HelpdeskTicket | Self::ZendeskTicket => (10, 30, 3_600),
            Self::AiDraft => (3, 30, 120),
        };
        RetryPolicy {
            max_attempts,
            base_secs,
            cap_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }

    #[test]
    fn crm_comes_first_in_the_sweep() {
        assert_eq!(JobKind::ALL[0], JobKind::CrmUpsert);
    }
}
