//! Firing schedules against a real Postgres (`DBOS_TEST_DATABASE_URL` names a server; the test creates
//! its own database): a store write wakes the firing at once (the NOTIFY), without waiting for the poll;
//! a tick fired before any application version exists runs on the app's latest version.

use std::time::{Duration, Instant};

use dbos_native::engine::recovery::INTERNAL_QUEUE;
use dbos_native::engine::schedules::fire::FiringOptions;
use dbos_native::engine::schedules::fire_runs::ScheduledRun;
use dbos_native::engine::schedules::store::ScheduleRecord;
use dbos_native::engine::Engine;
use tokio_postgres::NoTls;

async fn fresh_engine(name: &str) -> Engine {
    let how = crate::common::TestEngine {
        app_name: "fire-test",
        pool_size: 4,
        listen: true,
    };
    crate::common::fresh_engine(name, how).await.1
}

fn record(name: &str, status: &str) -> ScheduleRecord {
    ScheduleRecord {
        schedule_id: format!("id-{name}"),
        schedule_name: name.to_string(),
        workflow_name: "tick".to_string(),
        workflow_class_name: Some(String::new()),
        schedule: "* * * * * *".to_string(),
        status: status.to_string(),
        context: "null".to_string(),
        last_fired_at: None,
        automatic_backfill: false,
        cron_timezone: Some("UTC".to_string()),
        queue_name: None,
        application_name: Some("fire-test".to_string()),
    }
}

/// No fast poll and an hour between polls: only the store's notification can make a new schedule fire.
fn slow_poll() -> FiringOptions {
    FiringOptions {
        poll_interval_ms: 3_600_000,
        fast_poll_for_ms: 0,
        default_timezone: "UTC".to_string(),
        max_ticks: 100,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_write_wakes_the_firing() {
    let e = std::sync::Arc::new(fresh_engine("schedules_fire_notify").await);
    // Armed with nothing to fire: the first read finds a paused schedule.
    e.create_schedule(&record("later", "PAUSED")).await.unwrap();
    let firing = {
        let e = e.clone();
        tokio::spawn(async move { e.next_schedule_ticks(&slow_poll()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resumed = Instant::now();
    e.set_schedule_status("later", "ACTIVE").await.unwrap();
    // A per-second schedule fires within about a second of the resume; the poll would take an hour.
    let ticks = tokio::time::timeout(Duration::from_secs(20), firing)
        .await
        .expect("the notification woke the firing before the poll")
        .unwrap()
        .unwrap()
        .ticks;
    assert!(resumed.elapsed() < Duration::from_secs(20));
    assert_eq!(ticks.len(), 1);
    let t = &ticks[0];
    assert_eq!(t.schedule_name, "later");
    assert_eq!(t.queue_name, "_dbos_internal_queue");
    assert_eq!(t.owner.as_deref(), Some("fire-test"));
    assert!(t.workflow_id.starts_with("sched-later-") && t.workflow_id.ends_with(".000Z"));
    e.close();
}

/// With no application-version row (a client fired before any process of the app registered one), the
/// tick's row gets no version, as a client's enqueue does, where the SDK's fire fails and loses the tick.
/// Such a row runs only on a process of the app's latest version (as the SDK claims rows without one),
/// the internal queue included: an older version's process leaves it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_fired_with_no_version_runs_on_the_latest_version() {
    let how = crate::common::TestEngine {
        app_name: "fire-test",
        pool_size: 2,
        listen: false,
    };
    let (url, e) = crate::common::fresh_engine("schedules_fire_no_version", how).await;
    e.create_schedule(&record("early", "ACTIVE")).await.unwrap();
    let tick = e.trigger_tick("early").await.unwrap();
    let id = tick.workflow_id.clone();
    let run = ScheduledRun {
        tick,
        inputs: "[]".to_string(),
        serialization: "superjson".to_string(),
    };
    assert_eq!(
        e.fire_scheduled(&[run], false).await.unwrap(),
        vec![id.clone()]
    );
    let row = e
        .get_workflow_status(&id)
        .await
        .unwrap()
        .expect("the fired row");
    assert_eq!(row.application_version, None);
    assert_eq!(row.queue_name.as_deref(), Some(INTERNAL_QUEUE));

    // This process (v1) registers, then another process registers v2, a newer version.
    e.register_app_version().await.unwrap();
    let (sql, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let newer = dbos_native::engine::db::now_ms() + 60_000;
    sql.execute(
        "INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp, application_name) \
         VALUES ('id-v2', 'v2', $1, 'fire-test')",
        &[&newer],
    )
    .await
    .unwrap();
    assert!(
        e.claim_queued(INTERNAL_QUEUE, 10).await.unwrap().is_empty(),
        "v1 is not the latest: the row is left to v2"
    );
    e.set_latest_application_version("v1", Some("fire-test"), newer + 1)
        .await
        .unwrap();
    let claimed = e.claim_queued(INTERNAL_QUEUE, 10).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|c| c.workflow_id.clone())
            .collect::<Vec<_>>(),
        vec![id]
    );
    e.close();
}
