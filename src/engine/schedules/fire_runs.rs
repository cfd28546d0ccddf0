//! The workflows a schedule fires: their IDs (`sched-<name>-<ISO time>`, as the DBOS SDK 5.3.0 names
//! them, so SDK processes and ours sharing a database write each tick once), the ticks of
//! `triggerSchedule` and `backfillSchedule`, and the insert of the rows (inputs serialized in JS).

use chrono::{DateTime, SecondsFormat, Utc};

use super::next::Schedule;
use super::store::ScheduleRecord;
use crate::engine::db::now_ms;
use crate::engine::error::{EngineError, Result};
use crate::engine::recovery::INTERNAL_QUEUE;
use crate::engine::Engine;

/// One firing of a schedule: the row to write, less its inputs (`[scheduledDate, context]`, which
/// only the application's serializer can write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTick {
    pub schedule_name: String,
    pub workflow_id: String,
    pub scheduled_at_ms: i64,
    pub workflow_name: String,
    pub workflow_class_name: Option<String>,
    /// The schedule's queue, else the internal queue.
    pub queue_name: String,
    /// The schedule's owner, else the firing process's application (None: unclaimed).
    pub owner: Option<String>,
    /// The schedule's context as the application serializer wrote it.
    pub context: String,
}

/// A tick with its serialized inputs, ready to write.
#[derive(Debug, Clone)]
pub struct ScheduledRun {
    pub tick: ScheduleTick,
    pub inputs: String,
    pub serialization: String,
}

/// `Date.prototype.toISOString()`: UTC, milliseconds, `Z`.
pub fn iso_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A stored `last_fired_at` (ISO text) as epoch ms; None if it does not parse.
pub fn parse_iso(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A schedule's timezone: its own, else the host's (the SDK's default), passed in by JS.
pub fn schedule_of(record: &ScheduleRecord, default_tz: &str) -> Result<Schedule> {
    let tz = record.cron_timezone.as_deref().unwrap_or(default_tz);
    Schedule::new(&record.schedule, tz)
}

pub fn tick_of(
    record: &ScheduleRecord,
    workflow_id: String,
    at_ms: i64,
    app: &str,
) -> ScheduleTick {
    ScheduleTick {
        schedule_name: record.schedule_name.clone(),
        workflow_id,
        scheduled_at_ms: at_ms,
        workflow_name: record.workflow_name.clone(),
        workflow_class_name: record.workflow_class_name.clone(),
        // As the SDK: an empty queue name is no queue.
        queue_name: record
            .queue_name
            .clone()
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| INTERNAL_QUEUE.to_string()),
        owner: record
            .application_name
            .clone()
            .or_else(|| Some(app.to_string()))
            .filter(|o| !o.is_empty()),
        context: record.context.clone(),
    }
}

/// The ID of a schedule's firing at `at_ms`.
pub fn tick_id(name: &str, at_ms: i64) -> String {
    format!("sched-{name}-{}", iso_ms(at_ms))
}

impl Engine {
    async fn schedule_named(&self, name: &str) -> Result<ScheduleRecord> {
        self.get_schedule(name)
            .await?
            .ok_or_else(|| EngineError::invalid(format!("Schedule \"{name}\" not found")))
    }

    /// `triggerSchedule`: one firing now, `sched-<name>-trigger-<now ISO>`.
    pub async fn trigger_tick(&self, name: &str) -> Result<ScheduleTick> {
        let record = self.schedule_named(name).await?;
        let now = now_ms();
        let id = format!("sched-{name}-trigger-{}", iso_ms(now));
        Ok(tick_of(&record, id, now, &self.identity.app_name))
    }

    /// `backfillSchedule`: every tick strictly after `start_ms` and strictly before `end_ms`, with
    /// the IDs the firing gives them (so a tick already fired is not fired again).
    pub async fn backfill_ticks(
        &self,
        name: &str,
        start_ms: i64,
        end_ms: i64,
        default_tz: &str,
    ) -> Result<Vec<ScheduleTick>> {
        let record = self.schedule_named(name).await?;
        let schedule = schedule_of(&record, default_tz)?;
        let mut ticks = Vec::new();
        let mut at = start_ms;
        while let Some(next) = schedule.next_after(at).filter(|t| *t < end_ms) {
            ticks.push(tick_of(
                &record,
                tick_id(name, next),
                next,
                &self.identity.app_name,
            ));
            at = next;
        }
        Ok(ticks)
    }

    /// Writes the rows of `runs` as the SDK enqueues a scheduled workflow (ENQUEUED, no executor, the
    /// owner's latest application version, `schedule_name` set); an ID already there is left alone.
    /// With `record_fired`, then moves each schedule's `last_fired_at` forward to its latest tick
    /// here (never back). Returns the IDs this call created.
    pub async fn fire_scheduled(
        &self,
        runs: &[ScheduledRun],
        record_fired: bool,
    ) -> Result<Vec<String>> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.schema();
        // Transactions, locks: one statement; each new status row is locked until it commits. Rows go
        // in ID order, so two processes firing the same ticks lock them in the same order (no
        // deadlock): the second waits for the first's commit, then skips the row.
        let insert = format!(
            "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
               $5::text[], $6::text[], $7::text[], $8::text[]) \
               AS u(id, name, class_name, queue_name, inputs, serialization, owner, schedule_name)), \
             ws AS (INSERT INTO {s}.workflow_status (workflow_uuid, status, name, class_name, \
               config_name, queue_name, authenticated_user, assumed_role, authenticated_roles, \
               executor_id, application_version, application_id, recovery_attempts, priority, \
               serialization, schedule_name, is_debounced, application_name) \
               SELECT i.id, 'ENQUEUED', i.name, NULLIF(i.class_name, ''), NULL, i.queue_name, '', '', \
                 '[]', '', \
                 (SELECT v.version_name FROM {s}.application_versions v \
                   WHERE i.owner IS NULL OR v.application_name = i.owner OR v.application_name IS NULL \
                   ORDER BY v.version_timestamp DESC LIMIT 1), \
                 '', 0, 0, i.serialization, i.schedule_name, false, i.owner \
               FROM input i ORDER BY i.id \
               ON CONFLICT (workflow_uuid) DO NOTHING RETURNING workflow_uuid), \
             inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) \
               SELECT i.id, i.inputs FROM input i JOIN ws ON ws.workflow_uuid = i.id \
               ON CONFLICT (workflow_uuid) DO NOTHING) \
             SELECT workflow_uuid FROM ws"
        );
        let col = |f: fn(&ScheduledRun) -> Option<String>| runs.iter().map(f).collect::<Vec<_>>();
        let ids = col(|r| Some(r.tick.workflow_id.clone()));
        let names = col(|r| Some(r.tick.workflow_name.clone()));
        let classes = col(|r| r.tick.workflow_class_name.clone());
        let queues = col(|r| Some(r.tick.queue_name.clone()));
        let inputs = col(|r| Some(r.inputs.clone()));
        let formats = col(|r| Some(r.serialization.clone()));
        let owners = col(|r| r.tick.owner.clone());
        let schedules = col(|r| Some(r.tick.schedule_name.clone()));
        let created: Vec<String> = self
            .retrying(|| async {
                let rows = self
                    .query(
                        &insert,
                        &[
                            &ids, &names, &classes, &queues, &inputs, &formats, &owners, &schedules,
                        ],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
            .await?;
        if record_fired {
            let mut latest: Vec<(&str, i64)> = Vec::new();
            for r in runs {
                let t = &r.tick;
                match latest.iter_mut().find(|(n, _)| *n == t.schedule_name) {
                    Some((_, at)) => *at = (*at).max(t.scheduled_at_ms),
                    None => latest.push((&t.schedule_name, t.scheduled_at_ms)),
                }
            }
            // One guarded statement per schedule (see `record_schedule_fired`): single-row updates
            // cannot deadlock with another process's.
            for (name, at) in latest {
                self.record_schedule_fired(name, &iso_ms(at)).await?;
            }
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_are_the_sdk_iso_form() {
        assert_eq!(iso_ms(1_767_312_000_000), "2026-01-02T00:00:00.000Z");
        assert_eq!(
            tick_id("nightly", 1_767_312_000_005),
            "sched-nightly-2026-01-02T00:00:00.005Z"
        );
        assert_eq!(
            parse_iso("2026-01-02T00:00:00.000Z"),
            Some(1_767_312_000_000)
        );
        assert_eq!(parse_iso("garbage"), None);
    }
}
