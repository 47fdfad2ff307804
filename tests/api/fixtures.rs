//! Stripe events in the shape of real API objects (API version, `object`
//! fields, nested `data.object`), not minimal stubs.

use serde_json::{json, Value};

pub const API_VERSION: &str = "2025-09-30.clover";

/// The event envelope around `object`.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": "req_4f3XyZq9Lm2Nb1", "idempotency_key": "b7e3c2a1-5d4f-4e8a-9c3b-0a1b2c3d4e5f" },
        "type": kind
    })
}

pub fn checkout_completed(
    id: &str,
    created: i64,
    customer: &str,
    email: &str,
    user_id: Option<&str>,
) -> Value {
    checkout_session(
        id,
        "checkout.session.completed",
        created,
        customer,
        email,
        user_id,
        "paid",
    )
}

/// A subscription Checkout Session event: `completed` (any
/// `payment_status`), or `async_payment_succeeded`/`failed` for a delayed
/// method (SEPA debit here), whose session is `paid`/`unpaid` by then.
pub fn checkout_session(
    id: &str,
    kind: &str,
    created: i64,
    customer: &str,
    email: &str,
    user_id: Option<&str>,
    payment_status: &str,
) -> Value {
    let delayed = payment_status != "paid" || kind != "checkout.session.completed";
    event(
        id,
        kind,
        created,
        json!({
            "id": format!("cs_test_{}", &customer[4..]),
            "object": "checkout.session",
            "amount_subtotal": 2900,
            "amount_total": 2900,
            "client_reference_id": user_id,
            "created": created - 60,
            "currency": "usd",
            "customer": customer,
            "customer_creation": "always",
            "customer_details": { "address": { "country": "US", "postal_code": "94103" }, "email": email, "name": "Jane Doe", "phone": null, "tax_exempt": "none" },
            "customer_email": null,
            "livemode": false,
            "metadata": { "role": "admin", "access": "full" },
            "mode": "subscription",
            "payment_method_types": if delayed { json!(["sepa_debit"]) } else { json!(["card"]) },
            "payment_status": payment_status,
            "status": "complete",
            "subscription": "sub_1QxTestSub0001",
            "success_url": "https://app.example.com/welcome",
            "url": null
        }),
    )
}

pub fn subscription(
    id: &str,
    kind: &str,
    created: i64,
    customer: &str,
    status: &str,
    lookup_key: &str,
) -> Value {
    event(
        id,
        kind,
        created,
        json!({
            "id": "sub_1QxTestSub0001",
            "object": "subscription",
            "billing_cycle_anchor": created,
            "cancel_at_period_end": false,
            "created": created,
            "currency": "usd",
            "customer": customer,
            "items": { "object": "list", "data": [{
                "id": "si_RtestItem0001",
                "object": "subscription_item",
                "current_period_end": created + 30 * 86400,
                "current_period_start": created,
                "price": { "id": "price_1QxPro", "object": "price", "active": true, "currency": "usd",
                           "lookup_key": lookup_key, "nickname": "Pro monthly", "product": "prod_Rpro",
                           "recurring": { "interval": "month", "interval_count": 1 }, "type": "recurring", "unit_amount": 2900 },
                "quantity": 1
            }], "has_more": false, "url": "/v1/subscription_items?subscription=sub_1QxTestSub0001" },
            "latest_invoice": "in_1QxTestInv0001",
            "livemode": false,
            "metadata": {},
            // `paused` is a status (a trial that ended without a payment
            // method, or a pause); pausing collection only is not.
            "pause_collection": null,
            "status": status,
            "trial_end": null,
            "trial_settings": { "end_behavior": { "missing_payment_method": "pause" } }
        }),
    )
}

pub fn invoice(
    id: &str,
    kind: &str,
    created: i64,
    customer: &str,
    invoice_id: &str,
    email: &str,
    paid: bool,
) -> Value {
    event(
        id,
        kind,
        created,
        json!({
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "amount_due": 2900,
            "amount_paid": if paid { 2900 } else { 0 },
            "amount_remaining": if paid { 0 } else { 2900 },
            "attempt_count": 1,
            "attempted": true,
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "created": created - 3600,
            "currency": "usd",
            "customer": customer,
            "customer_email": email,
            "customer_name": "Jane Doe",
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_1Qx/test_{invoice_id}"),
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": if paid { Value::Null } else { json!(created + 3 * 86400) },
            "number": "ABCD-0001",
            // Since 2025-03-31.basil: no `paid` or `subscription`; the
            // subscription is under `parent`.
            "parent": { "type": "subscription_details", "quote_details": null,
                        "subscription_details": { "metadata": {}, "subscription": "sub_1QxTestSub0001" } },
            "status": if paid { "paid" } else { "open" },
            "total": 2900
        }),
    )
}

pub fn charge_refunded(id: &str, created: i64, customer: &str) -> Value {
    event(
        id,
        "charge.refunded",
        created,
        json!({
            "id": "ch_3QxTestCharge01", "object": "charge", "amount": 2900, "amount_refunded": 2900,
            "currency": "usd", "customer": customer, "paid": true, "refunded": true, "status": "succeeded"
        }),
    )
}

pub fn dispute_created(id: &str, created: i64, customer: &str) -> Value {
    event(
        id,
        "charge.dispute.created",
        created,
        json!({
            "id": "dp_1QxTestDispute1", "object": "dispute", "amount": 2900, "currency": "usd",
            "charge": { "id": "ch_3QxTestCharge01", "object": "charge", "customer": customer },
            "evidence": { "customer_email_address": null }, "reason": "fraudulent", "status": "needs_response"
        }),
    )
}

/// The last automatic attempt failed: Stripe will not retry
/// (`next_payment_attempt` null, `attempt_count` 4 with Smart Retries).
pub fn invoice_final_failure(
    id: &str,
    created: i64,
    customer: &str,
    invoice_id: &str,
    email: &str,
) -> Value {
    let mut ev = invoice(
        id,
        "invoice.payment_failed",
        created,
        customer,
        invoice_id,
        email,
        false,
    );
    ev["data"]["object"]["attempt_count"] = json!(4);
    ev["data"]["object"]["next_payment_attempt"] = Value::Null;
    ev
}

/// A closed dispute as a webhook carries it: `charge` is an id (not
/// expanded), so the member is found by the evidence email, if any.
pub fn dispute_closed(id: &str, created: i64, evidence_email: Option<&str>, status: &str) -> Value {
    event(
        id,
        "charge.dispute.closed",
        created,
        json!({
            "id": "dp_1QxTestDispute1", "object": "dispute", "amount": 2900,
            "balance_transactions": [], "charge": "ch_3QxTestCharge01", "created": created - 86400 * 30,
            "currency": "usd",
            "evidence": { "customer_email_address": evidence_email, "customer_name": "Jane Doe", "uncategorized_text": null },
            "evidence_details": { "due_by": created - 86400 * 20, "has_evidence": true, "past_due": false, "submission_count": 1 },
            "is_charge_refundable": false, "livemode": false, "metadata": {},
            "payment_intent": "pi_3QxTestIntent01", "reason": "fraudulent", "status": status
        }),
    )
}

/// `customer.deleted`: the customer object as it was when deleted.
pub fn customer_deleted(id: &str, created: i64, customer: &str, email: &str) -> Value {
    event(
        id,
        "customer.deleted",
        created,
        json!({
            "id": customer, "object": "customer", "balance": 0, "created": created - 86400 * 90,
            "currency": "usd", "default_source": null, "delinquent": false, "description": null,
            "email": email, "invoice_prefix": "ABCD", "livemode": false, "metadata": {},
            "name": "Jane Doe", "phone": null, "preferred_locales": [], "tax_exempt": "none"
        }),
    )
}
