//! What the Stripe webhook pays before it touches a store: verifying the
//! `Stripe-Signature` over the raw body, then parsing the body as JSON, for
//! a realistic ~3 KB `checkout.session.completed` event (pretty-printed, as
//! Stripe sends it). Run with `cargo bench --bench signature`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opsbridge::secret::Secret;
use opsbridge::signature::stripe;
use serde_json::{json, Value};

const T: i64 = 1_763_900_000;

/// A `checkout.session.completed` event shaped like Stripe's (API 2024-06-20).
fn checkout_completed() -> Vec<u8> {
    let address = json!({
        "city": "Berlin", "country": "DE", "line1": "Torstraße 140", "line2": null,
        "postal_code": "10119", "state": null
    });
    let customer_details = json!({
        "address": address, "email": "jo.founder@example.com", "name": "Jo Founder",
        "phone": null, "tax_exempt": "none",
        "tax_ids": [{"type": "eu_vat", "value": "DE123456789"}]
    });
    let total_details = json!({"amount_discount": 0, "amount_shipping": 0, "amount_tax": 931});
    let mut session = json!({
        "id": "cs_live_b1Xq7rZ3yH0mXJtQpZ1cVbN8vKxP2sLdW4eR6tY9uI0oA5sD7fG",
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": false},
        "after_expiration": null, "allow_promotion_codes": true,
        "amount_subtotal": 4900, "amount_total": 5831,
        "automatic_tax": {"enabled": true, "liability": {"type": "self"}, "status": "complete"},
        "billing_address_collection": "required",
        "cancel_url": "https://app.example.com/billing?canceled=1",
        "client_reference_id": "usr_01JD3W8Q6N2V5K7M9P4R",
        "client_secret": null, "consent": null, "consent_collection": null,
        "created": T - 95, "currency": "eur", "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null,
                        "terms_of_service_acceptance": null},
        "customer": "cus_R4nD0mCuSt0m3r",
        "customer_creation": "always",
        "customer_details": customer_details,
        "customer_email": "jo.founder@example.com",
        "discounts": [{"coupon": null, "promotion_code": "promo_1QxLaunch50"}],
        "expires_at": T + 86_305,
        "invoice": "in_1QxYzAbCdEfGhIjKlMnOpQr",
        "invoice_creation": null,
        "livemode": true, "locale": "auto",
        "metadata": {"plan": "pro", "seats": "3", "utm_campaign": "launch-week"},
        "mode": "subscription"
    });
    let rest = json!({
        "payment_intent": null, "payment_link": null,
        "payment_method_collection": "always",
        "payment_method_configuration_details": {"id": "pmc_1PqRsTuVwXyZ", "parent": null},
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card", "link", "sepa_debit"],
        "payment_status": "paid",
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": {"allow_redisplay_filters": ["always"],
            "payment_method_remove": null, "payment_method_save": null},
        "setup_intent": null, "shipping_address_collection": null, "shipping_cost": null,
        "shipping_details": null, "shipping_options": [],
        "status": "complete", "submit_type": null,
        "subscription": "sub_1QxYzSuBsCrIpTiOn0001",
        "success_url": "https://app.example.com/welcome?session_id={CHECKOUT_SESSION_ID}",
        "total_details": total_details,
        "ui_mode": "hosted", "url": null
    });
    if let (Some(session), Value::Object(rest)) = (session.as_object_mut(), rest) {
        session.extend(rest);
    }
    let event = json!({
        "id": "evt_1QxYzAbCdEfGhIjKlMnOpQrS",
        "object": "event",
        "api_version": "2024-06-20",
        "created": T - 2,
        "data": {"object": session},
        "livemode": true,
        "pending_webhooks": 2,
        "request": {"id": null, "idempotency_key": null},
        "type": "checkout.session.completed"
    });
    serde_json::to_vec_pretty(&event).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let body = checkout_completed();
    let secrets = [Secret::new("whsec_FAKE_bench_secret")];
    let header = stripe::sign(&body, &secrets[0], T);
    assert!(stripe::verify(Some(&header), &body, &secrets, 300, T).is_ok());
    eprintln!("event body: {} bytes", body.len());

    let mut group = c.benchmark_group("stripe_webhook");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("verify", |b| {
        b.iter(|| stripe::verify(black_box(Some(&header)), black_box(&body), &secrets, 300, T))
    });
    group.bench_function("parse", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&body)))
    });
    group.bench_function("verify_then_parse", |b| {
        b.iter(|| {
            stripe::verify(black_box(Some(&header)), black_box(&body), &secrets, 300, T)
                .map(|_| serde_json::from_slice::<Value>(&body))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
