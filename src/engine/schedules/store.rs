//! The rows of `dbos.workflow_schedules`, in the official SDK's format (`context` as the app
//! serializer's text, `last_fired_at` as ISO text, `application_name` the owner, NULL: unclaimed).

use tokio_postgres::Row;

use crate::engine::error::{EngineError, Result};
use crate::engine::listener::SCHEDULES_CHANNEL;
use crate::engine::Engine;

/// Tells every process firing schedules to re-read them now (`fire.rs`), rather than at its next
/// poll: run in the writing transaction, so it is delivered at its commit (or never). Transactions,
/// locks: no row locks (the server serialises notifying commits).
fn notify_changed() -> String {
    format!("SELECT pg_notify('{SCHEDULES_CHANNEL}', $1::text)")
}

const COLUMNS: &str = "schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, \
     status, context, last_fired_at, automatic_backfill, cron_timezone, queue_name, application_name";

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub schedule_id: String,
    pub schedule_name: String,
    pub workflow_name: String,
    pub workflow_class_name: Option<String>,
    pub schedule: String,
    pub status: String,
    pub context: String,
    pub last_fired_at: Option<String>,
    pub automatic_backfill: bool,
    pub cron_timezone: Option<String>,
    pub queue_name: Option<String>,
    pub application_name: Option<String>,
}

impl ScheduleRecord {
    /// The row's columns in `COLUMNS` order, as statement parameters $1..$12.
    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 12] {
        [
            &self.schedule_id,
            &self.schedule_name,
            &self.workflow_name,
            &self.workflow_class_name,
            &self.schedule,
            &self.status,
            &self.context,
            &self.last_fired_at,
            &self.automatic_backfill,
            &self.cron_timezone,
            &self.queue_name,
            &self.application_name,
        ]
    }
}

/// `listSchedules` filters; an empty list does not filter. `apps` empty: every application.
#[derive(Debug, Clone, Default)]
pub struct ScheduleFilter {
    pub apps: Vec<String>,
    pub statuses: Vec<String>,
    pub workflow_names: Vec<String>,
    pub name_prefixes: Vec<String>,
}

/// `updateSchedule`: `None` leaves a column; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ScheduleUpdate {
    pub schedule: Option<String>,
    pub context: Option<String>,
    pub automatic_backfill: Option<bool>,
    pub cron_timezone: Option<Option<String>>,
    pub queue_name: Option<Option<String>>,
}

fn record_from(row: &Row) -> ScheduleRecord {
    ScheduleRecord {
        schedule_id: row.get(0),
        schedule_name: row.get(1),
        workflow_name: row.get(2),
        workflow_class_name: row.get(3),
        schedule: row.get(4),
        status: row.get(5),
        context: row.get(6),
        last_fired_at: row.get(7),
        automatic_backfill: row.get(8),
        cron_timezone: row.get(9),
        queue_name: row.get(10),
        application_name: row.get(11),
    }
}

fn not_found(name: &str) -> EngineError {
    EngineError::invalid(format!("Schedule '{name}' not found"))
}

impl Engine {
    /// Inserts a new schedule. `record.application_name` is the writer (`None`: keep or leave
    /// unclaimed); a name owned by another application, or an existing name, is refused and nothing
    /// is written.
    pub async fn create_schedule(&self, record: &ScheduleRecord) -> Result<()> {
        let s = self.schema();
        let owner_of =
            format!("SELECT application_name FROM {s}.workflow_schedules WHERE schedule_name = $1");
        // Transactions, locks: one transaction; the INSERT locks the new row (a concurrent insert of
        // the same name waits for it, then fails on the unique key, 23505).
        let insert = format!("INSERT INTO {s}.workflow_schedules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            if let Some(row) = tx.query_opt(&owner_of, &[&record.schedule_name]).await? {
                let current: Option<String> = row.get(0);
                owner_check(
                    &record.schedule_name,
                    current.as_deref(),
                    record.application_name.as_deref(),
                )?;
                return Err(exists(&record.schedule_name));
            }
            let r = record;
            let inserted = tx.execute(&insert, &r.params()).await;
            match inserted {
                Err(e) if e.code().is_some_and(|c| c.code() == "23505") => {
                    Err(exists(&r.schedule_name))
                }
                other => {
                    other?;
                    tx.execute(&notify_changed(), &[&r.schedule_name]).await?;
                    tx.commit().await?;
                    Ok(())
                }
            }
        })
        .await
    }

    /// Upserts every schedule in one transaction: an existing row keeps its ID, status and
    /// `last_fired_at`; rows not listed stay. Any owner conflict refuses the whole batch.
    pub async fn apply_schedules(&self, records: &[ScheduleRecord]) -> Result<()> {
        let s = self.schema();
        let owner_of =
            format!("SELECT application_name FROM {s}.workflow_schedules WHERE schedule_name = $1");
        // Transactions, locks: one transaction; each upsert locks its row until commit.
        let upsert = format!(
            "INSERT INTO {s}.workflow_schedules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (schedule_name) DO UPDATE SET workflow_name = EXCLUDED.workflow_name, \
               workflow_class_name = EXCLUDED.workflow_class_name, schedule = EXCLUDED.schedule, \
               context = EXCLUDED.context, automatic_backfill = EXCLUDED.automatic_backfill, \
               cron_timezone = EXCLUDED.cron_timezone, queue_name = EXCLUDED.queue_name, \
               application_name = COALESCE({s}.workflow_schedules.application_name, EXCLUDED.application_name)"
        );
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            for r in records {
                if let Some(row) = tx.query_opt(&owner_of, &[&r.schedule_name]).await? {
                    let current: Option<String> = row.get(0);
                    owner_check(
                        &r.schedule_name,
                        current.as_deref(),
                        r.application_name.as_deref(),
                    )?;
                }
                tx.execute(&upsert, &r.params()).await?;
                tx.execute(&notify_changed(), &[&r.schedule_name]).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {}.workflow_schedules WHERE schedule_name = $1",
            self.schema()
        );
        self.retrying(|| async {
            Ok(self
                .query_opt(&sql, &[&name])
                .await?
                .as_ref()
                .map(record_from))
        })
        .await
    }

    /// Ordered by name; each filter list is an OR of its values, the filters an AND. A prefix is a
    /// LIKE pattern with `%` appended, unescaped as in the SDK (`_` and `%` in it are wildcards).
    pub async fn list_schedules(&self, filter: &ScheduleFilter) -> Result<Vec<ScheduleRecord>> {
        let prefixes: Vec<String> = filter
            .name_prefixes
            .iter()
            .map(|p| format!("{p}%"))
            .collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM {}.workflow_schedules \
             WHERE (cardinality($1::text[]) = 0 OR application_name = ANY($1) OR application_name IS NULL) \
               AND (cardinality($2::text[]) = 0 OR status = ANY($2)) \
               AND (cardinality($3::text[]) = 0 OR workflow_name = ANY($3)) \
               AND (cardinality($4::text[]) = 0 OR schedule_name LIKE ANY($4)) \
             ORDER BY schedule_name",
            self.schema()
        );
        self.retrying(|| async {
            let client = self.client().await?;
            let rows = client
                .query(
                    &sql,
                    &[
                        &filter.apps,
                        &filter.statuses,
                        &filter.workflow_names,
                        &prefixes,
                    ],
                )
                .await?;
            Ok(rows.iter().map(record_from).collect())
        })
        .await
    }

    /// Deletes the row; no row, no change (as the SDK).
    pub async fn delete_schedule(&self, name: &str) -> Result<()> {
        // Transactions, locks: one statement; locks the row it deletes. Then the notification, as a
        // statement of its own (a lost one only delays the change to the firing's next poll).
        let sql = format!(
            "DELETE FROM {}.workflow_schedules WHERE schedule_name = $1",
            self.schema()
        );
        self.retrying(|| async {
            let client = self.client().await?;
            client.execute(&sql, &[&name]).await?;
            client.execute(&notify_changed(), &[&name]).await?;
            Ok(())
        })
        .await
    }

    /// `ACTIVE` or `PAUSED`; no row, no change (as the SDK).
    pub async fn set_schedule_status(&self, name: &str, status: &str) -> Result<()> {
        // Transactions, locks: one statement; locks the row it updates. Then the notification, as a
        // statement of its own.
        let sql = format!(
            "UPDATE {}.workflow_schedules SET status = $2 WHERE schedule_name = $1",
            self.schema()
        );
        self.retrying(|| async {
            let client = self.client().await?;
            client.execute(&sql, &[&name, &status]).await?;
            client.execute(&notify_changed(), &[&name]).await?;
            Ok(())
        })
        .await
    }

    /// Writes only the given columns; a missing schedule is an error even with nothing to write.
    pub async fn update_schedule(&self, name: &str, update: &ScheduleUpdate) -> Result<()> {
        // Transactions, locks: one statement; locks the row. A flag per column says whether to write
        // it, so one statement serves every combination. Then the notification, on its own.
        let sql = format!(
            "UPDATE {}.workflow_schedules SET \
               schedule = CASE WHEN $2 THEN $3 ELSE schedule END, \
               context = CASE WHEN $4 THEN $5 ELSE context END, \
               automatic_backfill = CASE WHEN $6 THEN $7 ELSE automatic_backfill END, \
               cron_timezone = CASE WHEN $8 THEN $9 ELSE cron_timezone END, \
               queue_name = CASE WHEN $10 THEN $11 ELSE queue_name END \
             WHERE schedule_name = $1",
            self.schema()
        );
        let u = update;
        let (tz, queue) = (
            u.cron_timezone.clone().flatten(),
            u.queue_name.clone().flatten(),
        );
        self.retrying(|| async {
            let client = self.client().await?;
            let n = client
                .execute(
                    &sql,
                    &[
                        &name,
                        &u.schedule.is_some(),
                        &u.schedule.as_deref().unwrap_or(""),
                        &u.context.is_some(),
                        &u.context.as_deref().unwrap_or(""),
                        &u.automatic_backfill.is_some(),
                        &u.automatic_backfill.unwrap_or(false),
                        &u.cron_timezone.is_some(),
                        &tz,
                        &u.queue_name.is_some(),
                        &queue,
                    ],
                )
                .await?;
            if n == 0 {
                return Err(not_found(name));
            }
            client.execute(&notify_changed(), &[&name]).await?;
            Ok(())
        })
        .await
    }

    /// Records a firing: `last_fired_at` only moves forward (ISO texts of one format compare as
    /// times), so processes finishing ticks out of order cannot set it back. True if it moved.
    pub async fn record_schedule_fired(&self, name: &str, fired_at_iso: &str) -> Result<bool> {
        // Transactions, locks: one statement; locks the row it updates.
        let sql = format!(
            "UPDATE {}.workflow_schedules SET last_fired_at = $2 \
             WHERE schedule_name = $1 AND (last_fired_at IS NULL OR last_fired_at < $2)",
            self.schema()
        );
        self.retrying(|| async {
            Ok(self
                .client()
                .await?
                .execute(&sql, &[&name, &fired_at_iso])
                .await?
                > 0)
        })
        .await
    }
}

fn exists(name: &str) -> EngineError {
    EngineError::invalid(format!("Schedule '{name}' already exists"))
}

fn owner_check(name: &str, current: Option<&str>, owner: Option<&str>) -> Result<()> {
    match (current, owner) {
        (Some(c), Some(o)) if c != o => Err(EngineError::NameTaken {
            kind: "Schedule",
            name: name.to_string(),
            owner: c.to_string(),
            requested: o.to_string(),
        }),
        _ => Ok(()),
    }
}
