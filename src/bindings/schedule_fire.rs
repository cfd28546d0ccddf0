//! Firing schedules (engine: `schedules::fire`, `schedules::fire_runs`): the ticks due, those of
//! `triggerSchedule` and `backfillSchedule`, and writing them once JS has serialized their inputs.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::schedules::fire::{FiringOptions, Firings};
use crate::engine::schedules::fire_runs::{ScheduleTick, ScheduledRun};

/// One firing of a schedule: the workflow row to write, less its inputs.
#[napi(object, use_nullable = true)]
pub struct JsScheduleTick {
    pub schedule_name: String,
    pub workflow_id: String,
    pub scheduled_at_ms: i64,
    pub workflow_name: String,
    pub workflow_class_name: Option<String>,
    /// The schedule's queue, else the internal queue.
    pub queue_name: String,
    pub owner: Option<String>,
    /// The schedule's context, as the application serializer wrote it.
    pub context: String,
}

/// A tick and its inputs (`[scheduledDate, context]`) as the application serializer wrote them.
#[napi(object, use_nullable = true)]
pub struct JsScheduledRun {
    pub tick: JsScheduleTick,
    pub inputs: String,
    pub serialization: String,
}

/// A schedule that never fires (its crontab or timezone is invalid), reported once per arming.
#[napi(object, use_nullable = true)]
pub struct JsInvalidSchedule {
    pub schedule_name: String,
    /// Its crontab, as stored.
    pub schedule: String,
    pub message: String,
}

/// The ticks due, and the schedules found invalid since the last call.
#[napi(object, use_nullable = true)]
pub struct JsFirings {
    pub ticks: Vec<JsScheduleTick>,
    pub invalid: Vec<JsInvalidSchedule>,
}

impl From<Firings> for JsFirings {
    fn from(f: Firings) -> Self {
        JsFirings {
            ticks: ticks(f.ticks),
            invalid: f
                .invalid
                .into_iter()
                .map(|i| JsInvalidSchedule {
                    schedule_name: i.schedule_name,
                    schedule: i.schedule,
                    message: i.message,
                })
                .collect(),
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsFiringOptions {
    pub poll_interval_ms: u32,
    /// How long after the first call the table is re-read every second (the SDK: 60 000).
    pub fast_poll_for_ms: u32,
    /// For schedules without a timezone: the host's.
    pub default_timezone: String,
    pub max_ticks: u32,
}

impl From<ScheduleTick> for JsScheduleTick {
    fn from(t: ScheduleTick) -> Self {
        JsScheduleTick {
            schedule_name: t.schedule_name,
            workflow_id: t.workflow_id,
            scheduled_at_ms: t.scheduled_at_ms,
            workflow_name: t.workflow_name,
            workflow_class_name: t.workflow_class_name,
            queue_name: t.queue_name,
            owner: t.owner,
            context: t.context,
        }
    }
}

impl From<JsScheduledRun> for ScheduledRun {
    fn from(r: JsScheduledRun) -> Self {
        let t = r.tick;
        ScheduledRun {
            tick: ScheduleTick {
                schedule_name: t.schedule_name,
                workflow_id: t.workflow_id,
                scheduled_at_ms: t.scheduled_at_ms,
                workflow_name: t.workflow_name,
                workflow_class_name: t.workflow_class_name,
                queue_name: t.queue_name,
                owner: t.owner,
                context: t.context,
            },
            inputs: r.inputs,
            serialization: r.serialization,
        }
    }
}

fn ticks(ticks: Vec<ScheduleTick>) -> Vec<JsScheduleTick> {
    ticks.into_iter().map(Into::into).collect()
}

#[napi]
impl NativeEngine {
    /// Waits until ticks of this application's ACTIVE schedules are due (or some are found invalid)
    /// and returns them; rejects with SHUTDOWN when the engine closes. One caller at a time (the
    /// process's firing loop).
    #[napi]
    pub fn next_schedule_ticks<'env>(
        &self,
        env: &'env Env,
        options: JsFiringOptions,
    ) -> Result<PromiseRaw<'env, JsFirings>> {
        let engine = self.inner.clone();
        let opts = FiringOptions {
            poll_interval_ms: u64::from(options.poll_interval_ms),
            fast_poll_for_ms: u64::from(options.fast_poll_for_ms),
            default_timezone: options.default_timezone,
            max_ticks: options.max_ticks as usize,
        };
        promise(env, async move {
            Ok(engine.next_schedule_ticks(&opts).await?.into())
        })
    }

    /// `triggerSchedule`'s tick (now); an unknown schedule rejects with INVALID_ARGUMENT.
    #[napi]
    pub fn trigger_schedule_tick<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> Result<PromiseRaw<'env, JsScheduleTick>> {
        let engine = self.inner.clone();
        promise(
            env,
            async move { Ok(engine.trigger_tick(&name).await?.into()) },
        )
    }

    /// `backfillSchedule`'s ticks: strictly after `startMs`, strictly before `endMs`.
    #[napi]
    pub fn backfill_schedule_ticks<'env>(
        &self,
        env: &'env Env,
        name: String,
        start_ms: i64,
        end_ms: i64,
        default_timezone: String,
    ) -> Result<PromiseRaw<'env, Vec<JsScheduleTick>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let found = engine
                .backfill_ticks(&name, start_ms, end_ms, &default_timezone)
                .await?;
            Ok(ticks(found))
        })
    }

    /// Writes the runs (an ID already there is left alone); with `recordFired`, moves each
    /// schedule's `last_fired_at` forward. Returns the IDs created.
    #[napi]
    pub fn fire_scheduled<'env>(
        &self,
        env: &'env Env,
        runs: Vec<JsScheduledRun>,
        record_fired: bool,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        let runs: Vec<ScheduledRun> = runs.into_iter().map(Into::into).collect();
        promise(env, async move {
            engine.fire_scheduled(&runs, record_fired).await
        })
    }
}
