//! `rewind_workflow` and `rename_application` against a real Postgres (`DBOS_TEST_DATABASE_URL` names
//! a server; each test creates its own database). The TS test `__test__/rewind-rename.test.ts` compares
//! both with the official SDK row by row; these check the engine's own contract: what a rewind keeps
//! and drops, and that refused calls write nothing.

use dbos_native::engine::workflows::RewindRequest;
use dbos_native::engine::{Engine, ErrorCode};
use tokio_postgres::NoTls;

use crate::common::{fresh_engine, TestEngine};

async fn fresh(name: &str) -> (Engine, tokio_postgres::Client) {
    let how = TestEngine {
        app_name: "rewind-test",
        pool_size: 2,
        listen: false,
    };
    let (url, engine) = fresh_engine(name, how).await;
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    (engine, client)
}

/// Every row of the workflow `w`, as text, table by table.
async fn rows(c: &tokio_postgres::Client) -> Vec<String> {
    let queries = [
        "SELECT status || '/' || coalesce(queue_name, '-') || '/' || coalesce(output, '-') FROM dbos.workflow_status WHERE workflow_uuid = 'w'",
        "SELECT function_id::text FROM dbos.operation_outputs WHERE workflow_uuid = 'w' ORDER BY function_id",
        "SELECT key || '=' || value FROM dbos.workflow_events WHERE workflow_uuid = 'w' ORDER BY key",
        "SELECT function_id || ':' || key FROM dbos.workflow_events_history WHERE workflow_uuid = 'w' ORDER BY 1",
        "SELECT key || '@' || \"offset\" FROM dbos.streams WHERE workflow_uuid = 'w' ORDER BY 1",
        "SELECT message FROM dbos.notifications WHERE destination_uuid = 'w' ORDER BY 1",
        "SELECT count(*)::text FROM dbos.workflow_output WHERE workflow_uuid = 'w'",
    ];
    let mut out = Vec::new();
    for q in queries {
        let got: Vec<String> = c
            .query(q, &[])
            .await
            .expect(q)
            .iter()
            .map(|r| r.get(0))
            .collect();
        out.push(got.join(","));
    }
    out
}

fn request(id: &str, start_step: i32) -> RewindRequest {
    RewindRequest {
        workflow_id: id.to_string(),
        start_step,
        queue_name: "_dbos_internal_queue".to_string(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewind_keeps_history_before_the_cut_and_refuses_live_workflows() {
    let (e, c) = fresh("rewind").await;
    c.batch_execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, output) VALUES ('w', 'SUCCESS', 'wf', '\"out\"'), ('live', 'PENDING', 'wf', NULL);
         INSERT INTO dbos.workflow_output (workflow_uuid, output) VALUES ('w', '\"out\"');
         INSERT INTO dbos.operation_outputs (workflow_uuid, function_id) SELECT 'w', f FROM generate_series(0, 4) f;
         INSERT INTO dbos.workflow_events_history (workflow_uuid, function_id, key, value) VALUES
           ('w', 1, 'e', '1'), ('w', 3, 'e', '2'), ('w', 3, 'f', '3'), ('w', 0, 'g', '0');
         INSERT INTO dbos.workflow_events (workflow_uuid, key, value) VALUES ('w', 'e', '2'), ('w', 'f', '3'), ('w', 'g', '0');
         INSERT INTO dbos.streams (workflow_uuid, key, value, \"offset\", function_id, serialization) VALUES
           ('w', 's', '\"x\"', 0, 1, 'portable_json'), ('w', 's', '\"y\"', 1, 3, 'portable_json'),
           ('w', 's', '\"__DBOS_STREAM_CLOSED__\"', 2, 4, 'portable_json');
         INSERT INTO dbos.notifications (destination_uuid, message, consumed, consumed_by_function_id) VALUES
           ('w', 'kept', true, 1), ('w', 'consumed-past', true, 2), ('w', 'unread', false, NULL);",
    )
    .await
    .expect("seed");
    let before = rows(&c).await;

    // Refused, nothing written: unknown, live, negative start step.
    let err = e.rewind_workflow(&request("nope", 0)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NonExistentWorkflow);
    let err = e.rewind_workflow(&request("live", 0)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert_eq!(
        err.to_string(),
        "Cannot rewind live (PENDING): only a workflow in a terminal state can be rewound, so cancel it first"
    );
    let err = e.rewind_workflow(&request("w", -1)).await.unwrap_err();
    assert_eq!(err.to_string(), "startStep must be >= 0, got -1");
    assert_eq!(rows(&c).await, before);

    e.rewind_workflow(&request("w", 2)).await.expect("rewind");
    assert_eq!(
        rows(&c).await,
        [
            "ENQUEUED/_dbos_internal_queue/-",
            "0,1",
            // e back to its value before the cut, f (only past it) unpublished, g untouched.
            "e=1,g=0",
            "0:g,1:e",
            // Values stay; the close marker past the cut goes.
            "s@0,s@1",
            "kept",
            "0",
        ]
    );
    // A rewound workflow is ENQUEUED: a second rewind is refused.
    let err = e.rewind_workflow(&request("w", 0)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_refuses_bad_arguments_and_moves_in_batches() {
    let (e, c) = fresh("rename").await;
    c.batch_execute(
        "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, application_name)
           SELECT 'w' || i, CASE WHEN i < 2 THEN 'ENQUEUED' ELSE 'SUCCESS' END, 'wf', 'a' FROM generate_series(0, 6) i;
         INSERT INTO dbos.workflow_status (workflow_uuid, status, name) VALUES ('u', 'SUCCESS', 'wf');
         INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, application_name)
           SELECT 'w' || i, 0, 'a' FROM generate_series(0, 6) i;",
    )
    .await
    .expect("seed");
    for (old, new, batch, adopt) in [
        (Some(""), "b", None, false),
        (None, "b", None, false),
        (Some("a"), "a", None, false),
        (Some("a"), "b", Some(0), false),
    ] {
        let err = e
            .rename_application(old, new, batch, adopt)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{old:?} {new}");
    }
    let owned = "SELECT count(*) FROM dbos.workflow_status WHERE application_name = 'b'";
    let n: i64 = c.query_one(owned, &[]).await.unwrap().get(0);
    assert_eq!(n, 0, "nothing moved");

    let counts = e
        .rename_application(Some("a"), "b", Some(2), true)
        .await
        .expect("rename");
    assert_eq!((counts.workflows, counts.steps), (8, 7));
    let n: i64 = c.query_one(owned, &[]).await.unwrap().get(0);
    assert_eq!(
        n, 8,
        "every workflow, in-flight, terminal and unclaimed, moved"
    );
}
