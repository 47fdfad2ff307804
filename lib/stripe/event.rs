//! Stripe events, parsed at the edge: the envelope ([`RawEvent`]), the
//! types we act on ([`HANDLED_TYPES`]) and what each means for a member
//! ([`Fact`], defined in [`super::meaning`]). Amounts, currencies and
//! statuses are validated; `metadata` is never read, so it can never grant
//! access or rights.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The event envelope, as Stripe sends it (and lists it in `/v1/events`).
#[derive(Debug, Clone, Deserialize)]
pub struct RawEvent {
    /// `evt_...`.
    pub id: String,
    /// `checkout.session.completed`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// Unix seconds.
    pub created: i64,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
    /// Connected account, if any.
    #[serde(default)]
    pub account: Option<String>,
    /// API version the payload is rendered in.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `{ "object": {...} }`.
    pub data: EventData,
}

/// `data` of an event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object the event is about.
    pub object: Value,
}

/// Why an event could not be taken as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON or not an event envelope.
    #[error("not a Stripe event: {0}")]
    Malformed(String),
    /// An envelope, but a field fails validation.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl RawEvent {
    /// Parses and checks the envelope.
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        let e: RawEvent =
            serde_json::from_slice(body).map_err(|e| EventError::Malformed(e.classify_name()))?;
        e.checked()
    }

    /// Reads and checks an envelope already parsed as JSON (a listed event).
    pub fn from_value(v: &serde_json::Value) -> Result<Self, EventError> {
        let e = <RawEvent as serde::Deserialize>::deserialize(v)
            .map_err(|e| EventError::Malformed(e.classify_name()))?;
        e.checked()
    }

    fn checked(self) -> Result<Self, EventError> {
        let e = self;
        let id_ok = e.id.starts_with("evt_")
            && e.id.len() <= 255
            && e.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !id_ok {
            return Err(EventError::Malformed("id".into()));
        }
        if e.event_type.is_empty()
            || e.event_type.len() > 100
            || !e
                .event_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b"._".contains(&b))
        {
            return Err(EventError::Malformed("type".into()));
        }
        if e.created <= 0 || Utc.timestamp_opt(e.created, 0).single().is_none() {
            return Err(EventError::Malformed("created".into()));
        }
        Ok(e)
    }

    /// `created` as a time.
    pub fn created_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.created, 0)
            .single()
            .unwrap_or_default()
    }
}

trait ClassifyName {
    fn classify_name(&self) -> String;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> String {
        match self.classify() {
            serde_json::error::Category::Data => "missing or mistyped field".into(),
            _ => "invalid JSON".into(),
        }
    }
}

pub use super::meaning::{Fact, InvoiceDue, SubStatus};

/// The event types we act on (also the catch-up's `types[]` filter).
/// Stripe accepts at most 20 `types[]` (a unit test in `catchup::client`
/// holds us to it).
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
];

pub use super::facts::fact;
