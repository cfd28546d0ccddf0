//! napi methods for dispatching application queues (engine: `engine::dispatch`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::convert::JsClaimedWorkflow;
use super::errors::promise;
use super::NativeEngine;
use crate::engine::dispatch::{Claim, ClaimRequest, DelayedSweep, QueueToServe};

/// A queue this process dispatches and how often to poll it for work enqueued elsewhere.
#[napi(object, use_nullable = true)]
pub struct JsQueueToServe {
    pub name: String,
    /// As stored (the dispatcher clamps it).
    pub polling_interval_ms: f64,
    pub partitioned: bool,
    /// It has a concurrency limit: the end of a run frees a slot.
    pub bounded: bool,
}

impl From<QueueToServe> for JsQueueToServe {
    fn from(q: QueueToServe) -> Self {
        JsQueueToServe {
            name: q.name,
            polling_interval_ms: q.polling_interval_ms,
            partitioned: q.partitioned,
            bounded: q.bounded,
        }
    }
}

/// A workflow this process can run: its name and class name ('' for none).
#[napi(object, use_nullable = true)]
pub struct JsRunnable {
    pub name: String,
    pub class_name: String,
}

fn runnable(list: Option<Vec<JsRunnable>>) -> Option<Vec<(String, String)>> {
    list.map(|l| l.into_iter().map(|r| (r.name, r.class_name)).collect())
}

/// How many of a partitioned queue's workflows this process runs for one partition key.
#[napi(object, use_nullable = true)]
pub struct JsPartitionRunning {
    pub key: String,
    pub running: i32,
}

/// What a claim asks for (see `engine::dispatch::ClaimRequest`).
#[napi(object, use_nullable = true)]
pub struct JsClaimRequest {
    pub queue: String,
    pub partitioned: bool,
    pub local_running: i32,
    pub partition_running: Vec<JsPartitionRunning>,
    pub cap: i32,
    pub cursor: Option<String>,
    /// None: any workflow.
    pub runnable: Option<Vec<JsRunnable>>,
}

/// What a claim took: the workflows, each one's partition key, and the key it ended on.
#[napi(object, use_nullable = true)]
pub struct JsClaim {
    pub workflows: Vec<JsClaimedWorkflow>,
    pub partition_keys: Vec<Option<String>>,
    pub cursor: Option<String>,
}

impl From<Claim> for JsClaim {
    fn from(c: Claim) -> Self {
        JsClaim {
            workflows: c.workflows.into_iter().map(Into::into).collect(),
            partition_keys: c.partition_keys,
            cursor: c.cursor,
        }
    }
}

/// The queues whose DELAYED rows became ENQUEUED, and when the next one is due (epoch ms).
#[napi(object, use_nullable = true)]
pub struct JsDelayedSweep {
    pub woken: Vec<String>,
    pub next_due_epoch_ms: Option<i64>,
}

impl From<DelayedSweep> for JsDelayedSweep {
    fn from(d: DelayedSweep) -> Self {
        JsDelayedSweep {
            woken: d.woken,
            next_due_epoch_ms: d.next_due_epoch_ms,
        }
    }
}

#[napi]
impl NativeEngine {
    /// The application's queues (rows of dbos.queues) this process dispatches.
    #[napi]
    pub fn queues_to_serve<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<JsQueueToServe>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let queues = engine.queues_to_serve().await?;
            Ok(queues.into_iter().map(Into::into).collect())
        })
    }

    /// Which of `queues` have rows this process could claim (one statement for all of them).
    #[napi]
    pub fn queues_with_work<'env>(
        &self,
        env: &'env Env,
        queues: Vec<String>,
        runnable_workflows: Option<Vec<JsRunnable>>,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .queues_with_work(queues, runnable(runnable_workflows))
                .await
        })
    }

    /// Moves the application's due DELAYED rows to ENQUEUED.
    #[napi]
    pub fn sweep_delayed<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, JsDelayedSweep>> {
        let engine = self.inner.clone();
        promise(env, async move { Ok(engine.sweep_delayed().await?.into()) })
    }

    /// Claims ENQUEUED rows of a queue within its limits.
    #[napi]
    pub fn claim_from_queue<'env>(
        &self,
        env: &'env Env,
        request: JsClaimRequest,
    ) -> Result<PromiseRaw<'env, JsClaim>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let req = ClaimRequest {
                queue: request.queue,
                partitioned: request.partitioned,
                local_running: request.local_running,
                partition_running: request
                    .partition_running
                    .into_iter()
                    .map(|p| (p.key, p.running))
                    .collect(),
                cap: request.cap,
                cursor: request.cursor,
                runnable: runnable(request.runnable),
            };
            Ok(engine.claim_from_queue(req).await?.into())
        })
    }

    /// Tells every other listening engine that `queue` has new work (this engine's own dispatcher
    /// skips it: wake it locally).
    #[napi]
    pub fn notify_queue<'env>(
        &self,
        env: &'env Env,
        queue: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.notify_queue(&queue).await })
    }

    /// The queues other engines enqueued onto since the last call, waiting up to `timeout_ms` for
    /// one; empty on timeout. Rejects once the engine closes.
    #[napi]
    pub fn next_queue_wakes<'env>(
        &self,
        env: &'env Env,
        timeout_ms: u32,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.next_queue_wakes(u64::from(timeout_ms)).await
        })
    }
}
