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
    event(
        id,
        "checkout.session.completed",
        created,
        json!({
            "id": format!("cs_test_{}", &id[4..]),
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
            "payment_status": "paid",
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
            "status": status,
            "trial_end": null
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
            "paid": paid,
            "status": if paid { "paid" } else { "open" },
            "subscription": "sub_1QxTestSub0001",
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
