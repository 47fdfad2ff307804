//! Plans made before any ANALYZE (a fresh install, the first minute of a
//! burst) use the lookup's own index. A pooled connection keeps such a plan
//! while the table grows, so a wrong index here costs a scan of the whole
//! index per request until autovacuum's next ANALYZE (migration 0008).
//!
//! Each statement is prepared on the app's empty schema with the generic
//! plan forced, the plan a prepared statement settles on, and explained.

use opsbridge::members::{
    link::{lookup_sql, LOOKUP_ALL},
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
    let args = "ARRAY['u_1'], ARRAY['cus_1', 'cus_2'], ARRAY['a@example.com']";
    let plan = generic_plan(&client, &LOOKUP_ALL, args).await;
    assert_eq!(
        indexes(&plan),
        [
            "members_app_user",
            "members_stripe_customer",
            "members_email_lower"
        ],
        "{plan}"
    );
}
