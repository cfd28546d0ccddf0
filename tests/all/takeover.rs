//! The fleet's engine side against a real Postgres (`DBOS_TEST_DATABASE_URL`): a process's liveness
//! lock on its listener session and its registry row, and `take_over_dead_executors`: only registered
//! executors (never one that only has rows, as an official-SDK process), only once
//! their key is free for the grace period, only this application and version's PENDING rows, put back
//! on their queues as the SDK's recovery does. `__test__/takeover*.test.ts` run whole processes.

use std::time::Duration;

use dbos_native::engine::fleet::liveness::{liveness_key, LIVENESS_SPACE};
use dbos_native::engine::{Engine, EngineOptions, Identity, SchemaMode};
use tokio_postgres::{Client, NoTls};

use crate::common::{fresh_engine, TestEngine};

const APP: &str = "takeover-test";

async fn engine_as(url: &str, executor_id: &str) -> Engine {
    Engine::connect(EngineOptions {
        url: url.to_string(),
        schema: "dbos".to_string(),
        pool_size: 2,
        schema_mode: SchemaMode::Verify,
        listen: true,
        listen_notify: true,
        listen_url: None,
        transaction_pooling: false,
        identity: Identity {
            app_name: APP.to_string(),
            executor_id: executor_id.to_string(),
            app_version: "v1".to_string(),
        },
    })
    .await
    .expect("engine")
}

/// The sessions holding `executor`'s liveness key in this database (keys are per database), by application name.
async fn holders(c: &Client, executor: &str) -> Vec<String> {
    c.query(
        "SELECT coalesce(a.application_name, '') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2 AND l.granted \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[&i64::from(LIVENESS_SPACE), &i64::from(liveness_key(executor) as u32)],
    )
    .await
    .expect("pg_locks")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn until_holders(c: &Client, executor: &str, n: usize) {
    for _ in 0..400 {
        if holders(c, executor).await.len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{executor}'s key never had {n} holders");
}

/// The executors registered as ours.
async fn registered(c: &Client) -> Vec<String> {
    c.query(
        "SELECT key FROM dbos.event_dispatch_kv WHERE service_name = 'dbos-native' AND workflow_fn_name = 'liveness' ORDER BY key",
        &[],
    )
    .await
    .expect("registry")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Every row as `id status executor queue owner`.
async fn rows(c: &Client) -> Vec<String> {
    c.query(
        "SELECT workflow_uuid || ' ' || status || ' ' || executor_id || ' ' || coalesce(queue_name, '-') || ' ' || coalesce(owner_xid, '-') \
         FROM dbos.workflow_status ORDER BY workflow_uuid",
        &[],
    )
    .await
    .expect("rows")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_executor_of_ours_is_taken_over_once_after_the_grace_and_nothing_else_is() {
    let how = TestEngine {
        app_name: APP,
        pool_size: 2,
        listen: true,
    };
    let (url, taker) = fresh_engine("takeover", how).await;
    let (c, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    let doomed = engine_as(&url, "doomed").await;
    until_holders(&c, "doomed", 1).await;
    assert_eq!(
        holders(&c, "doomed").await,
        vec!["dbos_native_listener_doomed"]
    );
    until_holders(&c, "local", 1).await;
    for _ in 0..400 {
        if registered(&c).await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(registered(&c).await, vec!["doomed", "local"]);

    // doomed's rows: direct (the internal queue), on queue q1, of another version, of another app, done;
    // and a PENDING row of `stranger`, an executor that never held a key (an official-SDK process).
    c.batch_execute(&format!(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, executor_id, application_version, application_name, queue_name, owner_xid) VALUES \
         ('d-direct', 'PENDING', 'wf', 'doomed', 'v1', '{APP}', NULL, 'x1'), \
         ('d-queued', 'PENDING', 'wf', 'doomed', 'v1', '{APP}', 'q1', 'x2'), \
         ('d-v2', 'PENDING', 'wf', 'doomed', 'v2', '{APP}', NULL, 'x3'), \
         ('d-other-app', 'PENDING', 'wf', 'doomed', 'v1', 'other', NULL, 'x4'), \
         ('d-done', 'SUCCESS', 'wf', 'doomed', 'v1', '{APP}', NULL, NULL), \
         ('s-direct', 'PENDING', 'wf', 'stranger', 'v1', '{APP}', NULL, 'x5')"
    ))
    .await
    .expect("insert rows");
    let before = rows(&c).await;

    // Alive: seen, not taken.
    let grace0 = Duration::ZERO;
    assert!(taker
        .take_over_dead_executors(grace0)
        .await
        .expect("look")
        .is_empty());

    // Its listener session ends: the key is free. Not before the grace period.
    doomed.close();
    until_holders(&c, "doomed", 0).await;
    assert!(taker
        .take_over_dead_executors(Duration::from_secs(600))
        .await
        .expect("look")
        .is_empty());
    // Another session holding the key (a taker mid-takeover, or the executor back): not taken.
    let (other, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    other
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&LIVENESS_SPACE, &liveness_key("doomed")],
        )
        .await
        .expect("hold the key");
    assert!(taker
        .take_over_dead_executors(grace0)
        .await
        .expect("look")
        .is_empty());
    assert_eq!(rows(&c).await, before);
    drop(other);
    until_holders(&c, "doomed", 0).await;

    let moved = taker.take_over_dead_executors(grace0).await.expect("take");
    assert_eq!(moved.len(), 1);
    let t = &moved[0];
    assert_eq!(t.executor_id, "doomed");
    let mut ids = t.workflow_ids.clone();
    ids.sort();
    assert_eq!(ids, vec!["d-direct", "d-queued"]);
    assert_eq!(t.queues, vec!["_dbos_internal_queue", "q1"]);
    assert_eq!(
        rows(&c).await,
        vec![
            "d-direct ENQUEUED doomed _dbos_internal_queue -",
            "d-done SUCCESS doomed - -",
            "d-other-app PENDING doomed - x4",
            "d-queued ENQUEUED doomed q1 -",
            "d-v2 PENDING doomed - x3",
            "s-direct PENDING stranger - x5",
        ]
    );
    // It keeps its registry row while it has PENDING rows (of another version or application).
    assert_eq!(registered(&c).await, vec!["doomed", "local"]);
    // The stranger is never taken however long it holds no key; doomed has nothing more to move.
    assert!(taker
        .take_over_dead_executors(grace0)
        .await
        .expect("look")
        .is_empty());
    // With no PENDING row left, the next takeover of doomed drops it from the registry.
    c.batch_execute("UPDATE dbos.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid IN ('d-v2', 'd-other-app')")
        .await
        .expect("finish the rest");
    assert!(taker
        .take_over_dead_executors(grace0)
        .await
        .expect("look")
        .is_empty());
    assert_eq!(registered(&c).await, vec!["local"]);
    assert_eq!(
        rows(&c)
            .await
            .iter()
            .filter(|r| r.starts_with("s-direct PENDING stranger"))
            .count(),
        1
    );
    taker.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_listener_takes_its_lock_again() {
    let how = TestEngine {
        app_name: APP,
        pool_size: 1,
        listen: true,
    };
    let (url, engine) = fresh_engine("takeover_relock", how).await;
    let (c, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    until_holders(&c, "local", 1).await;
    c.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dbos_native_listener_local'",
        &[],
    )
    .await
    .expect("cut the listener");
    until_holders(&c, "local", 0).await;
    // The listener reconnects after a second and holds its key again.
    until_holders(&c, "local", 1).await;
    engine.close();
}
