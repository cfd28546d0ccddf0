//! Engine tests against a real Postgres: `DBOS_TEST_DATABASE_URL` names a server (any database on it);
//! each test creates its own database. `npm test` starts an embedded server and sets the variable.

use dbos_native::engine::messages::OutgoingMessage;
use dbos_native::engine::recovery::INTERNAL_QUEUE;
use dbos_native::engine::steps::NewCheckpoint;
use dbos_native::engine::workflows::NewWorkflow;
use dbos_native::engine::{Engine, EngineError, EngineOptions, ErrorCode, Identity, SchemaMode};
use std::sync::Arc;
use tokio_postgres::NoTls;

fn server_url() -> String {
    std::env::var("DBOS_TEST_DATABASE_URL").expect(
        "DBOS_TEST_DATABASE_URL must name a Postgres server for the engine tests (npm test sets it)",
    )
}

fn url_for(db: &str) -> String {
    let base = server_url();
    let (head, _) = base.rsplit_once('/').expect("URL with a database path");
    let head = head.to_string();
    // Keep any query string off: the admin URL has none in our harness.
    format!("{head}/{db}")
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&url_for("postgres"), NoTls)
        .await
        .expect("connect to test server");
    tokio::spawn(conn);
    client
}

async fn fresh_db(name: &str) -> String {
    let db = format!("engine_test_{name}");
    admin()
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .expect("drop test database");
    url_for(&db)
}

async fn sql(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// The single number a query returns (a count).
async fn count(url: &str, sql_text: &str) -> i64 {
    sql(url)
        .await
        .query_one(sql_text, &[])
        .await
        .unwrap()
        .get(0)
}

/// Checks the single number a query returns (a count); a failure names the query.
async fn assert_count(url: &str, sql_text: &str, expected: i64) {
    assert_eq!(count(url, sql_text).await, expected, "{sql_text}");
}

fn options(url: &str, executor: &str) -> EngineOptions {
    EngineOptions {
        url: url.to_string(),
        schema: "dbos".to_string(),
        pool_size: 4,
        schema_mode: SchemaMode::Migrate,
        listen: false,
        listen_notify: true,
        listen_url: None,
        transaction_pooling: false,
        identity: Identity {
            app_name: "engine-test".to_string(),
            executor_id: executor.to_string(),
            app_version: "v1".to_string(),
        },
    }
}

/// A fresh database `engine_test_<name>` and an engine connected to it as executor "local" (in an
/// `Arc`, for tests that share it with spawned tasks).
async fn connected(name: &str) -> (String, Arc<Engine>) {
    let url = fresh_db(name).await;
    let engine = Engine::connect(options(&url, "local"))
        .await
        .expect("connect");
    (url, Arc::new(engine))
}

/// Starts `workflow(id, token)`, which must succeed.
async fn start(engine: &Engine, id: &str, token: &str) {
    engine
        .start_workflow(&workflow(id, token))
        .await
        .expect("start");
}

fn workflow(id: &str, token: &str) -> NewWorkflow {
    NewWorkflow {
        workflow_id: id.to_string(),
        status: "PENDING".to_string(),
        name: "wf".to_string(),
        inputs: r#"{"json":[1],"__dbos_serializer":"superjson"}"#.to_string(),
        serialization: Some("js_superjson".to_string()),
        token: token.to_string(),
        ..Default::default()
    }
}

fn message(dest: &str, topic: &str, body: &str, uuid: &str) -> OutgoingMessage {
    OutgoingMessage {
        destination_id: dest.to_string(),
        topic: topic.to_string(),
        message: body.to_string(),
        serialization: Some("portable_json".to_string()),
        message_uuid: uuid.to_string(),
    }
}

fn step(function_id: i32, name: &str, output: &str) -> NewCheckpoint {
    NewCheckpoint {
        function_id,
        name: name.to_string(),
        output: Some(output.to_string()),
        started_at: 1,
        completed_at: 2,
        serialization: Some("js_superjson".to_string()),
        ..Default::default()
    }
}

#[tokio::test]
async fn migrates_fresh_database_to_123_and_leaves_it_alone_after() {
    let url = fresh_db("migrate").await;
    let engine = Engine::connect(options(&url, "local"))
        .await
        .expect("connect");
    let db = sql(&url).await;
    let v: i64 = db
        .query_one("SELECT version FROM dbos.dbos_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 123);
    let tables: i64 = db
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dbos'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        tables >= 12,
        "expected the full schema, found {tables} tables"
    );
    engine.close();
    // A second engine on the same database neither fails nor re-runs DDL (the row count stays 1).
    let again = Engine::connect(options(&url, "local"))
        .await
        .expect("reconnect");
    let rows: i64 = db
        .query_one("SELECT count(*) FROM dbos.dbos_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    again.close();
}

#[tokio::test]
async fn run_migrations_false_rejects_an_unmigrated_database() {
    let url = fresh_db("nomigrate").await;
    admin()
        .await
        .batch_execute("CREATE DATABASE engine_test_nomigrate")
        .await
        .unwrap();
    let mut opts = options(&url, "local");
    opts.schema_mode = SchemaMode::Verify;
    let err = Engine::connect(opts).await.err().expect("must fail");
    assert_eq!(err.code(), ErrorCode::Initialization);
    assert!(
        err.to_string().contains("schema version 0") && err.to_string().contains("requires 123"),
        "{err}"
    );
}

#[tokio::test]
async fn an_empty_version_table_or_a_version_of_0_is_migrated_again() {
    let url = fresh_db("rerun").await;
    admin()
        .await
        .batch_execute("CREATE DATABASE engine_test_rerun")
        .await
        .unwrap();
    // What an SDK leaves if it stops between creating its version table and recording a version.
    sql(&url)
        .await
        .batch_execute(
            "CREATE SCHEMA dbos; CREATE TABLE dbos.dbos_migrations (version bigint NOT NULL, \
             CONSTRAINT dbos_migrations_pkey PRIMARY KEY (version))",
        )
        .await
        .unwrap();
    Engine::connect(options(&url, "local"))
        .await
        .expect("the full schema is built around the empty version table")
        .close();
    let versions = "SELECT count(*) FROM dbos.dbos_migrations WHERE version = 123";
    assert_count(&url, versions, 1).await;
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dbos'";
    let built = count(&url, tables).await;
    assert!(
        built >= 12,
        "expected the full schema, found {built} tables"
    );
    // A full schema recorded at 0 gets the shared migrations again, and ends at 123.
    sql(&url)
        .await
        .batch_execute("UPDATE dbos.dbos_migrations SET version = 0")
        .await
        .unwrap();
    Engine::connect(options(&url, "local"))
        .await
        .expect("a version of 0 on a full schema is migrated again")
        .close();
    assert_count(&url, "SELECT count(*) FROM dbos.dbos_migrations", 1).await;
    assert_count(&url, versions, 1).await;
    assert_count(&url, tables, built).await;
}

#[tokio::test]
async fn a_second_start_of_the_same_id_does_not_execute() {
    let (url, engine) = connected("dupstart").await;
    let first = engine
        .start_workflow(&workflow("w1", "tok-a"))
        .await
        .unwrap();
    assert!(first.should_execute);
    let second = engine
        .start_workflow(&workflow("w1", "tok-b"))
        .await
        .unwrap();
    assert!(!second.should_execute);
    assert_eq!(second.name, "wf");
    let db = sql(&url).await;
    let row = db
        .query_one(
            "SELECT recovery_attempts, owner_xid, creator_xid, status FROM dbos.workflow_status WHERE workflow_uuid = 'w1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("tok-a"));
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("tok-a"));
    assert_eq!(row.get::<_, String>(3), "PENDING");
    let inputs: i64 = db
        .query_one(
            "SELECT count(*) FROM dbos.workflow_input WHERE workflow_uuid = 'w1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(inputs, 1);
    let empty = engine.start_workflow(&workflow("", "tok")).await;
    assert_eq!(
        empty.err().map(|e| e.code()),
        Some(ErrorCode::InvalidArgument)
    );
}

#[tokio::test]
async fn checkpoints_are_fenced_by_owner_and_written_once() {
    let (_, engine) = connected("fencing").await;
    start(&engine, "w2", "tok").await;
    engine
        .record_checkpoint("w2", "tok", &step(0, "s", "1"), true)
        .await
        .expect("owner writes");
    let dup = engine
        .record_checkpoint("w2", "tok", &step(0, "s", "2"), true)
        .await
        .expect_err("slot taken");
    assert!(
        matches!(&dup, EngineError::StepTaken { workflow_id, step_id: 0, step_name }
            if workflow_id == "w2" && step_name == "s"),
        "{dup:?}"
    );
    // Without the conflict check (sleep markers) the first row stays and no error is raised.
    engine
        .record_checkpoint("w2", "tok", &step(0, "s", "3"), false)
        .await
        .unwrap();
    let stranger = engine
        .record_checkpoint("w2", "other", &step(1, "s", "4"), true)
        .await
        .expect_err("fenced");
    assert_eq!(stranger.code(), ErrorCode::WorkflowConflict);
    let missing = engine
        .record_checkpoint("nope", "tok", &step(0, "s", "4"), true)
        .await
        .expect_err("no row");
    assert_eq!(missing.code(), ErrorCode::WorkflowConflict);
    let cps = engine.load_checkpoints("w2").await.unwrap();
    assert_eq!(cps.len(), 1);
    assert_eq!(cps[0].output.as_deref(), Some("1"));
    assert_eq!(
        engine
            .get_checkpoint("w2", 0)
            .await
            .unwrap()
            .map(|c| c.name),
        Some("s".to_string())
    );
}

#[tokio::test]
async fn completion_needs_ownership_and_writes_the_output_row() {
    let (_, engine) = connected("complete").await;
    start(&engine, "w3", "tok").await;
    assert!(!engine
        .complete_workflow("w3", "wrong", "SUCCESS", Some("x"), None)
        .await
        .unwrap());
    assert!(engine
        .complete_workflow("w3", "tok", "SUCCESS", Some("out"), None)
        .await
        .unwrap());
    // Terminal rows are never completed twice.
    assert!(!engine
        .complete_workflow("w3", "tok", "ERROR", None, Some("e"))
        .await
        .unwrap());
    let status = engine.get_workflow_status("w3").await.unwrap().unwrap();
    assert_eq!(status.status, "SUCCESS");
    assert_eq!(status.output.as_deref(), Some("out"));
    assert!(status.completed_at.is_some());
    let outcome = engine.await_outcome("w3", 10, None).await.unwrap().unwrap();
    assert_eq!(outcome.output.as_deref(), Some("out"));
    // A workflow that never finishes: the wait ends at the deadline with None.
    start(&engine, "w3b", "t").await;
    let deadline = dbos_native::engine::db::now_ms() + 50;
    assert!(engine
        .await_outcome("w3b", 10, Some(deadline))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn recovery_claims_this_executors_pending_rows_and_fences_the_old_run() {
    let url = fresh_db("recovery").await;
    let engine = Engine::connect(options(&url, "exec-a")).await.unwrap();
    let other = Engine::connect(options(&url, "exec-b")).await.unwrap();
    start(&engine, "mine", "old").await;
    other
        .start_workflow(&workflow("theirs", "t2"))
        .await
        .unwrap();
    engine
        .record_checkpoint("mine", "old", &step(0, "s", "1"), true)
        .await
        .unwrap();

    // Claimed in the recovery statement itself: never ENQUEUED, so no other process can take it.
    let claimed = engine.recover_pending().await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(other
        .claim_queued(INTERNAL_QUEUE, 100)
        .await
        .unwrap()
        .is_empty());
    let c = &claimed[0];
    assert_eq!(c.workflow_id, "mine");
    assert_eq!(c.recovery_attempts, 2);
    assert_eq!(c.name, "wf");
    assert!(c.inputs.as_deref().unwrap_or("").contains("superjson"));
    // The pre-crash execution is fenced out; the claim's token owns the row now.
    let fenced = engine
        .record_checkpoint("mine", "old", &step(1, "s", "2"), true)
        .await
        .err()
        .unwrap();
    assert_eq!(fenced.code(), ErrorCode::WorkflowConflict);
    engine
        .record_checkpoint("mine", &c.token, &step(1, "s", "2"), true)
        .await
        .unwrap();
    // Nothing left to claim, and the other executor's row was not touched.
    assert!(engine
        .claim_queued(INTERNAL_QUEUE, 100)
        .await
        .unwrap()
        .is_empty());
    let theirs = engine.get_workflow_status("theirs").await.unwrap().unwrap();
    assert_eq!(theirs.status, "PENDING");
    let mine = engine.get_workflow_status("mine").await.unwrap().unwrap();
    assert_eq!(mine.queue_name.as_deref(), Some(INTERNAL_QUEUE));
    assert!(!engine.dead_letter("mine", 3).await.unwrap());
    assert!(engine.dead_letter("mine", 2).await.unwrap());
    let dead = engine.get_workflow_status("mine").await.unwrap().unwrap();
    assert_eq!(dead.status, "MAX_RECOVERY_ATTEMPTS_EXCEEDED");
}

#[tokio::test]
async fn recovery_puts_pending_rows_of_application_queues_back_on_their_queue() {
    let (url, engine) = connected("recovery_requeue").await;
    start(&engine, "queued", "old").await;
    start(&engine, "direct", "old2").await;
    sql(&url)
        .await
        .batch_execute("UPDATE dbos.workflow_status SET queue_name = 'app-q', started_at_epoch_ms = 1 WHERE workflow_uuid = 'queued'")
        .await
        .unwrap();
    let before = engine.get_workflow_status("queued").await.unwrap().unwrap();

    // Only the directly started row is claimed here; the queued one waits for its queue's dispatch.
    let claimed = engine.recover_pending().await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|c| c.workflow_id.as_str()).collect();
    assert_eq!(ids, vec!["direct"]);
    let row = engine.get_workflow_status("queued").await.unwrap().unwrap();
    assert_eq!(row.status, "ENQUEUED");
    assert_eq!(row.queue_name.as_deref(), Some("app-q"));
    assert_eq!(row.started_at_epoch_ms, None);
    assert_eq!(
        row.created_at, before.created_at,
        "at the head of its queue"
    );
    assert_eq!(
        row.recovery_attempts, before.recovery_attempts,
        "the claim counts the attempt"
    );
    let fenced = engine
        .record_checkpoint("queued", "old", &step(0, "s", "1"), true)
        .await
        .err()
        .unwrap();
    assert_eq!(fenced.code(), ErrorCode::WorkflowConflict);
    let again = engine.claim_queued("app-q", 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].recovery_attempts,
        before.recovery_attempts.unwrap_or(0) + 1
    );
}

#[tokio::test]
async fn child_start_records_the_parents_checkpoint_in_the_same_transaction() {
    let (_, engine) = connected("child").await;
    start(&engine, "parent", "ptok").await;
    let mut child = workflow("parent-0", "ctok");
    child.name = "childWf".to_string();
    child.parent_workflow_id = Some("parent".to_string());
    let out = engine
        .start_child_workflow("parent", "ptok", 0, &child)
        .await
        .unwrap();
    assert!(out.should_execute);
    let cp = engine.get_checkpoint("parent", 0).await.unwrap().unwrap();
    assert_eq!(cp.name, "childWf");
    assert_eq!(cp.child_workflow_id.as_deref(), Some("parent-0"));
    // A fenced-out parent cannot start children: nothing is written.
    let mut child2 = workflow("parent-1", "c2");
    child2.name = "childWf".to_string();
    let err = engine
        .start_child_workflow("parent", "stale", 1, &child2)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::WorkflowConflict);
    assert!(engine
        .get_workflow_status("parent-1")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn calls_after_close_fail_with_shutdown() {
    let (_, engine) = connected("close").await;
    engine.close();
    engine.close();
    let err = engine.get_workflow_status("x").await.err().unwrap();
    assert_eq!(err.code(), ErrorCode::Shutdown);
}

mod communication {
    use super::*;
    use dbos_native::engine::db::now_ms;
    use dbos_native::engine::listener::WaitGuard;
    use dbos_native::engine::messages::{SendContext, NULL_TOPIC};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn send_to_a_missing_workflow_is_an_error_and_stores_nothing() {
        let (url, engine) = connected("send_missing").await;
        let err = engine
            .send(
                &message("ghost", NULL_TOPIC, "1", "m1"),
                SendContext::Outside,
            )
            .await
            .expect_err("no destination");
        assert!(
            matches!(&err, EngineError::NoSuchDestination { workflow_id } if workflow_id == "ghost"),
            "{err:?}"
        );
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 0).await;
    }

    #[tokio::test]
    async fn workflow_send_is_exactly_once_and_idempotency_keys_dedupe() {
        let (url, engine) = connected("send_once").await;
        start(&engine, "dest", "d").await;
        start(&engine, "src", "s").await;
        let ctx = || SendContext::Workflow {
            workflow_id: "src",
            token: "s",
            function_id: 0,
            started_at: 1,
        };
        engine
            .send(&message("dest", "t", "1", "u1"), ctx())
            .await
            .unwrap();
        let again = engine
            .send(&message("dest", "t", "1", "u2"), ctx())
            .await
            .expect_err("slot taken");
        assert_eq!(again.code(), ErrorCode::StepNondeterminism);
        let stale = engine
            .send(
                &message("dest", "t", "1", "u3"),
                SendContext::Workflow {
                    workflow_id: "src",
                    token: "old",
                    function_id: 1,
                    started_at: 1,
                },
            )
            .await
            .expect_err("fenced");
        assert_eq!(stale.code(), ErrorCode::WorkflowConflict);
        for _ in 0..2 {
            engine
                .send(
                    &message("dest", "t", "2", "key::dest"),
                    SendContext::Outside,
                )
                .await
                .unwrap();
        }
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 2).await;
        let cp = engine.get_checkpoint("src", 0).await.unwrap().unwrap();
        assert_eq!(cp.name, "DBOS.send");
        assert_eq!(cp.serialization.as_deref(), Some("portable_json"));
    }

    #[tokio::test]
    async fn recv_consumes_in_order_records_and_times_out_with_null() {
        let (url, engine) = connected("recv_fifo").await;
        start(&engine, "rx", "tok").await;
        for (i, body) in ["\"a\"", "\"b\""].iter().enumerate() {
            engine
                .send(
                    &message("rx", "t", body, &format!("m{i}")),
                    SendContext::Outside,
                )
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let soon = now_ms() + 2000;
        let first = engine
            .recv("rx", "tok", 0, "t", soon, 1, 10_000)
            .await
            .unwrap();
        let second = engine
            .recv("rx", "tok", 2, "t", soon, 1, 10_000)
            .await
            .unwrap();
        assert_eq!(first.message.as_deref(), Some("\"a\""));
        assert_eq!(second.message.as_deref(), Some("\"b\""));
        let consumed: Vec<(String, Option<i32>)> = sql(&url)
            .await
            .query(
                "SELECT message, consumed_by_function_id FROM dbos.notifications WHERE consumed ORDER BY created_at_epoch_ms",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            consumed,
            vec![
                ("\"a\"".to_string(), Some(0)),
                ("\"b\"".to_string(), Some(2))
            ]
        );
        let t0 = Instant::now();
        let none = engine
            .recv("rx", "tok", 4, "t", now_ms() + 150, 1, 10_000)
            .await
            .unwrap();
        assert!(none.message.is_none());
        assert!(t0.elapsed() >= Duration::from_millis(140));
        let cp = engine.get_checkpoint("rx", 4).await.unwrap().unwrap();
        assert_eq!(cp.name, "DBOS.recv");
        assert!(cp.output.is_none() && cp.serialization.is_none());
    }

    #[tokio::test]
    async fn a_first_try_records_the_deadline_in_its_own_statement_and_an_earlier_record_wins() {
        use dbos_native::engine::messages::RecvDeadline;
        let (url, engine) = connected("recv_deadline").await;
        start(&engine, "rx", "tok").await;
        let db = sql(&url).await;
        db.batch_execute(
            "CREATE TABLE public.cps (function_id int, name text, xid xid8); \
             CREATE FUNCTION public.trace_cp() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO public.cps VALUES (NEW.function_id, NEW.function_name, pg_current_xact_id()); \
             RETURN NEW; END $$; \
             CREATE TRIGGER trace_cp AFTER INSERT ON dbos.operation_outputs \
             FOR EACH ROW EXECUTE FUNCTION public.trace_cp();",
        )
        .await
        .unwrap();
        engine
            .send(&message("rx", "t", "\"a\"", "m0"), SendContext::Outside)
            .await
            .unwrap();
        let at = now_ms() + 60_000;
        let deadline = RecvDeadline {
            epoch_ms: at,
            record: true,
        };
        let got = engine
            .recv_until("rx", "tok", 0, "t", deadline, 1, 10_000)
            .await
            .unwrap();
        assert_eq!(got.message.as_deref(), Some("\"a\""));
        let rows = db
            .query(
                "SELECT function_id, name, xid::text FROM public.cps ORDER BY function_id",
                &[],
            )
            .await
            .unwrap();
        let seen: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            seen,
            vec![(0, "DBOS.recv".to_string()), (1, "DBOS.sleep".to_string())]
        );
        assert_eq!(
            rows[0].get::<_, String>(2),
            rows[1].get::<_, String>(2),
            "recv and its deadline in one transaction"
        );
        let cp = engine.get_checkpoint("rx", 1).await.unwrap().unwrap();
        assert_eq!(cp.output, Some(at.to_string()));

        // No message yet: the deadline is durable while the recv waits.
        let waiting = {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move {
                let deadline = RecvDeadline {
                    epoch_ms: now_ms() + 60_000,
                    record: true,
                };
                engine
                    .recv_until("rx", "tok", 2, "t", deadline, 1, 10_000)
                    .await
            })
        };
        let mut recorded = None;
        for _ in 0..200 {
            recorded = engine.get_checkpoint("rx", 3).await.unwrap();
            if recorded.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(recorded.map(|c| c.name).as_deref(), Some("DBOS.sleep"));
        engine
            .send(&message("rx", "t", "\"b\"", "m1"), SendContext::Outside)
            .await
            .unwrap();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got.message.as_deref(), Some("\"b\""));

        // A deadline recorded by an earlier run stays.
        engine
            .record_checkpoint(
                "rx",
                "tok",
                &{
                    let mut c = step(5, "DBOS.sleep", "123");
                    c.serialization = Some("portable_json".to_string());
                    c
                },
                false,
            )
            .await
            .unwrap();
        let deadline = RecvDeadline {
            epoch_ms: now_ms() + 100,
            record: true,
        };
        let none = engine
            .recv_until("rx", "tok", 4, "t", deadline, 1, 10_000)
            .await
            .unwrap();
        assert!(none.message.is_none());
        let cp = engine.get_checkpoint("rx", 5).await.unwrap().unwrap();
        assert_eq!(cp.output.as_deref(), Some("123"));
    }

    #[tokio::test]
    async fn a_waiting_recv_is_woken_by_notify_not_by_polling() {
        let (url, engine) = connected("recv_wake").await;
        start(&engine, "rx", "tok").await;
        engine.listener().await;
        let writer = sql(&url).await;
        let t0 = Instant::now();
        let (got, _) = tokio::join!(
            engine.recv("rx", "tok", 0, "t", now_ms() + 20_000, 1, 60_000),
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                // A foreign writer: the table's trigger sends the NOTIFY.
                writer
                    .execute(
                        "INSERT INTO dbos.notifications (destination_uuid, topic, message, serialization) VALUES ('rx', 't', '42', 'portable_json')",
                        &[],
                    )
                    .await
                    .unwrap();
            }
        );
        assert_eq!(got.unwrap().message.as_deref(), Some("42"));
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn a_wait_stops_when_its_workflow_loses_ownership() {
        let (url, engine) = connected("recv_fenced").await;
        start(&engine, "rx", "tok").await;
        let db = sql(&url).await;
        let (got, _) = tokio::join!(
            engine.recv("rx", "tok", 0, "t", now_ms() + 20_000, 1, 60_000),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                db.execute(
                    "UPDATE dbos.workflow_status SET status = 'CANCELLED', owner_xid = NULL WHERE workflow_uuid = 'rx'",
                    &[],
                )
                .await
                .unwrap();
                engine.wake("rx::t").await;
            }
        );
        assert_eq!(got.expect_err("fenced").code(), ErrorCode::WorkflowConflict);
    }

    #[tokio::test]
    async fn events_upsert_keep_history_notify_and_wake_getters() {
        let (url, engine) = connected("events").await;
        let reader = Engine::connect(options(&url, "other")).await.unwrap();
        start(&engine, "ev", "tok").await;
        assert!(reader
            .get_event("ev", "k", Some(now_ms()), 1000, None)
            .await
            .unwrap()
            .is_none());
        let t0 = Instant::now();
        let (got, _) = tokio::join!(
            reader.get_event("ev", "k", Some(now_ms() + 20_000), 60_000, None),
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                engine
                    .set_event("ev", "tok", 0, "k", "1", Some("portable_json"), 1)
                    .await
                    .unwrap();
            }
        );
        assert_eq!(got.unwrap().unwrap().value, "1");
        assert!(t0.elapsed() < Duration::from_secs(5));
        engine
            .set_event("ev", "tok", 1, "k", "2", Some("js_superjson"), 1)
            .await
            .unwrap();
        let latest = reader.read_event("ev", "k").await.unwrap().unwrap();
        assert_eq!(latest.value, "2");
        assert_eq!(latest.serialization.as_deref(), Some("js_superjson"));
        assert_count(&url, "SELECT count(*) FROM dbos.workflow_events_history", 2).await;
        let dup = engine
            .set_event("ev", "tok", 1, "k", "3", None, 1)
            .await
            .expect_err("slot taken");
        assert_eq!(dup.code(), ErrorCode::StepNondeterminism);
        assert_eq!(
            reader.read_event("ev", "k").await.unwrap().unwrap().value,
            "2"
        );
        let fenced = engine
            .set_event("ev", "nope", 2, "k", "4", None, 1)
            .await
            .expect_err("fenced");
        assert_eq!(fenced.code(), ErrorCode::WorkflowConflict);
        let guard = WaitGuard {
            workflow_id: "ev",
            token: "nope",
        };
        let guarded = reader
            .get_event("ev", "missing", Some(now_ms() + 5000), 1000, Some(guard))
            .await;
        // The reader has no row "ev" of its own with this token: the guard fails at once.
        assert_eq!(
            guarded.expect_err("guard").code(),
            ErrorCode::WorkflowConflict
        );
    }

    #[tokio::test]
    async fn a_local_set_event_hands_its_value_only_to_getters_already_waiting() {
        let (url, engine) = connected("events_offer").await;
        let other = Engine::connect(options(&url, "other")).await.unwrap();
        start(&engine, "ev", "tok").await;
        // A getter waiting when the local setEvent commits gets its value and format.
        let (got, _) = tokio::join!(
            engine.get_event("ev", "k", Some(now_ms() + 20_000), 60_000, None),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                engine
                    .set_event("ev", "tok", 0, "k", "1", Some("js_superjson"), 1)
                    .await
                    .unwrap();
            }
        );
        let got = got.unwrap().unwrap();
        assert_eq!(
            (got.value.as_str(), got.serialization.as_deref()),
            ("1", Some("js_superjson"))
        );
        // Keep the key's registration alive (a recv on a topic of the same name shares it), so the
        // offer of "2" outlives its getters; then another process overwrites it with "3".
        let parked = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .recv("ev", "tok", 100, "k", now_ms() + 20_000, 1, 60_000)
                    .await
            })
        };
        while engine.parked_recvs() == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        engine
            .set_event("ev", "tok", 2, "k", "2", Some("portable_json"), 1)
            .await
            .unwrap();
        other
            .set_event("ev", "tok", 3, "k", "3", Some("portable_json"), 1)
            .await
            .unwrap();
        // A getter that starts now must not be handed the stale "2".
        let later = engine
            .get_event("ev", "k", Some(now_ms() + 1000), 60_000, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(later.value, "3");
        parked.abort();
    }

    #[tokio::test]
    async fn closing_the_engine_ends_waits_with_shutdown() {
        let (_, engine) = connected("close_wait").await;
        let (got, _) = tokio::join!(engine.get_event("nobody", "k", None, 60_000, None), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            engine.close();
        });
        assert_eq!(got.expect_err("closed").code(), ErrorCode::Shutdown);
    }
}

mod streams {
    use super::*;
    use dbos_native::engine::db::now_ms;
    use dbos_native::engine::streams::{PageEnd, StreamWriter, CLOSE_MARKER, MAX_PAGE_VALUES};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn in_workflow<'a>(id: &'a str, token: &'a str, function_id: i32) -> StreamWriter<'a> {
        StreamWriter::Workflow {
            workflow_id: id,
            token,
            function_id,
            name: "DBOS.writeStream",
            started_at: 1,
        }
    }

    fn in_step<'a>(id: &'a str, token: &'a str, function_id: i32) -> StreamWriter<'a> {
        StreamWriter::Step {
            workflow_id: id,
            token,
            function_id,
        }
    }

    #[tokio::test]
    async fn workflow_writes_are_exactly_once_and_fenced_step_writes_repeat() {
        let (url, engine) = connected("stream_write").await;
        start(&engine, "w", "tok").await;
        engine
            .write_stream(
                &in_workflow("w", "tok", 0),
                "k",
                "\"a\"",
                Some("portable_json"),
            )
            .await
            .unwrap();
        let again = engine
            .write_stream(
                &in_workflow("w", "tok", 0),
                "k",
                "\"a\"",
                Some("portable_json"),
            )
            .await
            .expect_err("slot taken");
        assert_eq!(again.code(), ErrorCode::StepNondeterminism);
        for _ in 0..2 {
            engine
                .write_stream(&in_step("w", "tok", 1), "k", "\"s\"", Some("portable_json"))
                .await
                .unwrap();
        }
        let stale = engine
            .write_stream(&in_step("w", "old", 1), "k", "\"x\"", None)
            .await
            .expect_err("fenced");
        assert_eq!(stale.code(), ErrorCode::WorkflowConflict);
        let rows = sql(&url)
            .await
            .query(
                "SELECT \"offset\", function_id, value FROM dbos.streams WHERE workflow_uuid = 'w' ORDER BY \"offset\"",
                &[],
            )
            .await
            .unwrap();
        let got: Vec<(i32, i32, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, "\"a\"".to_string()),
                (1, 1, "\"s\"".to_string()),
                (2, 1, "\"s\"".to_string())
            ]
        );
        let cp = engine.get_checkpoint("w", 0).await.unwrap().unwrap();
        assert_eq!(cp.name, "DBOS.writeStream");
        assert_eq!(cp.serialization.as_deref(), Some("portable_json"));
    }

    #[tokio::test]
    async fn concurrent_writers_take_dense_distinct_offsets() {
        let url = fresh_db("stream_dense").await;
        let mut opts = options(&url, "local");
        opts.pool_size = 8;
        let engine = Arc::new(Engine::connect(opts).await.unwrap());
        start(&engine, "w", "tok").await;
        let mut tasks = Vec::new();
        for i in 0..64 {
            let e = engine.clone();
            tasks.push(tokio::spawn(async move {
                e.write_stream(&in_step("w", "tok", 0), "k", &i.to_string(), None)
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let row = sql(&url)
            .await
            .query_one(
                "SELECT count(*), min(\"offset\"), max(\"offset\"), count(DISTINCT value) FROM dbos.streams",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 64);
        assert_eq!(row.get::<_, Option<i32>>(1), Some(0));
        assert_eq!(row.get::<_, Option<i32>>(2), Some(63));
        assert_eq!(row.get::<_, i64>(3), 64);
    }

    #[tokio::test]
    async fn reads_come_in_bounded_pages_and_end_at_the_marker_or_the_writers_end() {
        let (url, engine) = connected("stream_pages").await;
        start(&engine, "w", "tok").await;
        // 2,500 small values, then the marker, then one more that no reader may see.
        sql(&url)
            .await
            .batch_execute(&format!(
                "INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) \
                 SELECT 'w', 'k', i::text, i, 0, 'portable_json' FROM generate_series(0, 2499) i; \
                 INSERT INTO dbos.streams VALUES ('w', 'k', '{CLOSE_MARKER}', 2500, 0, 'portable_json'); \
                 INSERT INTO dbos.streams VALUES ('w', 'k', '\"late\"', 2501, 0, 'portable_json'); \
                 INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) \
                 SELECT 'w', 'big', repeat('x', 400000), i, 0, 'portable_json' FROM generate_series(0, 4) i;"
            ))
            .await
            .unwrap();
        let mut from = 0;
        let mut pages = Vec::new();
        loop {
            let page = engine
                .read_stream("w", "k", from, 5000, None, 1000, None)
                .await
                .unwrap();
            assert!(page.values.len() as i64 <= MAX_PAGE_VALUES);
            for (i, v) in page.values.iter().enumerate() {
                assert_eq!(v.offset, from + i as i32);
                assert_eq!(v.value, v.offset.to_string());
            }
            from += page.values.len() as i32;
            pages.push(page.values.len());
            if page.end == PageEnd::Closed {
                break;
            }
        }
        assert_eq!(from, 2500);
        assert_eq!(pages, vec![1000, 1000, 500]);
        // Large values: a page stops at about 1 MB (but always holds one value).
        let big = engine
            .read_stream("w", "big", 0, 1000, None, 1000, None)
            .await
            .unwrap();
        assert_eq!(big.values.len(), 3);
        // A workflow that finished without a marker: its last values, then the end.
        engine
            .complete_workflow("w", "tok", "SUCCESS", None, None)
            .await
            .unwrap();
        let tail = engine
            .read_stream("w", "big", 4, 1000, None, 1000, None)
            .await
            .unwrap();
        assert_eq!((tail.values.len(), tail.end), (1, PageEnd::More));
        let end = engine
            .read_stream("w", "big", 5, 1000, None, 1000, None)
            .await
            .unwrap();
        assert_eq!((end.values.len(), end.end), (0, PageEnd::Closed));
        let missing = engine
            .read_stream("ghost", "k", 0, 10, None, 1000, None)
            .await
            .expect_err("no workflow");
        assert_eq!(missing.code(), ErrorCode::NonExistentWorkflow);
    }

    #[tokio::test]
    async fn local_readers_take_written_values_at_their_own_offset_and_the_close() {
        let (_, engine) = connected("stream_offer").await;
        start(&engine, "w", "tok").await;
        engine
            .write_stream(&in_workflow("w", "tok", 0), "k", "\"a\"", None)
            .await
            .unwrap();
        // Waiting at offset 1: the offer of offset 0 (made before) and of 1 (made while waiting).
        let (page, _) = tokio::join!(
            engine.read_stream("w", "k", 1, 10, Some(now_ms() + 20_000), 60_000, None),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                engine
                    .write_stream(&in_step("w", "tok", 1), "k", "\"b\"", Some("portable_json"))
                    .await
                    .unwrap();
            }
        );
        let page = page.unwrap();
        let got: Vec<(i32, &str, Option<&str>)> = page
            .values
            .iter()
            .map(|v| (v.offset, v.value.as_str(), v.serialization.as_deref()))
            .collect();
        assert_eq!(got, vec![(1, "\"b\"", Some("portable_json"))]);
        assert_eq!(page.end, PageEnd::More);
        let (page, _) = tokio::join!(
            engine.read_stream("w", "k", 2, 10, Some(now_ms() + 20_000), 60_000, None),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                engine
                    .write_stream(&in_workflow("w", "tok", 2), "k", CLOSE_MARKER, None)
                    .await
                    .unwrap();
            }
        );
        let page = page.unwrap();
        assert!(page.values.is_empty());
        assert_eq!(page.end, PageEnd::Closed);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_a_write_and_times_out_without_one() {
        let url = fresh_db("stream_wait").await;
        let mut opts = options(&url, "local");
        opts.listen = true;
        let engine = Engine::connect(opts).await.unwrap();
        start(&engine, "w", "tok").await;
        let t0 = Instant::now();
        let timed_out = engine
            .read_stream("w", "k", 0, 10, Some(now_ms() + 200), 10_000, None)
            .await
            .unwrap();
        assert_eq!(timed_out.end, PageEnd::TimedOut);
        assert!(t0.elapsed() >= Duration::from_millis(180));
        let t1 = Instant::now();
        let (page, _) = tokio::join!(
            engine.read_stream("w", "k", 0, 10, None, 10_000, None),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                engine
                    .write_stream(&in_workflow("w", "tok", 0), "k", "1", None)
                    .await
                    .unwrap();
            }
        );
        let page = page.unwrap();
        assert_eq!(page.values.len(), 1);
        assert!(
            t1.elapsed() < Duration::from_secs(5),
            "woken by the write, not the 10 s poll"
        );
    }
}

mod faults {
    use super::*;
    use dbos_native::engine::messages::SendContext;
    use std::time::Duration;

    /// Kills the session inserting into `table` the first `times` times (a sequence survives the
    /// aborted transaction), so the statement dies mid-flight and never commits.
    async fn kill_inserts_into(url: &str, table: &str, times: i64) {
        sql(url)
            .await
            .batch_execute(&format!(
                "CREATE SEQUENCE public.kills_{table}; \
                 CREATE FUNCTION public.kill_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF nextval('public.kills_{table}') <= {times} THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER kill_session BEFORE INSERT ON dbos.{table} FOR EACH ROW EXECUTE FUNCTION public.kill_{table}();"
            ))
            .await
            .unwrap();
    }

    async fn terminate_engine_connections(url: &str) -> i64 {
        count(
            url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name LIKE 'dbos_native_%'",
        )
        .await
    }

    #[tokio::test]
    async fn operations_survive_their_connections_being_terminated() {
        let (url, engine) = connected("fault_terminate").await;
        start(&engine, "w", "tok").await;
        assert!(terminate_engine_connections(&url).await >= 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        engine
            .record_checkpoint("w", "tok", &step(0, "s", "1"), true)
            .await
            .expect("retried on a fresh connection");
        assert_eq!(
            engine.get_checkpoint("w", 0).await.unwrap().unwrap().name,
            "s"
        );
    }

    #[tokio::test]
    async fn a_statement_killed_mid_flight_is_retried_and_takes_effect_once() {
        let (url, engine) = connected("fault_midflight").await;
        start(&engine, "w", "tok").await;
        start(&engine, "dest", "d").await;
        kill_inserts_into(&url, "notifications", 2).await;
        let msg = message("dest", "t", "1", "m-1");
        let ctx = SendContext::Workflow {
            workflow_id: "w",
            token: "tok",
            function_id: 0,
            started_at: 1,
        };
        engine
            .send(&msg, ctx)
            .await
            .expect("sent after two killed attempts");
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 1).await;
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.operation_outputs WHERE function_name = 'DBOS.send'",
            1,
        )
        .await;
        // The consume of recv dies too, then goes through: one message consumed, one checkpoint.
        kill_inserts_into(&url, "operation_outputs", 2).await;
        let got = engine
            .recv(
                "dest",
                "d",
                0,
                "t",
                dbos_native::engine::db::now_ms() + 5000,
                1,
                1000,
            )
            .await
            .expect("received after killed attempts");
        assert_eq!(got.message.as_deref(), Some("1"));
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.notifications WHERE consumed AND consumed_by_function_id = 0",
            1,
        )
        .await;
    }

    #[tokio::test]
    async fn a_hand_over_killed_mid_flight_releases_the_recv_and_the_send_still_lands_once() {
        use dbos_native::engine::db::now_ms;
        let (url, engine) = connected("fault_handover").await;
        start(&engine, "rx", "tok").await;
        kill_inserts_into(&url, "notifications", 1).await;
        let msg = message("rx", "t", "7", "m7");
        let (got, sent) = tokio::join!(
            engine.recv("rx", "tok", 0, "t", now_ms() + 20_000, 1, 60_000),
            async {
                while engine.parked_recvs() == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                engine.send(&msg, SendContext::Outside).await
            }
        );
        sent.expect("sent the ordinary way after the hand-over died");
        assert_eq!(got.unwrap().message.as_deref(), Some("7"));
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 1).await;
        assert_count(&url, "SELECT last_value FROM public.kills_notifications", 2).await;
    }

    #[tokio::test]
    async fn repeating_a_committed_checkpoint_write_is_recognised_as_ours() {
        let (_, engine) = connected("fault_repeat").await;
        start(&engine, "w", "tok").await;
        let cp = step(0, "s", "1");
        engine
            .record_checkpoint("w", "tok", &cp, true)
            .await
            .unwrap();
        // What a retry after a lost acknowledgement does: the same write again.
        engine
            .record_checkpoint("w", "tok", &cp, true)
            .await
            .expect("our own earlier write");
        let mut other = cp.clone();
        other.completed_at += 1;
        let err = engine
            .record_checkpoint("w", "tok", &other, true)
            .await
            .expect_err("another execution's write");
        assert_eq!(err.code(), ErrorCode::StepNondeterminism);
    }
}

/// Group commit: concurrent writes share statements, and each caller still gets its own result.
mod batches {
    use super::*;
    use dbos_native::engine::behind::Settled;
    use dbos_native::engine::completion::Completion;
    use dbos_native::engine::messages::{OutgoingMessage, SendContext};
    use futures::future::join_all;

    #[tokio::test]
    async fn concurrent_starts_each_get_their_own_outcome_even_with_a_repeated_id() {
        let (url, engine) = connected("batch_starts").await;
        let wfs: Vec<NewWorkflow> = (0..30)
            .map(|i| workflow(&format!("b{i}"), &format!("tok{i}")))
            .collect();
        let outcomes = join_all(wfs.iter().map(|w| engine.start_workflow(w))).await;
        assert!(outcomes
            .iter()
            .all(|o| o.as_ref().expect("start").should_execute));
        // Each batch of distinct IDs ran as one statement, none failing over to item-by-item writes
        // (a repeat within one batch, below, legitimately does).
        assert_eq!(engine.batch_fallbacks(), 0);
        // A repeat of an existing ID among new ones, and "b37" twice in one batch: each repeat must
        // find the first start's row and not execute.
        let mut wfs: Vec<NewWorkflow> = (30..40)
            .map(|i| workflow(&format!("b{i}"), &format!("tok{i}")))
            .collect();
        wfs.push(workflow("b7", "late"));
        wfs.push(workflow("b37", "late"));
        let outcomes = join_all(wfs.iter().map(|w| engine.start_workflow(w))).await;
        for (i, o) in outcomes.iter().enumerate() {
            let o = o.as_ref().expect("start");
            assert_eq!(o.should_execute, i < 10, "start {i}");
            assert_eq!(o.status, "PENDING");
        }
        assert_count(&url, "SELECT count(*) FROM dbos.workflow_status", 40).await;
        assert_count(&url, "SELECT count(*) FROM dbos.workflow_input", 40).await;
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 'b7' AND owner_xid = 'tok7'",
            1,
        )
        .await;
    }

    #[tokio::test]
    async fn concurrent_completions_are_fenced_one_by_one() {
        let (url, engine) = connected("batch_completions").await;
        for i in 0..20 {
            start(&engine, &format!("c{i}"), &format!("tok{i}")).await;
        }
        // Odd ones come with a stale token: they must lose, the others win, in the same batches.
        let tokens: Vec<String> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    format!("tok{i}")
                } else {
                    "stale".to_string()
                }
            })
            .collect();
        let ids: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let won =
            join_all((0..20).map(|i| {
                engine.complete_workflow(&ids[i], &tokens[i], "SUCCESS", Some("1"), None)
            }))
            .await;
        for (i, w) in won.iter().enumerate() {
            assert_eq!(*w.as_ref().expect("complete"), i % 2 == 0, "completion {i}");
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'",
            10,
        )
        .await;
        assert_count(&url, "SELECT count(*) FROM dbos.workflow_output", 10).await;
    }

    /// How many distinct transactions wrote the current versions of these rows.
    async fn writers(url: &str, ids: &[String]) -> i64 {
        let client = sql(url).await;
        client
            .query_one(
                "SELECT count(DISTINCT xmin::text) FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)",
                &[&ids],
            )
            .await
            .expect("count writers")
            .get(0)
    }

    fn queued(id: &str) -> NewWorkflow {
        NewWorkflow {
            status: "ENQUEUED".to_string(),
            queue_name: Some("q".to_string()),
            ..workflow(id, &format!("tok-{id}"))
        }
    }

    #[tokio::test]
    async fn client_enqueues_submitted_together_share_a_statement_and_fail_alone() {
        let (url, engine) = connected("batch_client_many").await;
        let wfs: Vec<NewWorkflow> = (0..40).map(|i| queued(&format!("e{i}"))).collect();
        let outcomes = engine.enqueue_many_for_client(&wfs).await;
        assert!(outcomes
            .iter()
            .all(|o| o.as_ref().expect("enqueue").should_execute));
        let ids: Vec<String> = wfs.iter().map(|w| w.workflow_id.clone()).collect();
        assert_eq!(
            writers(&url, &ids).await,
            1,
            "one statement wrote the 40 rows"
        );
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'ENQUEUED'",
            40,
        )
        .await;

        // An invalid one (no ID) and a deduplication collision among valid ones: each fails alone,
        // the others are written, results in order.
        let held = NewWorkflow {
            deduplication_id: Some("d".to_string()),
            ..queued("holder")
        };
        engine.enqueue_for_client(&held).await.expect("holder");
        let mut wfs: Vec<NewWorkflow> = (0..6).map(|i| queued(&format!("f{i}"))).collect();
        wfs[2].workflow_id = String::new();
        wfs[4].deduplication_id = Some("d".to_string());
        let outcomes = engine.enqueue_many_for_client(&wfs).await;
        for (i, o) in outcomes.iter().enumerate() {
            match i {
                2 => assert_eq!(
                    o.as_ref().err().map(|e| e.code()),
                    Some(ErrorCode::InvalidArgument),
                    "item {i}"
                ),
                4 => assert_eq!(
                    o.as_ref().err().and_then(|e| e.sqlstate()),
                    Some("23505"),
                    "item {i}"
                ),
                _ => assert!(o.as_ref().expect("enqueue").should_execute, "item {i}"),
            }
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE 'f%'",
            4,
        )
        .await;
    }

    #[tokio::test]
    async fn completions_submitted_together_share_a_statement_and_are_fenced_one_by_one() {
        let (url, engine) = connected("batch_complete_many").await;
        let ids: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            start(&engine, id, &format!("tok{i}")).await;
        }
        let done =
            |i: usize, token: String| Completion::new(&ids[i], &token, "SUCCESS", Some("1"), None);
        let winners: Vec<Completion> = (0..20).map(|i| done(i, format!("tok{i}"))).collect();
        let outcomes = engine.settle_and_complete_many(winners).await;
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(Settled::Done(true)))));
        assert_eq!(
            writers(&url, &ids[..20]).await,
            1,
            "one statement completed the 20 rows"
        );
        // Stale tokens among current ones lose, in order; the others win.
        let mixed: Vec<Completion> = (20..30)
            .map(|i| {
                done(
                    i,
                    if i % 2 == 0 {
                        format!("tok{i}")
                    } else {
                        "stale".to_string()
                    },
                )
            })
            .collect();
        let outcomes = engine.settle_and_complete_many(mixed).await;
        for (k, o) in outcomes.iter().enumerate() {
            let won = matches!(o, Ok(Settled::Done(true)));
            assert_eq!(won, k % 2 == 0, "completion {}", k + 20);
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'",
            25,
        )
        .await;
    }

    #[tokio::test]
    async fn held_starts_completed_together_are_written_finished_by_one_statement() {
        let (url, engine) = connected("batch_held_many").await;
        let ids: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
        let starters: Vec<_> = ids
            .iter()
            .map(|id| engine.hold_start(&workflow(id, id)).expect("held"))
            .collect();
        let dones = ids
            .iter()
            .map(|id| Completion::new(id, id, "SUCCESS", Some("1"), None))
            .collect();
        let outcomes = engine.settle_and_complete_many(dones).await;
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(Settled::Done(true)))));
        for started in join_all(starters).await {
            assert!(started.expect("start written").should_execute);
        }
        assert_eq!(
            writers(&url, &ids).await,
            1,
            "one statement wrote the 20 finished rows"
        );
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'",
            20,
        )
        .await;
    }

    #[tokio::test]
    async fn a_send_to_a_missing_workflow_fails_alone_in_its_batch() {
        let (url, engine) = connected("batch_sends").await;
        start(&engine, "dest", "tok").await;
        let msg = |i: usize, dest: &str| message(dest, "t", &format!("{i}"), &format!("m{i}"));
        let clean: Vec<OutgoingMessage> = (100..120).map(|i| msg(i, "dest")).collect();
        let sent = join_all(clean.iter().map(|m| engine.send(m, SendContext::Outside))).await;
        assert!(sent.iter().all(|r| r.is_ok()));
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 20).await;
        // One bad destination among 30: only that send fails.
        let msgs: Vec<OutgoingMessage> = (0..30)
            .map(|i| msg(i, if i == 17 { "nobody" } else { "dest" }))
            .collect();
        let sent = join_all(msgs.iter().map(|m| engine.send(m, SendContext::Outside))).await;
        for (i, r) in sent.iter().enumerate() {
            match r {
                Err(e) => {
                    assert_eq!(i, 17);
                    assert_eq!(e.code(), ErrorCode::NonExistentWorkflow);
                }
                Ok(()) => assert_ne!(i, 17),
            }
        }
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 49).await;
        // Resending the same UUIDs (a retry) adds nothing.
        join_all(msgs.iter().map(|m| engine.send(m, SendContext::Outside))).await;
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 49).await;
    }

    #[tokio::test]
    async fn stream_writes_behind_keep_queue_order_across_kinds_keys_and_racing_step_writers() {
        use dbos_native::engine::streams::StreamWriter;
        let (url, engine) = connected("behind_streams").await;
        start(&engine, "sa", "tok").await;
        start(&engine, "sb", "tok2").await;
        // Per workflow: function IDs in program order, streams, a checkpoint in between, two keys.
        let mut expected_a = Vec::new();
        for i in 0..120 {
            let fid = i;
            if i % 10 == 5 {
                engine.record_behind("sa", "tok", step(fid, "s", "0"));
                engine.record_behind("sb", "tok2", step(fid, "s", "0"));
            } else {
                let key = if i % 3 == 0 { "x" } else { "y" };
                let name = if i == 119 {
                    "DBOS.closeStream"
                } else {
                    "DBOS.writeStream"
                };
                engine.write_stream_behind("sa", "tok", fid, name, 1, key, format!("{i}"), None);
                engine.write_stream_behind(
                    "sb",
                    "tok2",
                    fid,
                    name,
                    1,
                    "x",
                    format!("{i}"),
                    Some("portable_json".into()),
                );
                expected_a.push((key, format!("{i}")));
            }
            if i == 60 {
                // A step of "sb" writing directly while the queue drains: the batch that meets its
                // offset fails and is redone one by one, still in order.
                engine
                    .write_stream(
                        &StreamWriter::Step {
                            workflow_id: "sb",
                            token: "tok2",
                            function_id: 1000,
                        },
                        "x",
                        "step",
                        None,
                    )
                    .await
                    .unwrap();
            }
        }
        engine.settle("sa").await.expect("all committed");
        engine.settle("sb").await.expect("all committed");
        let db = sql(&url).await;
        for key in ["x", "y"] {
            let rows: Vec<(i32, String)> = db
                .query(
                    "SELECT \"offset\", value FROM dbos.streams WHERE workflow_uuid = 'sa' AND key = $1 ORDER BY \"offset\"",
                    &[&key],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let want: Vec<(i32, String)> = expected_a
                .iter()
                .filter(|(k, _)| *k == key)
                .enumerate()
                .map(|(o, (_, v))| (o as i32, v.clone()))
                .collect();
            assert_eq!(rows, want, "stream {key} of sa");
        }
        let b: Vec<(i32, i32)> = db
            .query(
                "SELECT \"offset\", function_id FROM dbos.streams WHERE workflow_uuid = 'sb' AND function_id <> 1000 ORDER BY \"offset\"",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(b.len(), 108);
        assert!(
            b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "sb in queue order: {b:?}"
        );
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.streams WHERE workflow_uuid = 'sb'",
            109,
        )
        .await;
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.operation_outputs WHERE function_name IN ('DBOS.writeStream', 'DBOS.closeStream')",
            216,
        )
        .await;
        // A stale token among good writes: reported once at settle, the neighbours unaffected.
        engine.write_stream_behind(
            "sa",
            "stale",
            500,
            "DBOS.writeStream",
            1,
            "x",
            "no".into(),
            None,
        );
        engine.write_stream_behind(
            "sb",
            "tok2",
            500,
            "DBOS.writeStream",
            1,
            "x",
            "yes".into(),
            None,
        );
        assert_eq!(
            engine.settle("sa").await.expect_err("fenced").code(),
            ErrorCode::WorkflowConflict
        );
        engine.settle("sb").await.expect("unaffected");
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.streams WHERE value IN ('no', 'yes')",
            1,
        )
        .await;
    }

    #[tokio::test]
    async fn checkpoints_written_behind_commit_in_order_and_report_the_first_failure() {
        let (url, engine) = connected("behind").await;
        start(&engine, "wb", "tok").await;
        start(&engine, "wc", "tok2").await;
        for i in 0..50 {
            engine.record_behind("wb", "tok", step(i, "s", &i.to_string()));
            engine.record_behind("wc", "tok2", step(i, "s", &i.to_string()));
        }
        engine.settle("wb").await.expect("all committed");
        engine.settle("wc").await.expect("all committed");
        let cps = engine.load_checkpoints("wb").await.unwrap();
        assert_eq!(cps.len(), 50);
        assert!(cps
            .iter()
            .enumerate()
            .all(|(i, c)| c.output.as_deref() == Some(i.to_string().as_str())));

        // A slot taken by another execution, then a stale token: settle reports the first failure,
        // once, and the neighbours in the same batches are unaffected.
        engine.record_behind("wb", "tok", step(3, "s", "different"));
        engine.record_behind("wb", "stale", step(60, "s", "x"));
        engine.record_behind("wc", "tok2", step(50, "s", "50"));
        let err = engine.settle("wb").await.expect_err("slot taken");
        assert_eq!(err.code(), ErrorCode::StepNondeterminism);
        engine
            .settle("wb")
            .await
            .expect("the failure is reported once");
        engine.settle("wc").await.expect("unaffected");
        assert_eq!(engine.load_checkpoints("wc").await.unwrap().len(), 51);
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.operation_outputs WHERE workflow_uuid = 'wb'",
            50,
        )
        .await;

        // Completion waits for the queue and is refused after a failed checkpoint.
        engine.record_behind("wc", "tok2", step(51, "s", "51"));
        let done = engine
            .settle_and_complete("wc", "tok2", "SUCCESS", Some("1"), None)
            .await
            .unwrap();
        assert!(matches!(
            done,
            dbos_native::engine::behind::Settled::Done(true)
        ));
        assert_eq!(engine.load_checkpoints("wc").await.unwrap().len(), 52);
        engine.record_behind("wb", "stale", step(61, "s", "x"));
        let refused = engine
            .settle_and_complete("wb", "tok", "SUCCESS", Some("1"), None)
            .await
            .unwrap();
        match refused {
            dbos_native::engine::behind::Settled::WriteFailed(e) => {
                assert_eq!(e.code(), ErrorCode::WorkflowConflict)
            }
            _ => panic!("completed despite a failed checkpoint"),
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = 'wb' AND status = 'PENDING'",
            1,
        )
        .await;
    }
}

/// A cancel is not a crash: the cancelled run's writes that finished before it still count.
mod cancel_fence {
    use super::*;
    use dbos_native::engine::db::now_ms;
    use std::time::Duration;

    fn finished_at(function_id: i32, at: i64) -> NewCheckpoint {
        NewCheckpoint {
            started_at: at - 1,
            completed_at: at,
            ..step(function_id, "s", &function_id.to_string())
        }
    }

    #[tokio::test]
    async fn a_cancelled_row_admits_what_finished_before_the_cancel_and_nothing_after_a_resume() {
        let (_, engine) = connected("cancel_fence").await;
        start(&engine, "wf", "tok").await;
        let before = now_ms() - 1;
        engine
            .cancel_workflows(&["wf".to_string()], false)
            .await
            .unwrap();
        // One at a time, and in a batch written behind.
        engine
            .record_checkpoint("wf", "tok", &finished_at(0, before), true)
            .await
            .expect("a step that returned before the cancel is recorded");
        engine.record_behind("wf", "tok", finished_at(1, before));
        engine.settle("wf").await.expect("recorded behind too");
        let late = engine
            .record_checkpoint("wf", "tok", &finished_at(2, now_ms() + 60_000), true)
            .await
            .expect_err("a step that returned after the cancel is refused");
        assert_eq!(late.code(), ErrorCode::WorkflowConflict);
        engine.record_behind("wf", "tok", finished_at(3, now_ms() + 60_000));
        let late = engine.settle("wf").await.expect_err("refused behind too");
        assert_eq!(late.code(), ErrorCode::WorkflowConflict);
        // Once resumed, the old run's writes are refused whenever they finished.
        engine
            .resume_workflows(&["wf".to_string()], None)
            .await
            .unwrap();
        let resumed = engine
            .record_checkpoint("wf", "tok", &finished_at(4, before), true)
            .await
            .expect_err("refused after the resume");
        assert_eq!(resumed.code(), ErrorCode::WorkflowConflict);
        let ids: Vec<i32> = engine
            .load_checkpoints("wf")
            .await
            .unwrap()
            .iter()
            .map(|c| c.function_id)
            .collect();
        assert_eq!(ids, vec![0, 1]);
    }

    #[tokio::test]
    async fn a_stream_write_queued_before_the_cancel_commits_after_it() {
        let (url, engine) = connected("cancel_fence_stream").await;
        start(&engine, "ws", "tok").await;
        // Hold the write back until the cancel has committed.
        let locker = sql(&url).await;
        locker
            .batch_execute("BEGIN; LOCK TABLE dbos.operation_outputs IN SHARE MODE")
            .await
            .unwrap();
        engine.write_stream_behind(
            "ws",
            "tok",
            0,
            "DBOS.writeStream",
            now_ms(),
            "k",
            "v".into(),
            None,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        engine
            .cancel_workflows(&["ws".to_string()], false)
            .await
            .unwrap();
        locker.batch_execute("COMMIT").await.unwrap();
        engine.settle("ws").await.expect("admitted");
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.streams WHERE workflow_uuid = 'ws'",
            1,
        )
        .await;
    }

    /// Holds back every insert into `dbos.<table>` (a SHARE lock, in an open transaction).
    async fn hold_inserts(url: &str, table: &str) -> tokio_postgres::Client {
        let locker = sql(url).await;
        locker
            .batch_execute(&format!("BEGIN; LOCK TABLE dbos.{table} IN SHARE MODE"))
            .await
            .unwrap();
        locker
    }

    /// Returns once some statement waits for the lock `hold_inserts` took.
    async fn until_waiting(url: &str, table: &str) {
        let watcher = sql(url).await;
        let query = format!(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'dbos.{table}'::regclass"
        );
        for _ in 0..2000 {
            if watcher
                .query_one(&query, &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
                > 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no statement waits on dbos.{table}");
    }

    /// The cancel rule is for checkpoints and workflow-code stream writes only: a send, an event or a
    /// step's stream write is admitted for the live owner alone, so one that finished before a cancel
    /// but reaches the row after it writes nothing.
    #[tokio::test]
    async fn a_send_an_event_or_a_step_stream_write_reaching_the_row_after_a_cancel_is_refused() {
        use dbos_native::engine::messages::{OutgoingMessage, SendContext};
        use dbos_native::engine::streams::StreamWriter;
        let (url, engine) = connected("cancel_fence_owner").await;
        for id in ["ev", "send", "step_send", "step_stream", "dest"] {
            start(&engine, id, "tok").await;
        }
        let unformatted = |uuid: &str| OutgoingMessage {
            serialization: None,
            ..message("dest", "t", "1", uuid)
        };
        let cases: [(&str, &str); 4] = [
            ("ev", "operation_outputs"),
            ("send", "operation_outputs"),
            ("step_send", "notifications"),
            ("step_stream", "streams"),
        ];
        let mut outcomes = Vec::new();
        for (id, table) in cases {
            let locker = hold_inserts(&url, table).await;
            let e = engine.clone();
            let msg = unformatted(id);
            let write = tokio::spawn(async move {
                match id {
                    "ev" => e.set_event(id, "tok", 0, "k", "1", None, now_ms()).await,
                    "send" => {
                        let ctx = SendContext::Workflow {
                            workflow_id: id,
                            token: "tok",
                            function_id: 0,
                            started_at: now_ms(),
                        };
                        e.send(&msg, ctx).await
                    }
                    "step_send" => {
                        let ctx = SendContext::Step {
                            workflow_id: id,
                            token: "tok",
                        };
                        e.send(&msg, ctx).await
                    }
                    _ => {
                        let writer = StreamWriter::Step {
                            workflow_id: id,
                            token: "tok",
                            function_id: 0,
                        };
                        e.write_stream(&writer, "k", "1", None).await
                    }
                }
            });
            until_waiting(&url, table).await;
            engine
                .cancel_workflows(&[id.to_string()], false)
                .await
                .unwrap();
            locker.batch_execute("COMMIT").await.unwrap();
            outcomes.push((id, write.await.unwrap().err().map(|e| e.code())));
        }
        assert_eq!(
            outcomes,
            cases.map(|(id, _)| (id, Some(ErrorCode::WorkflowConflict)))
        );
        for table in [
            "operation_outputs",
            "workflow_events",
            "notifications",
            "streams",
        ] {
            assert_eq!(
                count(&url, &format!("SELECT count(*) FROM dbos.{table}")).await,
                0,
                "{table}"
            );
        }
    }
}

/// A send from this process serving a recv parked in it (insert and consume in one transaction).
mod hand_over {
    use super::*;
    use dbos_native::engine::db::now_ms;
    use dbos_native::engine::messages::SendContext;
    use futures::future::join_all;
    use std::collections::BTreeSet;
    use std::time::Duration;

    async fn until_parked(engine: &Engine, n: usize) {
        for _ in 0..500 {
            if engine.parked_recvs() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!(
            "expected {n} parked recv(s), have {}",
            engine.parked_recvs()
        );
    }

    /// Records the transaction of every insert and update of a notification.
    async fn trace_notification_writes(db: &tokio_postgres::Client) {
        db.batch_execute(
            "CREATE TABLE public.writes (op text, message_uuid text, xid xid8); \
             CREATE FUNCTION public.trace_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO public.writes VALUES (TG_OP, NEW.message_uuid, pg_current_xact_id()); RETURN NEW; END $$; \
             CREATE TRIGGER trace_write AFTER INSERT OR UPDATE ON dbos.notifications \
             FOR EACH ROW EXECUTE FUNCTION public.trace_write();",
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_local_send_consumes_for_a_parked_recv_in_its_own_transaction() {
        let (url, engine) = connected("handover_one").await;
        start(&engine, "rx", "tok").await;
        let db = sql(&url).await;
        trace_notification_writes(&db).await;
        for i in 0..3 {
            let function_id = 2 * i;
            let (got, _) = tokio::join!(
                engine.recv("rx", "tok", function_id, "t", now_ms() + 20_000, 1, 60_000),
                async {
                    until_parked(&engine, 1).await;
                    engine
                        .send(
                            &message("rx", "t", &format!("{i}"), &format!("m{i}")),
                            SendContext::Outside,
                        )
                        .await
                        .unwrap();
                }
            );
            assert_eq!(
                got.unwrap().message.as_deref(),
                Some(format!("{i}").as_str())
            );
            let cp = engine
                .get_checkpoint("rx", function_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (cp.name.as_str(), cp.output.as_deref()),
                ("DBOS.recv", Some(format!("{i}").as_str()))
            );
        }
        assert_eq!(engine.parked_recvs(), 0);
        // Each message was inserted and consumed by one transaction.
        assert_count(
            &url,
            "SELECT count(DISTINCT i.message_uuid) FROM public.writes i JOIN public.writes u \
             ON u.message_uuid = i.message_uuid AND u.op = 'UPDATE' AND u.xid = i.xid WHERE i.op = 'INSERT'",
            3,
        )
        .await;
    }

    #[tokio::test]
    async fn a_workflow_send_serves_a_parked_recv_and_a_fenced_one_sends_nothing() {
        let (url, engine) = connected("handover_workflow").await;
        start(&engine, "rx", "tok").await;
        start(&engine, "tx", "tx-tok").await;
        let db = sql(&url).await;
        trace_notification_writes(&db).await;
        let from_workflow = |token: &'static str, function_id: i32| SendContext::Workflow {
            workflow_id: "tx",
            token,
            function_id,
            started_at: 1,
        };
        let (got, sent) = tokio::join!(
            engine.recv("rx", "tok", 0, "t", now_ms() + 20_000, 1, 60_000),
            async {
                until_parked(&engine, 1).await;
                engine
                    .send(
                        &message("rx", "t", "1", "tx-m1"),
                        from_workflow("tx-tok", 3),
                    )
                    .await
            }
        );
        sent.unwrap();
        assert_eq!(got.unwrap().message.as_deref(), Some("1"));
        assert_eq!(
            engine.get_checkpoint("tx", 3).await.unwrap().unwrap().name,
            "DBOS.send"
        );
        assert_eq!(
            engine.get_checkpoint("rx", 0).await.unwrap().unwrap().name,
            "DBOS.recv"
        );
        assert_count(
            &url,
            "SELECT count(*) FROM public.writes i JOIN public.writes u ON u.message_uuid = i.message_uuid \
             AND u.op = 'UPDATE' AND u.xid = i.xid WHERE i.op = 'INSERT'",
            1,
        )
        .await;
        // A sender that lost ownership: its send fails and writes nothing; the recv, released, waits on.
        let (got, sent) = tokio::join!(
            engine.recv("rx", "tok", 2, "t", now_ms() + 300, 1, 60_000),
            async {
                until_parked(&engine, 1).await;
                engine
                    .send(&message("rx", "t", "2", "tx-m2"), from_workflow("stale", 4))
                    .await
            }
        );
        assert_eq!(
            sent.expect_err("fenced").code(),
            ErrorCode::WorkflowConflict
        );
        assert!(
            got.unwrap().message.is_none(),
            "timed out: nothing was sent"
        );
        assert_count(&url, "SELECT count(*) FROM dbos.notifications", 1).await;
        assert!(engine.get_checkpoint("tx", 4).await.unwrap().is_none());
        assert_eq!(engine.parked_recvs(), 0);
    }

    #[tokio::test]
    async fn racing_local_and_foreign_senders_deliver_every_message_exactly_once() {
        let (url, engine) = connected("handover_race").await;
        let foreign = Engine::connect(options(&url, "other")).await.unwrap();
        start(&engine, "rx", "tok").await;
        const N: usize = 300;
        let receiver = {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..N {
                    let r = engine
                        .recv("rx", "tok", 2 * i as i32, "t", now_ms() + 20_000, 1, 50)
                        .await
                        .unwrap();
                    got.push(r.message.expect("a message, not a timeout"));
                }
                got
            })
        };
        // Eight local and four foreign senders, each sending in turn with small random-ish pauses.
        let senders = (0..12).map(|s| {
            let engine = engine.clone();
            let foreign = &foreign;
            async move {
                for k in (s..N).step_by(12) {
                    let m = message("rx", "t", &format!("{k}"), &format!("m{k}"));
                    let e: &Engine = if s < 8 { &engine } else { foreign };
                    e.send(&m, SendContext::Outside).await.unwrap();
                    tokio::time::sleep(Duration::from_micros(((k * 7919) % 1500) as u64)).await;
                }
            }
        });
        join_all(senders).await;
        let got = receiver.await.unwrap();
        let distinct: BTreeSet<usize> = got.iter().map(|m| m.parse().unwrap()).collect();
        assert_eq!(got.len(), N);
        assert_eq!(distinct, (0..N).collect::<BTreeSet<_>>());
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.notifications WHERE NOT consumed",
            0,
        )
        .await;
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.operation_outputs WHERE function_name = 'DBOS.recv' AND output IS NOT NULL",
            N as i64,
        )
        .await;
        assert_eq!(engine.parked_recvs(), 0);
    }

    #[tokio::test]
    async fn a_parked_recv_that_lost_ownership_is_released_and_fails_by_itself() {
        let (url, engine) = connected("handover_fenced").await;
        start(&engine, "rx", "tok").await;
        let db = sql(&url).await;
        let (got, _) = tokio::join!(
            engine.recv("rx", "tok", 0, "t", now_ms() + 20_000, 1, 60_000),
            async {
                until_parked(&engine, 1).await;
                // Recovered elsewhere, without telling this process.
                db.execute("UPDATE dbos.workflow_status SET owner_xid = 'other' WHERE workflow_uuid = 'rx'", &[])
                    .await
                    .unwrap();
                engine
                    .send(&message("rx", "t", "1", "m1"), SendContext::Outside)
                    .await
                    .expect("the message is sent even though nobody here may consume it");
            }
        );
        assert_eq!(got.expect_err("fenced").code(), ErrorCode::WorkflowConflict);
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.notifications WHERE NOT consumed",
            1,
        )
        .await;
        assert!(engine.get_checkpoint("rx", 0).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_recv_dropped_while_parked_leaves_the_message_for_the_next_one() {
        let (url, engine) = connected("handover_dropped").await;
        start(&engine, "rx", "tok").await;
        let abandoned = tokio::time::timeout(
            Duration::from_millis(200),
            engine.recv("rx", "tok", 0, "t", now_ms() + 20_000, 1, 60_000),
        )
        .await;
        assert!(abandoned.is_err());
        assert_eq!(engine.parked_recvs(), 0);
        engine
            .send(&message("rx", "t", "1", "m1"), SendContext::Outside)
            .await
            .unwrap();
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.notifications WHERE NOT consumed",
            1,
        )
        .await;
        assert!(engine.get_checkpoint("rx", 0).await.unwrap().is_none());
        let got = engine
            .recv("rx", "tok", 0, "t", now_ms() + 2_000, 1, 60_000)
            .await
            .unwrap();
        assert_eq!(got.message.as_deref(), Some("1"));
    }
}

mod held_starts {
    use super::*;
    use dbos_native::engine::behind::Settled;
    use futures::future::join_all;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_held_start_completed_first_is_one_finished_row_and_answers_its_starter() {
        let (url, engine) = connected("held_complete").await;
        let ids: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
        let started: Vec<_> = ids
            .iter()
            .map(|id| engine.hold_start(&workflow(id, id)).expect("held"))
            .collect();
        assert_eq!(
            count(&url, "SELECT count(*) FROM dbos.workflow_status").await,
            0,
            "nothing written while held"
        );
        assert_eq!(
            engine
                .hold_start(&workflow("h0", "other"))
                .err()
                .map(|e| e.code()),
            Some(ErrorCode::InvalidArgument),
            "one hold per workflow"
        );
        // Concurrent completions share the start's group commit.
        let done = join_all(ids.iter().enumerate().map(|(i, id)| {
            let engine = Arc::clone(&engine);
            async move {
                let (status, output, error) = if i % 2 == 0 {
                    ("SUCCESS", Some("\"ok\""), None)
                } else {
                    ("ERROR", None, Some("\"bad\""))
                };
                engine
                    .settle_and_complete(id, id, status, output, error)
                    .await
            }
        }))
        .await;
        for d in done {
            assert!(matches!(d, Ok(Settled::Done(true))));
        }
        for s in join_all(started).await {
            assert!(s.expect("written").should_execute);
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status s JOIN dbos.workflow_output o USING (workflow_uuid) \
             JOIN dbos.workflow_input i USING (workflow_uuid) \
             WHERE s.owner_xid IS NULL AND s.completed_at = s.created_at AND s.recovery_attempts = 1 \
             AND ((s.status = 'SUCCESS' AND o.output = '\"ok\"' AND o.error IS NULL) \
             OR (s.status = 'ERROR' AND o.error = '\"bad\"' AND o.output IS NULL))",
            20,
        )
        .await;
    }

    #[tokio::test]
    async fn a_held_start_goes_ahead_of_its_workflows_first_write_and_settle_waits_for_it() {
        let (url, engine) = connected("held_release").await;
        let a = engine.hold_start(&workflow("ha", "tok")).unwrap();
        let b = engine.hold_start(&workflow("hb", "tok")).unwrap();
        let c = engine.hold_start(&workflow("hc", "tok")).unwrap();
        // A checkpoint queued while the start is held: the row goes first (its FK needs it).
        engine.record_behind("ha", "tok", step(0, "s", "0"));
        engine
            .settle("ha")
            .await
            .expect("start and checkpoint committed");
        assert_eq!(engine.load_checkpoints("ha").await.unwrap().len(), 1);
        // settle alone writes the row, PENDING and owned; so does a release.
        engine.settle("hb").await.expect("start committed");
        engine.release_start("hc");
        engine.release_start("hc");
        for s in [a.await, b.await, c.await] {
            assert!(s.expect("written").should_execute);
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'PENDING' AND owner_xid = 'tok' AND recovery_attempts = 1",
            3,
        )
        .await;
        // Completing a released start is an ordinary completion.
        assert!(matches!(
            engine
                .settle_and_complete("hc", "tok", "SUCCESS", Some("1"), None)
                .await,
            Ok(Settled::Done(true))
        ));
    }

    #[tokio::test]
    async fn closing_the_engine_answers_held_starts_with_shutdown() {
        let (_, engine) = connected("held_close").await;
        let held = engine.hold_start(&workflow("hz", "tok")).unwrap();
        engine.close();
        assert_eq!(
            held.await.err().map(|e| e.code()),
            Some(ErrorCode::Shutdown)
        );
        assert_eq!(
            engine
                .hold_start(&workflow("hy", "tok"))
                .err()
                .map(|e| e.code()),
            Some(ErrorCode::Shutdown)
        );
    }
}

mod completion_behind {
    use super::*;
    use dbos_native::engine::behind::Settled;
    use std::sync::Arc;
    use std::time::Duration;

    /// Records the transaction of every checkpoint insert and status update.
    async fn trace_writes(db: &tokio_postgres::Client) {
        db.batch_execute(
            "CREATE TABLE public.writes (kind text, xid xid8, at serial); \
             CREATE FUNCTION public.trace_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO public.writes (kind, xid) VALUES (TG_TABLE_NAME || ':' || TG_OP, pg_current_xact_id()); \
             RETURN NEW; END $$; \
             CREATE TRIGGER trace_cp AFTER INSERT ON dbos.operation_outputs \
             FOR EACH ROW EXECUTE FUNCTION public.trace_write(); \
             CREATE TRIGGER trace_status AFTER UPDATE ON dbos.workflow_status \
             FOR EACH ROW EXECUTE FUNCTION public.trace_write();",
        )
        .await
        .unwrap();
    }

    /// Queues checkpoints 0..n of "w" while its status row is locked, so that the first batch waits
    /// and the rest, with the completion, gather behind it; then unlocks.
    async fn queue_behind_a_lock(
        engine: &Arc<Engine>,
        url: &str,
        n: i32,
        status: &'static str,
    ) -> dbos_native::engine::Result<Settled<bool>> {
        let mut locker = sql(url).await;
        let tx = locker.transaction().await.unwrap();
        tx.execute(
            "SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = 'w' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
        engine.record_behind("w", "tok", step(0, "s", "0"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        for i in 1..n {
            engine.record_behind("w", "tok", step(i, "s", &i.to_string()));
        }
        let done = {
            let engine = Arc::clone(engine);
            tokio::spawn(async move {
                engine
                    .settle_and_complete("w", "tok", status, Some("\"out\""), None)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.rollback().await.unwrap();
        done.await.unwrap()
    }

    #[tokio::test]
    async fn a_completion_shares_the_statement_of_the_checkpoints_queued_before_it() {
        let (url, engine) = connected("complete_behind").await;
        start(&engine, "w", "tok").await;
        let db = sql(&url).await;
        trace_writes(&db).await;
        let done = queue_behind_a_lock(&engine, &url, 6, "SUCCESS").await;
        assert!(matches!(done, Ok(Settled::Done(true))));
        let rows = db
            .query("SELECT kind, xid::text FROM public.writes ORDER BY at", &[])
            .await
            .unwrap();
        let kinds: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(kinds.len(), 7);
        assert_eq!(kinds[6], "workflow_status:UPDATE");
        let xids: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
        assert_ne!(xids[0], xids[1], "the first checkpoint went alone");
        assert!(
            xids[1..].iter().all(|x| *x == xids[1]),
            "checkpoints 1..5 and the completion in one transaction: {xids:?}"
        );
        assert_eq!(engine.load_checkpoints("w").await.unwrap().len(), 6);
        let outcome = engine.read_outcome("w").await.unwrap().expect("finished");
        assert_eq!(outcome.status, "SUCCESS");
        assert_eq!(outcome.output.as_deref(), Some("\"out\""));
    }

    #[tokio::test]
    async fn a_completion_behind_a_checkpoint_that_fails_is_not_written_and_reports_it() {
        let (url, engine) = connected("complete_behind_fail").await;
        start(&engine, "w", "tok").await;
        // Another execution already recorded step 3 differently.
        engine
            .record_checkpoint("w", "tok", &step(3, "s", "theirs"), true)
            .await
            .unwrap();
        let done = queue_behind_a_lock(&engine, &url, 6, "SUCCESS").await;
        match done {
            Ok(Settled::WriteFailed(e)) => assert_eq!(e.code(), ErrorCode::StepNondeterminism),
            _ => panic!("expected the checkpoint's failure"),
        }
        assert!(
            engine.read_outcome("w").await.unwrap().is_none(),
            "still PENDING"
        );
        // The completer then records the failure as the outcome, the usual way.
        assert!(matches!(
            engine
                .settle_and_complete("w", "tok", "ERROR", None, Some("\"nondeterminism\""))
                .await,
            Ok(Settled::Done(true))
        ));
        assert_eq!(
            engine.read_outcome("w").await.unwrap().map(|o| o.status),
            Some("ERROR".to_string())
        );
    }

    #[tokio::test]
    async fn a_completion_behind_checkpoints_of_a_fenced_execution_is_not_written() {
        let (url, engine) = connected("complete_behind_fenced").await;
        start(&engine, "w", "tok").await;
        let db = sql(&url).await;
        let mut locker = sql(&url).await;
        let tx = locker.transaction().await.unwrap();
        tx.execute(
            "SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = 'w' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
        engine.record_behind("w", "tok", step(0, "s", "0"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        engine.record_behind("w", "tok", step(1, "s", "1"));
        let done = {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move {
                engine
                    .settle_and_complete("w", "tok", "SUCCESS", Some("1"), None)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Recovered elsewhere while the writes wait.
        tx.execute(
            "UPDATE dbos.workflow_status SET owner_xid = 'thief' WHERE workflow_uuid = 'w'",
            &[],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        match done.await.unwrap() {
            Ok(Settled::WriteFailed(e)) => assert_eq!(e.code(), ErrorCode::WorkflowConflict),
            Ok(Settled::Done(won)) => assert!(!won, "a fenced completion never wins"),
            Err(e) => panic!("{e:?}"),
        }
        assert_count(
            &url,
            "SELECT count(*) FROM dbos.workflow_status WHERE status = 'PENDING' AND owner_xid = 'thief'",
            1,
        )
        .await;
        drop(db);
    }
}
