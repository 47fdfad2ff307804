//! Plans made before any ANALYZE (a fresh install, the first minute of a
//! burst) use the lookup's own index. A pooled connection keeps such a plan
//! while the table grows, so a wrong index here costs a scan of the whole
//! index per request until autovacuum's next ANALYZE (migration 0008).
//!
//! Each statement is prepared on the app's empty schema with the generic
//! plan forced, the plan a prepared statement settles on, and explained.

use opsbridge::members::{
    link::{lookup_all_sql, lookup_sql},
    Identity,
};
use opsbridge::support::store::OPEN_TICKET_SQL;

use crate::helpers::{generic_plan, spawn_app};

/// The names of the indexes `plan` scans, in order.
fn indexes(plan: &str) -> Vec<&str> {
    plan.split(" using ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .collect()
}

#[tokio::test]
async fn each_identity_branch_of_the_member_lookup_uses_its_own_index() {
    let t = spawn_app().await;
    let client = t.direct().await;
    let some = |s: &str| Some(s.to_string());
    for (id, want) in [
        (
            Identity {
                email: some("a@example.com"),
                ..Identity::default()
            },
            vec!["members_email_lower"],
        ),
        (
            Identity {
                user_id: some("u_1"),
                customer_id: some("cus_1"),
                email: some("a@example.com"),
                ..Identity::default()
            },
            vec![
                "members_app_user",
                "members_stripe_customer",
                "members_email_lower",
            ],
        ),
    ] {
        let (sql, params) = lookup_sql(&id);
        let args = vec!["'x'"; params.len()].join(", ");
        let plan = generic_plan(&client, &sql, &args).await;
        assert_eq!(indexes(&plan), want, "{plan}");
    }
}

#[tokio::test]
async fn the_repeat_contact_lookup_uses_the_open_tickets_by_email_index() {
    let t = spawn_app().await;
    let client = t.direct().await;
    let plan = generic_plan(&client, OPEN_TICKET_SQL, "'a@example.com', now()").await;
    assert_eq!(indexes(&plan), ["tickets_open_email"], "{plan}");
}

#[tokio::test]
async fn each_branch_of_a_batch_lookup_uses_its_own_index() {
    let t = spawn_app().await;
    let client = t.direct().await;
    let one = |s: &str| vec![s.to_string()];
    let none = Vec::new();
    let (users, customers, emails) = (one("u_1"), one("cus_1"), one("a@example.com"));
    for (arrays, want) in [
        (
            [&users, &customers, &emails],
            vec![
                "members_app_user",
                "members_stripe_customer",
                "members_email_lower",
            ],
        ),
        (
            [&none, &customers, &emails],
            vec!["members_stripe_customer", "members_email_lower"],
        ),
        ([&none, &none, &emails], vec!["members_email_lower"]),
    ] {
        let (sql, params) = lookup_all_sql(arrays);
        let args = vec!["ARRAY['x']"; params.len()].join(", ");
        let plan = generic_plan(&client, &sql, &args).await;
        assert_eq!(indexes(&plan), want, "{plan}");
    }
}

#[tokio::test]
async fn which_events_of_a_batch_are_stored_is_searched_by_id() {
    let t = spawn_app().await;
    let client = t.direct().await;
    let plan = generic_plan(
        &client,
        opsbridge::stripe::batch::STORED_SQL,
        "ARRAY['evt_1']",
    )
    .await;
    assert_eq!(indexes(&plan), ["events_source_event_id"], "{plan}");
    assert!(plan.contains("Index Cond: ((event_id = ANY"), "{plan}");
}
