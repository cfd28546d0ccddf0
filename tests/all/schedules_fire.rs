//! Firing schedules against a real Postgres (`DBOS_TEST_DATABASE_URL` names a server; the test creates
//! its own database): a store write wakes the firing at once (the NOTIFY), without waiting for the poll.

use std::time::{Duration, Instant};

use dbos_native::engine::schedules::fire::FiringOptions;
use dbos_native::engine::schedules::store::ScheduleRecord;
use dbos_native::engine::Engine;

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
