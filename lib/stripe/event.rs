//! Stripe events, parsed at the edge: the envelope ([`RawEvent`]) and what
//! each handled type means for a member ([`Fact`]). Amounts, currencies and
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

/// A subscription status we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// `trialing`.
    Trialing,
    /// `active`.
    Active,
    /// `past_due` or `unpaid`.
    PastDue,
    /// `canceled`, `incomplete_expired` or `paused` (no paid access).
    Ended,
    /// `incomplete`: first payment pending; no change.
    Incomplete,
}

impl SubStatus {
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" | "unpaid" => Self::PastDue,
            "canceled" | "incomplete_expired" | "paused" => Self::Ended,
            "incomplete" => Self::Incomplete,
            _ => return None,
        })
    }
}

/// What a handled event means.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// `checkout.session.completed`.
    Checkout {
        /// Customer id, if the session created or used one.
        customer: Option<String>,
        /// The app's user id (`client_reference_id`).
        user_id: Option<String>,
        /// Customer email.
        email: Option<String>,
        /// Customer name.
        name: Option<String>,
        /// Paid now (`paid`) or a trial (`no_payment_required`).
        paid: bool,
        /// A subscription checkout with nothing to pay (a trial).
        trial: bool,
    },
    /// `customer.subscription.created/updated/deleted`.
    Subscription {
        /// Customer id.
        customer: String,
        /// Status (deleted → `Ended`).
        status: SubStatus,
        /// Plan name.
        plan: Option<String>,
        /// Current period (or trial) end.
        period_end: Option<DateTime<Utc>>,
    },
    /// `customer.subscription.trial_will_end`.
    TrialWillEnd {
        /// Customer id.
        customer: String,
    },
    /// `customer.created/updated`.
    Customer {
        /// Customer id.
        customer: String,
        /// Email.
        email: Option<String>,
        /// Name.
        name: Option<String>,
    },
    /// `invoice.paid` / `invoice.payment_succeeded`.
    InvoicePaid {
        /// Customer id.
        customer: String,
        /// Invoice id.
        invoice: String,
        /// Invoice email.
        email: Option<String>,
        /// Amount paid, minor units.
        amount_paid: i64,
    },
    /// `invoice.payment_failed`.
    InvoiceFailed {
        /// Customer id.
        customer: String,
        /// Invoice id.
        invoice: String,
        /// Invoice email.
        email: Option<String>,
        /// Customer name on the invoice.
        name: Option<String>,
        /// Stripe's hosted page to pay the invoice.
        hosted_invoice_url: Option<String>,
        /// Amount due, minor units.
        amount_due: i64,
        /// Currency (lower case ISO).
        currency: String,
    },
    /// `charge.refunded`.
    Refund {
        /// Customer id, if any.
        customer: Option<String>,
        /// Charge id.
        charge: String,
        /// Amount refunded, minor units.
        amount_refunded: i64,
        /// Currency.
        currency: String,
    },
    /// `charge.dispute.created`.
    Dispute {
        /// Customer id, when the charge was expanded.
        customer: Option<String>,
        /// Email from the dispute evidence, if any.
        email: Option<String>,
        /// Charge id.
        charge: String,
        /// Amount disputed, minor units.
        amount: i64,
        /// Currency.
        currency: String,
        /// Stripe's dispute reason.
        reason: String,
    },
    /// A type we store but do not act on.
    Unhandled,
}

/// The event types we act on (also the catch-up's `types[]` filter).
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
    "customer.created",
    "customer.updated",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
];

pub use super::facts::fact;
