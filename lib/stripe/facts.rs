//! Per-type extraction and validation of [`Fact`]s from event objects.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::event::{EventError, Fact, RawEvent, SubStatus};

type R<T> = Result<T, EventError>;

/// An id field: a string, or an expanded object's `id`.
fn id_of(v: &Value) -> Option<String> {
    let s = v.as_str().or_else(|| v["id"].as_str())?;
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| s.to_string())
}

fn required_id(v: &Value, what: &'static str) -> R<String> {
    id_of(v).ok_or(EventError::Invalid(what))
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.chars().count() <= max)
        .map(str::to_string)
}

fn email(v: &Value) -> Option<String> {
    text(v, 254).filter(|e| e.contains('@') && !e.contains(char::is_whitespace))
}

fn amount(v: &Value, what: &'static str) -> R<i64> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(EventError::Invalid(what)),
    }
}

fn currency(v: &Value) -> R<String> {
    match v.as_str() {
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()) => Ok(c.to_string()),
        _ => Err(EventError::Invalid("currency")),
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64()
        .filter(|t| *t > 0)
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
}

/// Plan: the first item's price lookup key, nickname or id.
fn plan(sub: &Value) -> Option<String> {
    let price = &sub["items"]["data"][0]["price"];
    [
        &price["lookup_key"],
        &price["nickname"],
        &price["id"],
        &sub["plan"]["nickname"],
        &sub["plan"]["id"],
    ]
    .into_iter()
    .find_map(|v| text(v, 100))
}

fn period_end(sub: &Value, status: SubStatus) -> Option<DateTime<Utc>> {
    let trial_end = time(&sub["trial_end"]);
    let period = time(&sub["current_period_end"])
        .or_else(|| time(&sub["items"]["data"][0]["current_period_end"]));
    if status == SubStatus::Trialing {
        trial_end.or(period)
    } else {
        period
    }
}

/// What `event` means, validated. Unknown types are [`Fact::Unhandled`].
pub fn fact(event: &RawEvent) -> R<Fact> {
    let o = &event.data.object;
    Ok(match event.event_type.as_str() {
        "checkout.session.completed" => {
            let payment_status = o["payment_status"]
                .as_str()
                .ok_or(EventError::Invalid("payment_status"))?;
            if !["paid", "unpaid", "no_payment_required"].contains(&payment_status) {
                return Err(EventError::Invalid("payment_status"));
            }
            Fact::Checkout {
                customer: id_of(&o["customer"]),
                user_id: text(&o["client_reference_id"], 200),
                email: email(&o["customer_details"]["email"])
                    .or_else(|| email(&o["customer_email"])),
                name: text(&o["customer_details"]["name"], 200),
                paid: payment_status == "paid",
                trial: payment_status == "no_payment_required" && o["mode"] == "subscription",
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let raw = o["status"].as_str().ok_or(EventError::Invalid("status"))?;
            let mut status = SubStatus::parse(raw).ok_or(EventError::Invalid("status"))?;
            if event.event_type == "customer.subscription.deleted" {
                status = SubStatus::Ended;
            }
            Fact::Subscription {
                customer: required_id(&o["customer"], "customer")?,
                status,
                plan: plan(o),
                period_end: period_end(o, status),
            }
        }
        "customer.subscription.trial_will_end" => Fact::TrialWillEnd {
            customer: required_id(&o["customer"], "customer")?,
        },
        "customer.created" | "customer.updated" => Fact::Customer {
            customer: required_id(&o["id"], "id")?,
            email: email(&o["email"]),
            name: text(&o["name"], 200),
        },
        "invoice.paid" | "invoice.payment_succeeded" => {
            currency(&o["currency"])?;
            Fact::InvoicePaid {
                customer: required_id(&o["customer"], "customer")?,
                invoice: required_id(&o["id"], "id")?,
                email: email(&o["customer_email"]),
                amount_paid: amount(&o["amount_paid"], "amount_paid")?,
            }
        }
        "invoice.payment_failed" => Fact::InvoiceFailed {
            customer: required_id(&o["customer"], "customer")?,
            invoice: required_id(&o["id"], "id")?,
            email: email(&o["customer_email"]),
            name: text(&o["customer_name"], 200),
            hosted_invoice_url: text(&o["hosted_invoice_url"], 2048)
                .filter(|u| u.starts_with("https://")),
            amount_due: amount(&o["amount_due"], "amount_due")?,
            currency: currency(&o["currency"])?,
        },
        "charge.refunded" => Fact::Refund {
            customer: id_of(&o["customer"]),
            charge: required_id(&o["id"], "id")?,
            amount_refunded: amount(&o["amount_refunded"], "amount_refunded")?,
            currency: currency(&o["currency"])?,
        },
        "charge.dispute.created" => Fact::Dispute {
            customer: id_of(&o["charge"]["customer"]),
            email: email(&o["evidence"]["customer_email_address"]),
            charge: required_id(&o["charge"], "charge")?,
            amount: amount(&o["amount"], "amount")?,
            currency: currency(&o["currency"])?,
            reason: text(&o["reason"], 100).unwrap_or_else(|| "unknown".into()),
        },
        _ => Fact::Unhandled,
    })
}
