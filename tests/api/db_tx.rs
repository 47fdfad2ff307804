//! `db::Tx`: BEGIN sent with the first statement, never after it; an open
//! transaction never goes back to the pool.

use opsbridge::db::{Sql, Tx};

use crate::helpers::{spawn_app_with, TestApp};

async fn probe_count(t: &TestApp) -> i64 {
    t.count("tx_probe").await
}

/// An app with `pool` connections and an empty `tx_probe` table.
async fn probe_app(pool: usize) -> TestApp {
    let t = spawn_app_with(|v| {
        v.insert("DB_POOL_SIZE".into(), pool.to_string());
    })
    .await;
    t.db()
        .await
        .batch_execute("CREATE TABLE tx_probe (n int PRIMARY KEY)")
        .await
        .unwrap();
    t
}

#[tokio::test]
async fn the_first_statements_run_inside_the_transaction_even_on_a_fresh_connection() {
    let t = probe_app(3).await;
    // Statement texts this connection has never prepared: each first
    // statement prepares (a round trip of its own) after BEGIN was sent.
    let tx = Tx::new(t.app.db.get().await.unwrap());
    tx.execute("INSERT INTO tx_probe VALUES (1)", &[])
        .await
        .unwrap();
    tx.execute("INSERT INTO tx_probe VALUES (2)", &[])
        .await
        .unwrap();
    assert_eq!(probe_count(&t).await, 0, "visible before COMMIT");
    let client = tx.rollback().await.unwrap();
    assert_eq!(probe_count(&t).await, 0, "rolled back");

    // Two first statements sent together: both inside the transaction.
    let tx = Tx::new(client);
    tokio::try_join!(
        tx.execute("INSERT INTO tx_probe VALUES (3)", &[]),
        tx.execute("INSERT INTO tx_probe VALUES (4)", &[]),
    )
    .unwrap();
    assert_eq!(probe_count(&t).await, 0, "visible before COMMIT");
    tx.commit().await.unwrap();
    assert_eq!(probe_count(&t).await, 2);

    // A failed statement aborts the whole transaction.
    let tx = Tx::new(t.app.db.get().await.unwrap());
    tx.execute("INSERT INTO tx_probe VALUES (5)", &[])
        .await
        .unwrap();
    assert!(tx
        .execute("INSERT INTO tx_probe VALUES (3)", &[])
        .await
        .is_err());
    // (Postgres answers COMMIT in an aborted transaction with ROLLBACK.)
    let _ = tx.commit().await;
    assert_eq!(probe_count(&t).await, 2, "nothing of it was committed");
}

#[tokio::test]
async fn a_transaction_dropped_while_open_closes_its_connection_instead_of_pooling_it() {
    let t = probe_app(2).await;
    let tx = Tx::new(t.app.db.get().await.unwrap());
    tx.execute("INSERT INTO tx_probe VALUES (1)", &[])
        .await
        .unwrap();
    let pooled = t.app.db.status().size;
    drop(tx); // e.g. a request cancelled mid-transaction
    assert_eq!(
        t.app.db.status().size,
        pooled - 1,
        "the connection left the pool"
    );
    // Every connection the pool hands out is outside any transaction.
    let (a, b) = (t.db().await, t.db().await);
    for c in [&a, &b] {
        let open: bool = c
            .query_one("SELECT pg_current_xact_id_if_assigned() IS NOT NULL", &[])
            .await
            .unwrap()
            .get(0);
        assert!(!open, "a pooled connection is inside a transaction");
    }
    drop((a, b));
    assert_eq!(probe_count(&t).await, 0);

    // A transaction that never sent a statement gives its connection back.
    let pooled = t.app.db.status().size;
    drop(Tx::new(t.app.db.get().await.unwrap()));
    assert_eq!(t.app.db.status().size, pooled);
}

/// Waits until some session waits for an advisory lock.
async fn someone_waits_for_a_lock(t: &TestApp) {
    for _ in 0..500 {
        let waiting: i64 = t
            .db()
            .await
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("nobody waited for the lock");
}

#[tokio::test]
async fn a_statement_sent_behind_a_lock_runs_after_the_lock_is_granted() {
    let t = probe_app(4).await;
    // A unique advisory key per test run (the lock space is database-wide).
    let key: i64 = rand::random::<i64>() & 0x7fff_ffff_ffff;
    // The same client twice: first with the lock statement not yet prepared
    // (its own round trip first), then prepared (truly pipelined).
    let client = t.app.db.get().await.unwrap();
    let mut client = Some(client);
    for (round, n) in [(1, 1), (2, 2)] {
        // A session of its own: its transaction stays open across calls.
        let holder = t.direct().await;
        holder
            .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({key})"))
            .await
            .unwrap();
        let tx = Tx::new(client.take().unwrap());
        let waiter = tokio::spawn(async move {
            let row = tx
                .execute_then(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&key],
                    tx.query_one("SELECT count(*) FROM tx_probe", &[]),
                )
                .await
                .unwrap();
            let seen: i64 = row.get(0);
            (seen, tx.rollback().await.unwrap())
        });
        someone_waits_for_a_lock(&t).await;
        // Committed while the waiter's statements are already on the wire:
        // the count behind the lock must see it.
        holder
            .batch_execute(&format!("INSERT INTO tx_probe VALUES ({n}); COMMIT"))
            .await
            .unwrap();
        let (seen, back) = waiter.await.unwrap();
        assert_eq!(seen, n, "round {round}: the count ran before the lock");
        client = Some(back);
    }
}

#[tokio::test]
async fn when_the_first_statement_fails_its_error_is_returned_not_the_aborted_one() {
    let t = probe_app(2).await;
    let tx = Tx::new(t.app.db.get().await.unwrap());
    let err = tx
        .execute_then(
            "SELECT 1 / $1",
            &[&0i32],
            tx.execute("INSERT INTO tx_probe VALUES (1)", &[]),
        )
        .await
        .unwrap_err();
    let code = err.code().map(|c| c.code().to_string());
    // 22012 division_by_zero, not 25P02 in_failed_sql_transaction.
    assert_eq!(code.as_deref(), Some("22012"), "{err}");
    drop(tx);
    assert_eq!(probe_count(&t).await, 0);
}
