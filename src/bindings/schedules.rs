//! Schedules: the crontab check and next-time search, and the `dbos.workflow_schedules` store
//! (`engine::schedules`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::schedules::store::{ScheduleFilter, ScheduleRecord, ScheduleUpdate};
use crate::engine::schedules::Schedule;

/// The next `count` firing times (epoch ms) strictly after `afterMs` of a crontab in an IANA
/// timezone, stopping early when a century holds no more. Rejects with INVALID_ARGUMENT and the
/// SDK's message for a bad expression or timezone.
#[napi]
pub fn cron_next_times(
    env: &Env,
    expression: String,
    timezone: String,
    after_ms: i64,
    count: u32,
) -> Result<PromiseRaw<'_, Vec<i64>>> {
    promise(env, async move {
        let schedule = Schedule::new(&expression, &timezone)?;
        let mut times = Vec::new();
        let mut at = after_ms;
        while times.len() < count as usize {
            let Some(next) = schedule.next_after(at) else {
                break;
            };
            times.push(next);
            at = next;
        }
        Ok(times)
    })
}

/// A `dbos.workflow_schedules` row, as stored (`context` is the app serializer's text).
#[napi(object, use_nullable = true)]
pub struct JsScheduleRecord {
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

/// `listSchedules` filters: an empty list does not filter; `apps` empty means every application.
#[napi(object, use_nullable = true)]
pub struct JsScheduleFilter {
    pub apps: Vec<String>,
    pub statuses: Vec<String>,
    pub workflow_names: Vec<String>,
    pub name_prefixes: Vec<String>,
}

/// `updateSchedule`: a column is written only when its `set*` flag is true (null clears it).
#[napi(object, use_nullable = true)]
pub struct JsScheduleUpdate {
    pub schedule: Option<String>,
    pub context: Option<String>,
    pub automatic_backfill: Option<bool>,
    pub set_cron_timezone: bool,
    pub cron_timezone: Option<String>,
    pub set_queue_name: bool,
    pub queue_name: Option<String>,
}

impl From<JsScheduleRecord> for ScheduleRecord {
    fn from(r: JsScheduleRecord) -> Self {
        ScheduleRecord {
            schedule_id: r.schedule_id,
            schedule_name: r.schedule_name,
            workflow_name: r.workflow_name,
            workflow_class_name: r.workflow_class_name,
            schedule: r.schedule,
            status: r.status,
            context: r.context,
            last_fired_at: r.last_fired_at,
            automatic_backfill: r.automatic_backfill,
            cron_timezone: r.cron_timezone,
            queue_name: r.queue_name,
            application_name: r.application_name,
        }
    }
}

impl From<ScheduleRecord> for JsScheduleRecord {
    fn from(r: ScheduleRecord) -> Self {
        JsScheduleRecord {
            schedule_id: r.schedule_id,
            schedule_name: r.schedule_name,
            workflow_name: r.workflow_name,
            workflow_class_name: r.workflow_class_name,
            schedule: r.schedule,
            status: r.status,
            context: r.context,
            last_fired_at: r.last_fired_at,
            automatic_backfill: r.automatic_backfill,
            cron_timezone: r.cron_timezone,
            queue_name: r.queue_name,
            application_name: r.application_name,
        }
    }
}

#[napi]
impl NativeEngine {
    #[napi]
    pub fn create_schedule<'env>(
        &self,
        env: &'env Env,
        record: JsScheduleRecord,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(
            env,
            async move { engine.create_schedule(&record.into()).await },
        )
    }

    #[napi]
    pub fn apply_schedules<'env>(
        &self,
        env: &'env Env,
        records: Vec<JsScheduleRecord>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        let records: Vec<ScheduleRecord> = records.into_iter().map(Into::into).collect();
        promise(env, async move { engine.apply_schedules(&records).await })
    }

    #[napi]
    pub fn get_schedule<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> Result<PromiseRaw<'env, Option<JsScheduleRecord>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            Ok(engine.get_schedule(&name).await?.map(Into::into))
        })
    }

    #[napi]
    pub fn list_schedules<'env>(
        &self,
        env: &'env Env,
        filter: JsScheduleFilter,
    ) -> Result<PromiseRaw<'env, Vec<JsScheduleRecord>>> {
        let engine = self.inner.clone();
        let filter = ScheduleFilter {
            apps: filter.apps,
            statuses: filter.statuses,
            workflow_names: filter.workflow_names,
            name_prefixes: filter.name_prefixes,
        };
        promise(env, async move {
            let rows = engine.list_schedules(&filter).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn delete_schedule<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.delete_schedule(&name).await })
    }

    /// `ACTIVE` or `PAUSED`.
    #[napi]
    pub fn set_schedule_status<'env>(
        &self,
        env: &'env Env,
        name: String,
        status: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.set_schedule_status(&name, &status).await
        })
    }

    #[napi]
    pub fn update_schedule<'env>(
        &self,
        env: &'env Env,
        name: String,
        update: JsScheduleUpdate,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        let update = ScheduleUpdate {
            schedule: update.schedule,
            context: update.context,
            automatic_backfill: update.automatic_backfill,
            cron_timezone: update.set_cron_timezone.then_some(update.cron_timezone),
            queue_name: update.set_queue_name.then_some(update.queue_name),
        };
        promise(
            env,
            async move { engine.update_schedule(&name, &update).await },
        )
    }

    /// Moves `last_fired_at` forward to `firedAtIso` (never back); true if it moved.
    #[napi]
    pub fn record_schedule_fired<'env>(
        &self,
        env: &'env Env,
        name: String,
        fired_at_iso: String,
    ) -> Result<PromiseRaw<'env, bool>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.record_schedule_fired(&name, &fired_at_iso).await
        })
    }
}
