//! Plans made before any ANALYZE (a fresh install, the first minute of a
//! burst) use the lookup's own index. A pooled connection keeps such a plan
//! while the table grows, so a wrong index here costs a scan of the whole
//! index per request until autovacuum's next ANALYZE (migration 0008).
//!
//! Each statement is prepared on the app's empty schema with the generic
//! plan forced, the plan a prepared statement settles on, and explained.

use opsbridge::db::Sql;
use opsbridge::members::{
    link::{lookup_all_sql, lookup_sql},
    Identity,
};
use opsbridge::support::store::OPEN_TICKET_SQL;

use crate::helpers::{generic_plan, spawn_app};

/// The names of the indexes `plan` scans, in order (plain, index-only and
/// bitmap index scans alike: each reads only its keys' entries).
fn indexes(plan: &str) -> Vec<&str> {
    plan.lines()
        .filter_map(|line| {
            let (_, rest) = line
                .split_once(" using ")
                .or_else(|| line.split_once("Bitmap Index Scan on "))?;
            rest.split_whitespace().next()
        })
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

/// A batch's statements are cached (direct mode) and keep the generic plan
/// they settle on until the next ANALYZE: one made while `members` held a
/// few pages scans it however large it grows (the bench measured 4 ms a
/// batch at 3,000 members). The batch's transaction (`Tx::keyed`) turns
/// sequential scans off, so that plan is the indexes'.
#[tokio::test]
async fn a_batch_lookup_planned_on_a_small_table_keeps_to_its_indexes() {
    let t = spawn_app().await;
    let client = t.direct().await;
    client
        .batch_execute(
            "INSERT INTO members (email, stripe_customer_id) \
             SELECT 'm' || i || '@example.com', 'cus_' || i FROM generate_series(1, 200) i; \
             ANALYZE members",
        )
        .await
        .unwrap();
    let none = Vec::new();
    let (customers, emails) = (vec!["cus_x".to_string()], vec!["x@example.com".to_string()]);
    let (sql, _) = lookup_all_sql([&none, &customers, &emails]);
    let args = "ARRAY['cus_x'], ARRAY['x@example.com']";
    // Outside such a transaction the generic plan scans the table.
    let plain = generic_plan(&client, &sql, args).await;
    assert!(plain.contains("Seq Scan on members"), "{plain}");

    let plan = keyed_plan(&t, &sql, args).await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert_eq!(
        indexes(&plan),
        ["members_stripe_customer", "members_email_lower"],
        "{plan}"
    );
}

/// The generic plan of `sql` in a batch's transaction (`Tx::keyed`).
async fn keyed_plan(t: &crate::helpers::TestApp, sql: &str, args: &str) -> String {
    let tx = t.app.db.get().await.unwrap().begin_keyed();
    tx.batch_execute(&format!(
        "SET LOCAL plan_cache_mode = force_generic_plan; PREPARE probe AS {sql}"
    ))
    .await
    .unwrap();
    let rows = tx
        .query(&format!("EXPLAIN EXECUTE probe({args})"), &[])
        .await
        .unwrap();
    tx.batch_execute("DEALLOCATE probe").await.unwrap();
    tx.rollback().await.unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    plan.join("\n")
}

/// An app batch's other reads: the stored check by event id, and the newest
/// applied event of each member found by user id.
#[tokio::test]
async fn an_app_batch_reads_stored_events_and_the_newest_by_their_indexes() {
    let t = spawn_app().await;
    let stored = keyed_plan(&t, opsbridge::product::batch::STORED_SQL, "ARRAY['evt_1']").await;
    assert!(!stored.contains("Seq Scan"), "{stored}");
    assert_eq!(
        indexes(&stored),
        ["events_source_event_id", "members_pkey"],
        "{stored}"
    );
    let newest = keyed_plan(&t, opsbridge::product::decide::NEWEST_SQL, "ARRAY['usr_1']").await;
    assert!(!newest.contains("Seq Scan"), "{newest}");
    assert_eq!(
        indexes(&newest),
        ["members_app_user", "events_member"],
        "{newest}"
    );
}
