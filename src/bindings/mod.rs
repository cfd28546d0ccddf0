//! The napi layer: converts arguments and results, and turns engine errors into JS errors in one
//! place (`errors.rs`). No SQL and no logic lives here.
//!
//! Call conventions (docs/architecture.md): positional arguments are the workflow's identity (ID,
//! token); anything more travels in one `#[napi(object)]` bag. Every asynchronous method returns
//! through `errors::promise`, so it never throws synchronously and rejects only with `js_error`.

mod communication;
mod convert;
mod convert_start;
// --- debouncer
mod debounce;
mod dispatch;
mod enqueue;
mod errors;
// --- fleet (takeover of dead executors)
mod fleet;
mod introspection;
mod management;
mod queues;
// --- rest (rewind, rename application)
mod rewind;
// --- schedules (firing)
mod schedule_fire;
pub mod schedules;
mod settle;
mod surface;

use std::sync::Arc;

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use crate::engine::completion::Completion;
use crate::engine::workflows::NewWorkflow;
use crate::engine::{Engine, EngineError, EngineOptions, Identity};
use convert::*;
use errors::{js_error, promise, promises};
pub use errors::{JsEngineError, NativeErrorCode};

#[napi]
pub struct NativeEngine {
    inner: Arc<Engine>,
}

/// Connects (creating and migrating the database when asked) and returns the engine handle.
#[napi]
pub fn connect(env: &Env, options: JsEngineOptions) -> Result<PromiseRaw<'_, NativeEngine>> {
    let opts = EngineOptions {
        url: options.url,
        schema: options.schema,
        pool_size: options.pool_size.max(1) as usize,
        schema_mode: options.schema_mode.into(),
        listen: options.listen,
        listen_notify: options.listen_notify,
        listen_url: options.listen_url,
        transaction_pooling: options.transaction_pooling,
        identity: Identity {
            app_name: options.app_name,
            executor_id: options.executor_id,
            app_version: options.app_version,
        },
    };
    promise(env, async move {
        let engine = Engine::connect(opts).await?;
        Ok(NativeEngine {
            inner: Arc::new(engine),
        })
    })
}

#[napi]
impl NativeEngine {
    #[napi]
    pub fn start_workflow<'env>(
        &self,
        env: &'env Env,
        wf: JsNewWorkflow,
    ) -> Result<PromiseRaw<'env, JsStartOutcome>> {
        let engine = self.inner.clone();
        promise(env, async move {
            Ok(engine.start_workflow(&wf.into()).await?.into())
        })
    }

    /// Client enqueues made together (in one turn of the JS event loop), each stamped with its row's
    /// application version and name (null: none), not the engine's: one promise each, written
    /// together.
    #[napi(ts_return_type = "Array<Promise<JsStartOutcome>>")]
    pub fn enqueue_many_for_client<'env>(
        &self,
        env: &'env Env,
        wfs: Vec<JsNewWorkflow>,
    ) -> Result<Vec<PromiseRaw<'env, JsStartOutcome>>> {
        let engine = self.inner.clone();
        let wfs: Vec<NewWorkflow> = wfs.into_iter().map(Into::into).collect();
        promises(env, wfs.len(), async move {
            engine
                .enqueue_many_for_client(&wfs)
                .await
                .into_iter()
                .map(|r| r.map(Into::into))
                .collect()
        })
    }

    /// The workflow holding a deduplication ID on a queue, if any.
    #[napi]
    pub fn deduplicated_workflow<'env>(
        &self,
        env: &'env Env,
        queue: String,
        dedup_id: String,
    ) -> Result<PromiseRaw<'env, Option<String>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.deduplicated_workflow(&queue, &dedup_id).await
        })
    }

    /// Holds a start back (`held.rs`): registered before this returns, so the workflow may run at
    /// once; the promise resolves when the row has committed.
    #[napi]
    pub fn hold_start<'env>(
        &self,
        env: &'env Env,
        wf: JsNewWorkflow,
    ) -> Result<PromiseRaw<'env, JsStartOutcome>> {
        let held = self.inner.hold_start(&wf.into());
        promise(env, async move { Ok(held?.await?.into()) })
    }

    #[napi]
    pub fn release_start(&self, workflow_id: String) {
        self.inner.release_start(&workflow_id);
    }

    #[napi]
    pub fn start_child_workflow<'env>(
        &self,
        env: &'env Env,
        parent_id: String,
        parent_token: String,
        function_id: i32,
        wf: JsNewWorkflow,
    ) -> Result<PromiseRaw<'env, JsStartOutcome>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let outcome = engine
                .start_child_workflow(&parent_id, &parent_token, function_id, &wf.into())
                .await?;
            Ok(outcome.into())
        })
    }

    #[napi]
    pub fn record_checkpoint<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        token: String,
        checkpoint: JsNewCheckpoint,
        conflict_check: bool,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .record_checkpoint(&workflow_id, &token, &checkpoint.into(), conflict_check)
                .await
        })
    }

    /// Queues a step's checkpoint without a promise (no wake-up of JS when it commits): `settle`
    /// reports how the workflow's queued checkpoints fared.
    #[napi]
    pub fn record_behind(&self, workflow_id: String, token: String, checkpoint: JsNewCheckpoint) {
        self.inner
            .record_behind(&workflow_id, &token, checkpoint.into());
    }

    /// Queues a stream write of workflow code (`checkpointName` set) behind its workflow and returns
    /// at once; `settle` reports how it fared.
    #[napi]
    pub fn write_stream_behind(&self, env: &Env, write: JsStreamWrite) -> Result<()> {
        let Some(name) = write.checkpoint_name else {
            let e = EngineError::invalid("a written-behind stream write needs its checkpoint name");
            return Err(js_error(env, &e));
        };
        self.inner.write_stream_behind(
            &write.workflow_id,
            &write.token,
            write.function_id,
            &name,
            write.started_at,
            &write.key,
            write.value,
            write.serialization,
        );
        Ok(())
    }

    #[napi]
    pub fn settle<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.settle(&workflow_id).await })
    }

    #[napi]
    pub fn load_checkpoints<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
    ) -> Result<PromiseRaw<'env, Vec<JsCheckpoint>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let rows = engine.load_checkpoints(&workflow_id).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn get_checkpoint<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        function_id: i32,
    ) -> Result<PromiseRaw<'env, Option<JsCheckpoint>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let row = engine.get_checkpoint(&workflow_id, function_id).await?;
            Ok(row.map(Into::into))
        })
    }

    /// `complete_workflow` for workflows that ended together (in one turn of the JS event loop), each
    /// after its written-behind checkpoints commit: one promise each, the completions written
    /// together. A workflow one of whose checkpoints failed is not completed: its error comes back in
    /// `writeError`.
    #[napi(ts_return_type = "Array<Promise<JsCompletion>>")]
    pub fn settle_and_complete_many<'env>(
        &self,
        env: &'env Env,
        dones: Vec<JsCompletionRequest>,
    ) -> Result<Vec<PromiseRaw<'env, JsCompletion>>> {
        let engine = self.inner.clone();
        let dones: Vec<Completion> = dones.into_iter().map(Into::into).collect();
        promises(env, dones.len(), async move {
            engine
                .settle_and_complete_many(dones)
                .await
                .into_iter()
                .map(|r| r.map(Into::into))
                .collect()
        })
    }

    #[napi]
    pub fn complete_workflow<'env>(
        &self,
        env: &'env Env,
        done: JsCompletionRequest,
    ) -> Result<PromiseRaw<'env, bool>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .complete_workflow(
                    &done.workflow_id,
                    &done.token,
                    &done.status,
                    done.output.as_deref(),
                    done.error.as_deref(),
                )
                .await
        })
    }

    #[napi]
    pub fn get_workflow_status<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
    ) -> Result<PromiseRaw<'env, Option<JsWorkflowStatus>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            Ok(engine
                .get_workflow_status(&workflow_id)
                .await?
                .map(Into::into))
        })
    }

    /// Polls until terminal; `deadline_epoch_ms` bounds the wait (null result on timeout).
    #[napi]
    pub fn await_outcome<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        poll_ms: u32,
        deadline_epoch_ms: Option<i64>,
    ) -> Result<PromiseRaw<'env, Option<JsWorkflowOutcome>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let outcome = engine
                .await_outcome(&workflow_id, u64::from(poll_ms), deadline_epoch_ms)
                .await?;
            Ok(outcome.map(Into::into))
        })
    }

    #[napi]
    pub fn cancel_workflows<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
        children: bool,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(
            env,
            async move { engine.cancel_workflows(&ids, children).await },
        )
    }

    #[napi]
    pub fn cancel_timed_out<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.cancel_timed_out().await })
    }

    #[napi]
    pub fn cancelled_among<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.cancelled_among(&ids).await })
    }

    #[napi]
    pub fn recover_pending<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Vec<JsClaimedWorkflow>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let rows = engine.recover_pending().await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn claim_queued<'env>(
        &self,
        env: &'env Env,
        queue: String,
        limit: i64,
    ) -> Result<PromiseRaw<'env, Vec<JsClaimedWorkflow>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let rows = engine.claim_queued(&queue, limit).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn dead_letter<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        min_attempts: i64,
    ) -> Result<PromiseRaw<'env, bool>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.dead_letter(&workflow_id, min_attempts).await
        })
    }

    #[napi]
    pub fn register_app_version<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move { engine.register_app_version().await })
    }

    /// Wakes this process's waiters on a key (they re-check their condition).
    #[napi]
    pub fn wake<'env>(&self, env: &'env Env, key: String) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.wake(&key).await;
            Ok(())
        })
    }

    /// Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}

/// One runtime worker by default: a napi call, its query and the connection driving it then run on
/// one thread, so a round trip costs no wake-ups between workers (on 2 cores those dominated).
#[napi_derive::module_init]
fn init_runtime() {
    let workers = std::env::var("DBOS_NATIVE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    if let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
}
