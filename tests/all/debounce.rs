//! Debouncing (`engine::debounce`) against a real Postgres (`DBOS_TEST_DATABASE_URL` names a server;
//! the test creates its own database): a debounced DELAYED row is extended (capped at its deadline)
//! with its inputs replaced; other holders are reported, not touched; another application's row is
//! not extended; from workflow code the bounce and its checkpoint commit together.

use dbos_native::engine::debounce::{BounceStep, DebounceParams, BOUNCE_STEP};
use dbos_native::engine::workflows::NewWorkflow;
use dbos_native::engine::Engine;
use tokio_postgres::NoTls;

use crate::common::{fresh_engine, TestEngine};

async fn fresh(name: &str) -> (String, Engine) {
    let how = TestEngine {
        app_name: "deb-test",
        pool_size: 2,
        listen: false,
    };
    fresh_engine(name, how).await
}

async fn row(url: &str, id: &str) -> (i64, Option<String>, String) {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    let r = client
        .query_one(
            "SELECT s.delay_until_epoch_ms, i.inputs, s.application_name FROM dbos.workflow_status s \
             LEFT JOIN dbos.workflow_input i USING (workflow_uuid) WHERE workflow_uuid = $1",
            &[&id],
        )
        .await
        .expect("row");
    (r.get(0), r.get(1), r.get(2))
}

fn delayed(id: &str, key: &str, debounced: bool, deadline: Option<i64>) -> NewWorkflow {
    NewWorkflow {
        workflow_id: id.to_string(),
        status: "DELAYED".to_string(),
        name: "job".to_string(),
        queue_name: Some("q".to_string()),
        inputs: "[1]".to_string(),
        serialization: Some("portable_json".to_string()),
        token: format!("t-{id}"),
        deduplication_id: Some(key.to_string()),
        delay_until_epoch_ms: Some(1_000),
        is_debounced: debounced,
        debounce_deadline_epoch_ms: deadline,
        ..Default::default()
    }
}

fn bounce(key: &str, until: i64, input: &str) -> DebounceParams {
    DebounceParams {
        workflow_name: "job".to_string(),
        workflow_class_name: String::new(),
        queue_name: "q".to_string(),
        deduplication_id: key.to_string(),
        delay_until_epoch_ms: until,
        input: Some(input.to_string()),
        serialization: Some("portable_json".to_string()),
        application_name: Some("deb-test".to_string()),
    }
}

#[tokio::test]
async fn bounces_extend_replace_and_report() {
    let (url, engine) = fresh("debounce").await;
    // A far-future delay keeps the rows DELAYED (no dispatcher runs here anyway).
    engine
        .start_workflow(&delayed("d1", "k1", true, Some(5_000)))
        .await
        .expect("start");
    let r = engine
        .debounce_delayed_workflow(&bounce("k1", 3_000, "[2]"), None)
        .await
        .expect("bounce");
    assert_eq!(r.bounced_workflow_id.as_deref(), Some("d1"));
    assert_eq!(row(&url, "d1").await.0, 3_000);
    assert_eq!(row(&url, "d1").await.1.as_deref(), Some("[2]"));
    // Past the deadline: capped.
    engine
        .debounce_delayed_workflow(&bounce("k1", 9_000, "[3]"), None)
        .await
        .expect("bounce");
    assert_eq!(row(&url, "d1").await.0, 5_000);

    // A holder that is not debounced is reported and left alone.
    engine
        .start_workflow(&delayed("d2", "k2", false, None))
        .await
        .expect("start");
    let r = engine
        .debounce_delayed_workflow(&bounce("k2", 3_000, "[9]"), None)
        .await
        .expect("bounce");
    assert_eq!(r.bounced_workflow_id, None);
    assert_eq!(r.holder_workflow_id.as_deref(), Some("d2"));
    assert!(!r.holder_is_debounced);
    assert_eq!(r.holder_workflow_name.as_deref(), Some("job"));
    assert_eq!(r.holder_application_name.as_deref(), Some("deb-test"));
    assert_eq!(
        row(&url, "d2").await,
        (1_000, Some("[1]".to_string()), "deb-test".to_string())
    );

    // Another application's debounced row is not extended, only reported.
    let mut other = delayed("d3", "k3", true, None);
    other.app_name = Some("other-app".to_string());
    engine.start_workflow(&other).await.expect("start");
    let r = engine
        .debounce_delayed_workflow(&bounce("k3", 3_000, "[9]"), None)
        .await
        .expect("bounce");
    assert_eq!(r.bounced_workflow_id, None);
    assert_eq!(r.holder_application_name.as_deref(), Some("other-app"));
    assert_eq!(row(&url, "d3").await.0, 1_000);

    // An unheld key: nothing at all.
    let r = engine
        .debounce_delayed_workflow(&bounce("none", 3_000, "[9]"), None)
        .await
        .expect("bounce");
    assert_eq!(r, Default::default());

    // From workflow code: the checkpoint is written with the bounce, its output the result as JSON.
    let parent = NewWorkflow {
        workflow_id: "parent".to_string(),
        status: "PENDING".to_string(),
        name: "parent".to_string(),
        inputs: "[]".to_string(),
        token: "tp".to_string(),
        ..Default::default()
    };
    engine.start_workflow(&parent).await.expect("start parent");
    let step = BounceStep {
        workflow_id: "parent".to_string(),
        token: "tp".to_string(),
        function_id: 0,
        started_at: 1,
    };
    engine
        .debounce_delayed_workflow(&bounce("k1", 4_000, "[4]"), Some(&step))
        .await
        .expect("bounce in a workflow");
    let cp = engine
        .get_checkpoint("parent", 0)
        .await
        .expect("read")
        .expect("checkpoint");
    assert_eq!(cp.name, BOUNCE_STEP);
    let out: serde_json::Value =
        serde_json::from_str(cp.output.as_deref().unwrap_or("null")).expect("json");
    assert_eq!(out["bouncedWorkflowID"], "d1");
    assert_eq!(out["holderWorkflowID"], serde_json::Value::Null);
    assert_eq!(row(&url, "d1").await.1.as_deref(), Some("[4]"));
}
