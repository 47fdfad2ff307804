//! Each rule's query plans on its own index, even before any ANALYZE (a
//! fresh install; a pooled connection keeps its generic plan while the
//! tables grow). The benchmark (`scripts/bench/watchdog.sh`) shows the same
//! plans with 1M old jobs, events and requests, and the rows they read.

use opsbridge::watchdog::requests;
use opsbridge::watchdog::rules::{backlog, integration, provisioning};

use crate::helpers::{generic_plan, spawn_app};

/// The names of the indexes `plan` scans, deduplicated, in order.
fn indexes(plan: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for name in plan
        .split(" using ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
    {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[tokio::test]
async fn each_rule_query_and_the_prune_read_an_index_and_never_scan_a_table() {
    let t = spawn_app().await;
    let client = t.direct().await;
    for (sql, args, want) in [
        (
            integration::SQL,
            "ARRAY['hubspot', 'slack'], now()",
            vec!["integration_requests_window"],
        ),
        (
            provisioning::SQL,
            "now()",
            vec!["jobs_paid_access_undelivered"],
        ),
        (
            backlog::SQL,
            "ARRAY['crm_upsert', 'app_webhook'], now(), 1000",
            vec!["jobs_due"],
        ),
        (
            requests::PRUNE_SQL,
            "now(), 5000",
            vec!["integration_requests_pkey"],
        ),
    ] {
        let plan = generic_plan(&client, sql, args).await;
        assert_eq!(indexes(&plan), want, "{plan}");
        assert!(!plan.contains("Seq Scan on"), "{plan}");
    }
}
