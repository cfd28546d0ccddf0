//! The `dbos.workflow_schedules` store against a real Postgres (`DBOS_TEST_DATABASE_URL` names a
//! server; the test creates its own database).

use dbos_native::engine::schedules::store::{ScheduleFilter, ScheduleRecord, ScheduleUpdate};
use dbos_native::engine::{Engine, ErrorCode};

async fn fresh_engine(name: &str) -> Engine {
    let how = crate::common::TestEngine {
        app_name: "sched-test",
        pool_size: 2,
        listen: false,
    };
    crate::common::fresh_engine(name, how).await.1
}

fn record(name: &str, app: Option<&str>) -> ScheduleRecord {
    ScheduleRecord {
        schedule_id: format!("id-{name}"),
        schedule_name: name.to_string(),
        workflow_name: "tick".to_string(),
        workflow_class_name: Some(String::new()),
        schedule: "* * * * * *".to_string(),
        status: "ACTIVE".to_string(),
        context: "null".to_string(),
        last_fired_at: None,
        automatic_backfill: false,
        cron_timezone: None,
        queue_name: None,
        application_name: app.map(str::to_string),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_store() {
    let e = fresh_engine("schedule_store").await;
    e.create_schedule(&record("a", Some("app1"))).await.unwrap();
    let dup = e
        .create_schedule(&record("a", Some("app1")))
        .await
        .unwrap_err();
    assert_eq!(dup.to_string(), "Schedule 'a' already exists");
    let taken = e
        .create_schedule(&record("a", Some("app2")))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), ErrorCode::InvalidArgument);
    assert!(
        taken
            .to_string()
            .contains("already registered by application 'app1'"),
        "{taken}"
    );
    e.create_schedule(&record("b_x", None)).await.unwrap();
    e.create_schedule(&record("c", Some("app2"))).await.unwrap();

    // Own plus unclaimed, ordered by name; prefixes are LIKE patterns as in the SDK.
    let own = ScheduleFilter {
        apps: vec!["app1".into()],
        ..Default::default()
    };
    let names = |v: Vec<ScheduleRecord>| v.into_iter().map(|r| r.schedule_name).collect::<Vec<_>>();
    assert_eq!(names(e.list_schedules(&own).await.unwrap()), ["a", "b_x"]);
    assert_eq!(
        names(e.list_schedules(&ScheduleFilter::default()).await.unwrap()),
        ["a", "b_x", "c"]
    );
    let prefixed = ScheduleFilter {
        name_prefixes: vec!["b_".into(), "c".into()],
        ..Default::default()
    };
    assert_eq!(
        names(e.list_schedules(&prefixed).await.unwrap()),
        ["b_x", "c"]
    );

    // apply: upsert keeps ID, status and last_fired_at; the owner stays.
    e.set_schedule_status("a", "PAUSED").await.unwrap();
    assert!(e
        .record_schedule_fired("a", "2026-01-01T00:00:02.000Z")
        .await
        .unwrap());
    let mut changed = record("a", Some("app1"));
    changed.schedule_id = "other".into();
    changed.schedule = "0 * * * * *".into();
    e.apply_schedules(&[changed, record("d", Some("app1"))])
        .await
        .unwrap();
    let a = e.get_schedule("a").await.unwrap().unwrap();
    assert_eq!(
        (
            a.schedule_id.as_str(),
            a.status.as_str(),
            a.schedule.as_str()
        ),
        ("id-a", "PAUSED", "0 * * * * *")
    );
    assert_eq!(a.last_fired_at.as_deref(), Some("2026-01-01T00:00:02.000Z"));
    let refused = e
        .apply_schedules(&[record("e", Some("app1")), record("c", Some("app1"))])
        .await;
    assert!(refused.is_err());
    assert!(
        e.get_schedule("e").await.unwrap().is_none(),
        "a refused batch writes nothing"
    );

    // last_fired_at never moves backwards.
    assert!(!e
        .record_schedule_fired("a", "2026-01-01T00:00:01.000Z")
        .await
        .unwrap());
    assert!(e
        .record_schedule_fired("a", "2026-01-01T00:00:03.000Z")
        .await
        .unwrap());
    assert_eq!(
        e.get_schedule("a")
            .await
            .unwrap()
            .unwrap()
            .last_fired_at
            .as_deref(),
        Some("2026-01-01T00:00:03.000Z")
    );

    // update writes only the given columns; None inside clears.
    let set = ScheduleUpdate {
        cron_timezone: Some(Some("UTC".into())),
        queue_name: Some(Some("q".into())),
        ..Default::default()
    };
    e.update_schedule("a", &set).await.unwrap();
    let clear = ScheduleUpdate {
        queue_name: Some(None),
        context: Some("{}".into()),
        ..Default::default()
    };
    e.update_schedule("a", &clear).await.unwrap();
    let a = e.get_schedule("a").await.unwrap().unwrap();
    assert_eq!(
        (
            a.cron_timezone.as_deref(),
            a.queue_name.as_deref(),
            a.context.as_str()
        ),
        (Some("UTC"), None, "{}")
    );
    assert_eq!(a.schedule, "0 * * * * *");
    let missing = e
        .update_schedule("zz", &ScheduleUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "Schedule 'zz' not found");

    e.delete_schedule("a").await.unwrap();
    e.delete_schedule("a").await.unwrap();
    assert!(e.get_schedule("a").await.unwrap().is_none());
    e.close();
}
