//! Per-type extraction and validation of [`Fact`]s from event objects.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::event::{EventError, Fact, InvoiceDue, RawEvent, SubStatus};

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
        "checkout.session.completed" => checkout(o, &["paid", "unpaid", "no_payment_required"])?,
        // Stripe sends it once the delayed payment settled: the session is `paid`.
        "checkout.session.async_payment_succeeded" => checkout(o, &["paid"])?,
        "checkout.session.async_payment_failed" => Fact::CheckoutFailed {
            session: required_id(&o["id"], "id")?,
            customer: id_of(&o["customer"]),
            user_id: text(&o["client_reference_id"], 200),
            email: customer_email(o),
        },
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => subscription(o, &event.event_type)?,
        "customer.subscription.trial_will_end" => Fact::TrialWillEnd {
            customer: required_id(&o["customer"], "customer")?,
        },
        "customer.created" | "customer.updated" => Fact::Customer {
            customer: required_id(&o["id"], "id")?,
            email: email(&o["email"]),
            name: text(&o["name"], 200),
        },
        "customer.deleted" => Fact::CustomerDeleted {
            customer: required_id(&o["id"], "id")?,
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
            due: invoice_due(o)?,
            // Null (not absent) when Stripe will not try again.
            final_attempt: o.get("next_payment_attempt") == Some(&Value::Null),
        },
        "invoice.payment_action_required" => Fact::InvoiceActionRequired(invoice_due(o)?),
        "charge.refunded" => Fact::Refund {
            customer: id_of(&o["customer"]),
            charge: required_id(&o["id"], "id")?,
            amount_refunded: amount(&o["amount_refunded"], "amount_refunded")?,
            currency: currency(&o["currency"])?,
        },
        "charge.dispute.created" => dispute(o, false)?,
        "charge.dispute.closed" => dispute(o, true)?,
        _ => Fact::Unhandled,
    })
}

fn customer_email(o: &Value) -> Option<String> {
    email(&o["customer_details"]["email"]).or_else(|| email(&o["customer_email"]))
}

/// A Checkout Session whose `payment_status` must be one of `allowed`.
fn checkout(o: &Value, allowed: &[&str]) -> R<Fact> {
    let payment_status = o["payment_status"]
        .as_str()
        .filter(|s| allowed.contains(s))
        .ok_or(EventError::Invalid("payment_status"))?;
    Ok(Fact::Checkout {
        customer: id_of(&o["customer"]),
        user_id: text(&o["client_reference_id"], 200),
        email: customer_email(o),
        name: text(&o["customer_details"]["name"], 200),
        paid: payment_status == "paid",
        trial: payment_status == "no_payment_required" && o["mode"] == "subscription",
    })
}

/// A subscription event; `deleted` and `paused` say the status themselves.
fn subscription(o: &Value, event_type: &str) -> R<Fact> {
    let raw = o["status"].as_str().ok_or(EventError::Invalid("status"))?;
    let mut status = SubStatus::parse(raw).ok_or(EventError::Invalid("status"))?;
    match event_type {
        "customer.subscription.deleted" => status = SubStatus::Ended,
        "customer.subscription.paused" => status = SubStatus::Paused,
        _ => {}
    }
    Ok(Fact::Subscription {
        customer: required_id(&o["customer"], "customer")?,
        status,
        plan: plan(o),
        period_end: period_end(o, status),
    })
}

fn invoice_due(o: &Value) -> R<InvoiceDue> {
    Ok(InvoiceDue {
        customer: required_id(&o["customer"], "customer")?,
        invoice: required_id(&o["id"], "id")?,
        email: email(&o["customer_email"]),
        name: text(&o["customer_name"], 200),
        hosted_invoice_url: text(&o["hosted_invoice_url"], 2048)
            .filter(|u| u.starts_with("https://")),
        amount_due: amount(&o["amount_due"], "amount_due")?,
        currency: currency(&o["currency"])?,
    })
}

/// A dispute; `charge` is an id in webhooks, an object when expanded.
fn dispute(o: &Value, closed: bool) -> R<Fact> {
    let status =
        text(&o["status"], 50).filter(|s| s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    if closed && status.is_none() {
        return Err(EventError::Invalid("status"));
    }
    Ok(Fact::Dispute {
        dispute: required_id(&o["id"], "id")?,
        customer: id_of(&o["charge"]["customer"]),
        email: email(&o["evidence"]["customer_email_address"]),
        charge: required_id(&o["charge"], "charge")?,
        amount: amount(&o["amount"], "amount")?,
        currency: currency(&o["currency"])?,
        reason: text(&o["reason"], 100).unwrap_or_else(|| "unknown".into()),
        closed: if closed { status } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, object: Value) -> RawEvent {
        RawEvent::from_value(&json!({
            "id": "evt_1Unit", "object": "event", "type": kind, "created": 1_790_000_000,
            "api_version": "2025-09-30.clover", "data": { "object": object }
        }))
        .unwrap()
    }

    fn sub(status: &str) -> Value {
        json!({ "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status })
    }

    fn status_of(f: Fact) -> SubStatus {
        match f {
            Fact::Subscription { status, .. } => status,
            other => panic!("not a subscription fact: {other:?}"),
        }
    }

    #[test]
    fn every_type_the_catch_up_lists_is_one_the_webhook_acts_on() {
        for kind in crate::stripe::event::HANDLED_TYPES {
            // An empty object fails validation: never "unhandled".
            assert_ne!(fact(&ev(kind, json!({}))), Ok(Fact::Unhandled), "{kind}");
        }
        assert_eq!(fact(&ev("product.created", json!({}))), Ok(Fact::Unhandled));
    }

    #[test]
    fn a_subscription_updated_to_paused_means_paused_not_canceled() {
        let f = fact(&ev("customer.subscription.updated", sub("paused"))).unwrap();
        assert_eq!(status_of(f), SubStatus::Paused);
        let f = fact(&ev("customer.subscription.paused", sub("paused"))).unwrap();
        assert_eq!(status_of(f), SubStatus::Paused);
        let f = fact(&ev("customer.subscription.resumed", sub("trialing"))).unwrap();
        assert_eq!(status_of(f), SubStatus::Trialing);
    }

    #[test]
    fn only_an_explicitly_null_next_attempt_is_the_final_one() {
        let invoice = |next: Option<Value>| {
            let mut o = json!({ "id": "in_1", "object": "invoice", "customer": "cus_1",
                                "amount_due": 2900, "currency": "usd" });
            if let Some(n) = next {
                o["next_payment_attempt"] = n;
            }
            match fact(&ev("invoice.payment_failed", o)).unwrap() {
                Fact::InvoiceFailed { final_attempt, .. } => final_attempt,
                other => panic!("{other:?}"),
            }
        };
        assert!(invoice(Some(Value::Null)));
        assert!(!invoice(Some(json!(1_790_086_400))));
        assert!(!invoice(None));
    }

    #[test]
    fn an_async_success_must_be_paid_and_a_closed_dispute_must_say_how() {
        let session =
            json!({ "id": "cs_1", "object": "checkout.session", "payment_status": "unpaid" });
        let e = ev("checkout.session.async_payment_succeeded", session);
        assert_eq!(fact(&e), Err(EventError::Invalid("payment_status")));
        let dispute = json!({ "id": "dp_1", "object": "dispute", "charge": "ch_1",
                              "amount": 2900, "currency": "usd", "reason": "fraudulent" });
        let e = ev("charge.dispute.closed", dispute);
        assert_eq!(fact(&e), Err(EventError::Invalid("status")));
    }
}
