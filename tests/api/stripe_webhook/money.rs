//! Invoices the customer must act on, the last failed attempt, a dispute's
//! outcome and a deleted customer: what each sends, to whom, exactly once.

use http::StatusCode;
use opsbridge::db::Sql;
use serde_json::{json, Value};

use super::lifecycle::console_member;
use crate::app_members::{flush, Fakes};
use crate::fixtures::*;
use crate::helpers::{spawn_app, TestApp};

/// `(dedupe_key, text)` of every Slack alert, in id order.
async fn alerts(t: &TestApp) -> Vec<(String, String)> {
    t.db()
        .await
        .query(
            "SELECT dedupe_key, payload->>'text' FROM jobs WHERE kind = 'slack_alert' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn action_required(id: &str, at: i64, cus: &str, inv: &str, email: &str) -> Value {
    invoice(
        id,
        "invoice.payment_action_required",
        at,
        cus,
        inv,
        email,
        false,
    )
}

#[tokio::test]
async fn a_payment_the_bank_must_confirm_sends_one_email_and_leaves_access_alone() {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    let base = t.clock_now().timestamp() - 500;
    let (cus, email) = ("cus_QxSca01", "sca@example.com");
    t.post_stripe(&checkout_completed(
        "evt_1Sca000001",
        base,
        cus,
        email,
        None,
    ))
    .await;
    let ev = action_required("evt_1Sca000002", base + 100, cus, "in_sca1", email);
    let (a, b) = tokio::join!(t.post_stripe(&ev), t.post_stripe(&ev));
    assert!(a.status.is_success() || b.status.is_success());
    // Stripe asks again for the same invoice: a new event, still one email.
    let again = action_required("evt_1Sca000003", base + 200, cus, "in_sca1", email);
    assert_eq!(t.post_stripe(&again).await.status, StatusCode::OK);
    flush(&t).await;
    let emails = fakes.emails().await;
    assert_eq!(emails.len(), 1, "exactly one confirmation email");
    assert_eq!(
        emails[0].headers["idempotency-key"],
        "action_required/in_sca1"
    );
    let body: Value = emails[0].body_json().unwrap();
    assert_eq!(body["to"], json!([email]));
    assert_eq!(body["subject"], "Please confirm your payment");
    assert_eq!(body["tags"][0]["value"], "action_required");
    let link = "https://invoice.stripe.com/i/acct_1Qx/test_in_sca1";
    assert!(body["text"].as_str().unwrap().contains(link));
    assert!(body["html"].as_str().unwrap().contains(link));
    let m = &console_member(&t, cus).await["member"];
    assert_eq!(
        (m["state"].as_str(), m["access"].as_str()),
        (Some("active"), Some("full"))
    );
    assert_eq!(
        t.count_where("jobs", "dedupe_key LIKE 'dunning/%'").await,
        0
    );
}

#[tokio::test]
async fn the_confirmation_email_is_cancelled_when_the_invoice_is_paid_first() {
    let fakes = Fakes::start().await;
    let t = fakes.spawn().await;
    let base = t.clock_now().timestamp() - 500;
    let (cus, email) = ("cus_QxSca02", "sca2@example.com");
    let client = t.db().await;
    opsbridge::flags::set(&client, "resend", false, "test", "hold", t.clock_now())
        .await
        .unwrap();
    t.post_stripe(&checkout_completed(
        "evt_1Sca100001",
        base,
        cus,
        email,
        None,
    ))
    .await;
    t.post_stripe(&action_required(
        "evt_1Sca100002",
        base + 100,
        cus,
        "in_sca2",
        email,
    ))
    .await;
    t.post_stripe(&invoice(
        "evt_1Sca100003",
        "invoice.paid",
        base + 150,
        cus,
        "in_sca2",
        email,
        true,
    ))
    .await;
    t.post_stripe(&invoice(
        "evt_1Sca100005",
        "invoice.paid",
        base + 110,
        cus,
        "in_sca3",
        email,
        true,
    ))
    .await;
    // Delivered late, after the payment: nothing to ask any more.
    t.post_stripe(&action_required(
        "evt_1Sca100006",
        base + 105,
        cus,
        "in_sca3",
        email,
    ))
    .await;
    opsbridge::flags::set(&client, "resend", true, "test", "", t.clock_now())
        .await
        .unwrap();
    flush(&t).await;
    assert!(
        fakes.emails().await.is_empty(),
        "no email for a paid invoice"
    );
    assert_eq!(
        t.count_where(
            "jobs",
            "dedupe_key = 'action_required/in_sca2' AND state = 'discarded'"
        )
        .await,
        1
    );
    assert_eq!(
        t.count_where("jobs", "dedupe_key = 'action_required/in_sca3'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_final_failed_attempt_is_announced_once_as_final() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let (cus, email) = ("cus_QxFinal01", "final@example.com");
    t.post_stripe(&checkout_completed(
        "evt_1Final0001",
        base,
        cus,
        email,
        None,
    ))
    .await;
    let first = invoice(
        "evt_1Final0002",
        "invoice.payment_failed",
        base + 10,
        cus,
        "in_fin1",
        email,
        false,
    );
    t.post_stripe(&first).await;
    let last = invoice_final_failure("evt_1Final0003", base + 300, cus, "in_fin1", email);
    t.post_stripe(&last).await;
    t.post_stripe(&last).await;
    let sent = alerts(&t).await;
    let keys: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "slack:payment_failed:in_fin1",
            "slack:payment_failed_final:in_fin1"
        ]
    );
    assert!(!sent[0].1.contains("Final"));
    assert!(
        sent[1].1.contains("Final payment attempt failed") && sent[1].1.contains("will not retry")
    );
    assert!(
        sent.iter().all(|(_, text)| !text.contains(email)),
        "raw email in an alert"
    );
    assert_eq!(t.count_where("jobs", "kind = 'customer_email'").await, 1);
    let m = t.member_by_email(email).await.unwrap();
    assert_eq!(m["state"], "past_due", "as today");
}

#[tokio::test]
async fn a_closed_dispute_goes_on_the_timeline_and_alerts_with_its_outcome() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let (cus, email) = ("cus_QxDisp01", "disp@example.com");
    t.post_stripe(&checkout_completed(
        "evt_1Disp00001",
        base,
        cus,
        email,
        None,
    ))
    .await;
    let won = dispute_closed("evt_1Disp00002", base + 100, Some(email), "won");
    t.post_stripe(&won).await;
    t.post_stripe(&won).await;
    let timeline = console_member(&t, cus).await["timeline"].clone();
    let notes: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "stripe_note")
        .filter_map(|l| l["summary"].as_str())
        .collect();
    assert_eq!(
        notes,
        ["dispute dp_1QxTestDispute1 on charge ch_3QxTestCharge01 closed: won"]
    );
    // Without evidence naming the customer, nobody is linked: the alert still goes.
    let mut lost = dispute_closed("evt_1Disp00003", base + 200, None, "lost");
    lost["data"]["object"]["id"] = json!("dp_1QxTestDispute2");
    t.post_stripe(&lost).await;
    let sent = alerts(&t).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, "slack:dispute_closed:dp_1QxTestDispute1");
    assert!(sent[0].1.contains("is closed: won") && sent[0].1.contains("member "));
    assert!(sent[1].1.contains("is closed: lost") && sent[1].1.contains("an unknown customer"));
    let m = &console_member(&t, cus).await["member"];
    assert_eq!(m["state"], "active", "access is left to a person");
    assert_eq!(t.count("members").await, 1);
}

#[tokio::test]
async fn a_deleted_customer_keeps_its_id_and_gets_a_timeline_line() {
    let t = spawn_app().await;
    let base = t.clock_now().timestamp() - 500;
    let (cus, email) = ("cus_QxGone01", "gone@example.com");
    t.post_stripe(&checkout_completed(
        "evt_1Gone00001",
        base,
        cus,
        email,
        None,
    ))
    .await;
    t.post_stripe(&customer_deleted("evt_1Gone00002", base + 100, cus, email))
        .await;
    let found = console_member(&t, cus).await;
    assert_eq!(found["member"]["stripe_customer_id"], cus);
    assert_eq!(found["member"]["state"], "active");
    let line = found["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "stripe_note")
        .expect("a timeline line");
    assert!(line["summary"]
        .as_str()
        .unwrap()
        .contains("deleted in Stripe"));
    // A customer we never knew is stored, and makes no member.
    let stranger = customer_deleted(
        "evt_1Gone00003",
        base + 200,
        "cus_QxNever01",
        "never@example.com",
    );
    assert_eq!(t.post_stripe(&stranger).await.status, StatusCode::OK);
    assert_eq!(t.count("members").await, 1);
    assert_eq!(
        t.count_where("events", "type = 'customer.deleted' AND member_id IS NULL")
            .await,
        1
    );
}
