//! The napi layer: converts arguments and results, and maps `EngineError` to a JS error whose message
//! is `{"code":N,"message":…,"sqlstate":…}` (the TS layer turns it into the DBOS error class).
//! No SQL and no logic lives here.

mod convert;

use std::sync::Arc;

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use crate::engine::behind::Settled;
use crate::engine::listener::WaitGuard;
use crate::engine::messages::{RecvDeadline, SendContext};
use crate::engine::streams::StreamWriter;
use crate::engine::{Engine, EngineError, EngineOptions, Identity, SchemaMode};
use convert::*;

fn js_error(e: EngineError) -> napi::Error {
    napi::Error::from_reason(error_body(&e))
}

/// The message of every engine error crossing to JS (also inside results, see `JsCompletion`).
fn error_body(e: &EngineError) -> String {
    serde_json::json!({
        "code": e.code as u32,
        "message": e.message,
        "sqlstate": e.sqlstate,
    })
    .to_string()
}

#[napi]
pub struct NativeEngine {
    inner: Arc<Engine>,
}

/// Connects (creating and migrating the database when asked) and returns the engine handle.
#[napi]
pub async fn connect(options: JsEngineOptions) -> Result<NativeEngine> {
    let opts = EngineOptions {
        url: options.url,
        schema: options.schema,
        pool_size: options.pool_size.max(1) as usize,
        schema_mode: match options.schema_mode.as_str() {
            "migrate" => SchemaMode::Migrate,
            "verify" => SchemaMode::Verify,
            "lazy" => SchemaMode::Lazy,
            other => {
                return Err(js_error(EngineError::invalid(format!(
                    "unknown schema mode {other}"
                ))))
            }
        },
        listen: options.listen,
        identity: Identity {
            app_name: options.app_name,
            executor_id: options.executor_id,
            app_version: options.app_version,
        },
    };
    let engine = Engine::connect(opts).await.map_err(js_error)?;
    Ok(NativeEngine {
        inner: Arc::new(engine),
    })
}

#[napi]
impl NativeEngine {
    #[napi]
    pub async fn start_workflow(&self, wf: JsNewWorkflow) -> Result<JsStartOutcome> {
        let engine = self.inner.clone();
        let outcome = engine.start_workflow(&wf.into()).await.map_err(js_error)?;
        Ok(outcome.into())
    }

    /// Holds a start back (`held.rs`): registered before this returns, so the workflow may run at
    /// once; the promise resolves when the row has committed.
    #[napi(ts_return_type = "Promise<JsStartOutcome>")]
    pub fn hold_start<'env>(
        &self,
        env: &'env Env,
        wf: JsNewWorkflow,
    ) -> Result<PromiseRaw<'env, JsStartOutcome>> {
        let written = self.inner.hold_start(&wf.into()).map_err(js_error)?;
        env.spawn_future(async move { written.await.map(Into::into).map_err(js_error) })
    }

    #[napi]
    pub fn release_start(&self, workflow_id: String) {
        self.inner.release_start(&workflow_id);
    }

    #[napi]
    pub async fn start_child_workflow(
        &self,
        parent_id: String,
        parent_token: String,
        function_id: i32,
        wf: JsNewWorkflow,
    ) -> Result<JsStartOutcome> {
        let engine = self.inner.clone();
        let outcome = engine
            .start_child_workflow(&parent_id, &parent_token, function_id, &wf.into())
            .await
            .map_err(js_error)?;
        Ok(outcome.into())
    }

    #[napi]
    pub async fn record_checkpoint(
        &self,
        workflow_id: String,
        token: String,
        checkpoint: JsNewCheckpoint,
        conflict_check: bool,
    ) -> Result<()> {
        let engine = self.inner.clone();
        engine
            .record_checkpoint(&workflow_id, &token, &checkpoint.into(), conflict_check)
            .await
            .map_err(js_error)
    }

    /// Queues a step's checkpoint without a promise (no wake-up of JS when it commits): `settle`
    /// reports how the workflow's queued checkpoints fared. Positional arguments: no object to read.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn record_behind(
        &self,
        workflow_id: String,
        token: String,
        function_id: i32,
        name: String,
        output: Option<String>,
        error: Option<String>,
        serialization: Option<String>,
        started_at: i64,
        completed_at: i64,
    ) {
        let cp = crate::engine::steps::NewCheckpoint {
            function_id,
            name,
            output,
            error,
            child_workflow_id: None,
            started_at,
            completed_at,
            serialization,
        };
        self.inner.record_behind(&workflow_id, &token, cp);
    }

    /// Queues a stream write of workflow code behind its workflow and returns at once; `settle`
    /// reports how it fared. Positional arguments, like `record_behind`.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn write_stream_behind(
        &self,
        workflow_id: String,
        token: String,
        function_id: i32,
        name: String,
        started_at: i64,
        key: String,
        value: String,
        serialization: Option<String>,
    ) {
        self.inner.write_stream_behind(
            &workflow_id,
            &token,
            function_id,
            &name,
            started_at,
            &key,
            value,
            serialization,
        );
    }

    #[napi]
    pub async fn settle(&self, workflow_id: String) -> Result<()> {
        let engine = self.inner.clone();
        engine.settle(&workflow_id).await.map_err(js_error)
    }

    #[napi]
    pub async fn load_checkpoints(&self, workflow_id: String) -> Result<Vec<JsCheckpoint>> {
        let engine = self.inner.clone();
        let rows = engine
            .load_checkpoints(&workflow_id)
            .await
            .map_err(js_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub async fn get_checkpoint(
        &self,
        workflow_id: String,
        function_id: i32,
    ) -> Result<Option<JsCheckpoint>> {
        let engine = self.inner.clone();
        let row = engine
            .get_checkpoint(&workflow_id, function_id)
            .await
            .map_err(js_error)?;
        Ok(row.map(Into::into))
    }

    /// `complete_workflow` after the workflow's written-behind checkpoints commit, in one call; if one
    /// of them failed, nothing is completed and its error comes back in `writeError`.
    #[napi]
    pub async fn settle_and_complete(
        &self,
        workflow_id: String,
        token: String,
        status: String,
        output: Option<String>,
        error: Option<String>,
    ) -> Result<JsCompletion> {
        let engine = self.inner.clone();
        let settled = engine
            .settle_and_complete(
                &workflow_id,
                &token,
                &status,
                output.as_deref(),
                error.as_deref(),
            )
            .await
            .map_err(js_error)?;
        Ok(match settled {
            Settled::Done(won) => JsCompletion {
                won,
                write_error: None,
            },
            Settled::WriteFailed(e) => JsCompletion {
                won: false,
                write_error: Some(error_body(&e)),
            },
        })
    }

    #[napi]
    pub async fn complete_workflow(
        &self,
        workflow_id: String,
        token: String,
        status: String,
        output: Option<String>,
        error: Option<String>,
    ) -> Result<bool> {
        let engine = self.inner.clone();
        engine
            .complete_workflow(
                &workflow_id,
                &token,
                &status,
                output.as_deref(),
                error.as_deref(),
            )
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn get_workflow_status(
        &self,
        workflow_id: String,
    ) -> Result<Option<JsWorkflowStatus>> {
        let engine = self.inner.clone();
        let row = engine
            .get_workflow_status(&workflow_id)
            .await
            .map_err(js_error)?;
        Ok(row.map(Into::into))
    }

    /// Polls until terminal; `deadline_epoch_ms` bounds the wait (null result on timeout).
    #[napi]
    pub async fn await_outcome(
        &self,
        workflow_id: String,
        poll_ms: u32,
        deadline_epoch_ms: Option<i64>,
    ) -> Result<Option<JsWorkflowOutcome>> {
        let engine = self.inner.clone();
        let outcome = engine
            .await_outcome(&workflow_id, u64::from(poll_ms), deadline_epoch_ms)
            .await
            .map_err(js_error)?;
        Ok(outcome.map(Into::into))
    }

    #[napi]
    pub async fn cancel_workflows(&self, ids: Vec<String>, children: bool) -> Result<Vec<String>> {
        let engine = self.inner.clone();
        engine
            .cancel_workflows(&ids, children)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn resume_workflows(&self, ids: Vec<String>) -> Result<Vec<String>> {
        let engine = self.inner.clone();
        engine.resume_workflows(&ids).await.map_err(js_error)
    }

    #[napi]
    pub async fn cancel_timed_out(&self) -> Result<Vec<String>> {
        let engine = self.inner.clone();
        engine.cancel_timed_out().await.map_err(js_error)
    }

    #[napi]
    pub async fn cancelled_among(&self, ids: Vec<String>) -> Result<Vec<String>> {
        let engine = self.inner.clone();
        engine.cancelled_among(&ids).await.map_err(js_error)
    }

    #[napi]
    pub async fn recover_pending(&self) -> Result<Vec<JsClaimedWorkflow>> {
        let engine = self.inner.clone();
        let rows = engine.recover_pending().await.map_err(js_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub async fn claim_queued(&self, queue: String, limit: i64) -> Result<Vec<JsClaimedWorkflow>> {
        let engine = self.inner.clone();
        let rows = engine.claim_queued(&queue, limit).await.map_err(js_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub async fn dead_letter(&self, workflow_id: String, min_attempts: i64) -> Result<bool> {
        let engine = self.inner.clone();
        engine
            .dead_letter(&workflow_id, min_attempts)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn register_app_version(&self) -> Result<()> {
        let engine = self.inner.clone();
        engine.register_app_version().await.map_err(js_error)
    }

    /// Sends a message; `context` says whether it comes from workflow code, a step, or elsewhere.
    #[napi]
    pub async fn send(&self, message: JsOutgoingMessage, context: JsSendContext) -> Result<()> {
        let engine = self.inner.clone();
        let msg = message.into();
        let ctx = match (&context.workflow_id, &context.token, context.function_id) {
            (Some(workflow_id), Some(token), Some(function_id)) => SendContext::Workflow {
                workflow_id,
                token,
                function_id,
                started_at: context.started_at.unwrap_or(0),
            },
            (Some(workflow_id), Some(token), None) => SendContext::Step { workflow_id, token },
            _ => SendContext::Outside,
        };
        engine.send(&msg, ctx).await.map_err(js_error)
    }

    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub async fn recv(
        &self,
        workflow_id: String,
        token: String,
        function_id: i32,
        topic: String,
        deadline_epoch_ms: i64,
        record_deadline: bool,
        started_at: i64,
        poll_ms: u32,
    ) -> Result<JsStoredValue> {
        let engine = self.inner.clone();
        let deadline = RecvDeadline {
            epoch_ms: deadline_epoch_ms,
            record: record_deadline,
        };
        let received = engine
            .recv_until(
                &workflow_id,
                &token,
                function_id,
                &topic,
                deadline,
                started_at,
                u64::from(poll_ms),
            )
            .await
            .map_err(js_error)?;
        Ok(received.into())
    }

    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub async fn set_event(
        &self,
        workflow_id: String,
        token: String,
        function_id: i32,
        key: String,
        value: String,
        serialization: Option<String>,
        started_at: i64,
    ) -> Result<()> {
        let engine = self.inner.clone();
        engine
            .set_event(
                &workflow_id,
                &token,
                function_id,
                &key,
                &value,
                serialization.as_deref(),
                started_at,
            )
            .await
            .map_err(js_error)
    }

    /// Waits for an event; `guard_workflow_id`/`guard_token` stop the wait if that execution loses
    /// ownership. Null after the deadline.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub async fn get_event(
        &self,
        workflow_id: String,
        key: String,
        deadline_epoch_ms: Option<i64>,
        poll_ms: u32,
        guard_workflow_id: Option<String>,
        guard_token: Option<String>,
    ) -> Result<Option<JsStoredValue>> {
        let engine = self.inner.clone();
        let guard = match (&guard_workflow_id, &guard_token) {
            (Some(workflow_id), Some(token)) => Some(WaitGuard { workflow_id, token }),
            _ => None,
        };
        let value = engine
            .get_event(
                &workflow_id,
                &key,
                deadline_epoch_ms,
                u64::from(poll_ms),
                guard,
            )
            .await
            .map_err(js_error)?;
        Ok(value.map(Into::into))
    }

    /// Appends to a stream: from workflow code with `checkpoint_name` (exactly once), else from the
    /// step `function_id` of the workflow (no checkpoint).
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub async fn write_stream(
        &self,
        workflow_id: String,
        token: String,
        function_id: i32,
        checkpoint_name: Option<String>,
        started_at: i64,
        key: String,
        value: String,
        serialization: Option<String>,
    ) -> Result<()> {
        let engine = self.inner.clone();
        let writer = match &checkpoint_name {
            Some(name) => StreamWriter::Workflow {
                workflow_id: &workflow_id,
                token: &token,
                function_id,
                name,
                started_at,
            },
            None => StreamWriter::Step {
                workflow_id: &workflow_id,
                token: &token,
                function_id,
            },
        };
        engine
            .write_stream(&writer, &key, &value, serialization.as_deref())
            .await
            .map_err(js_error)
    }

    /// Reads a page of a stream from `offset`, waiting until a value is there, the stream ends or the
    /// deadline passes; the guard stops a waiting workflow that loses ownership.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub async fn read_stream(
        &self,
        workflow_id: String,
        key: String,
        offset: i32,
        limit: i64,
        deadline_epoch_ms: Option<i64>,
        poll_ms: u32,
        guard_workflow_id: Option<String>,
        guard_token: Option<String>,
    ) -> Result<JsStreamPage> {
        let engine = self.inner.clone();
        let guard = match (&guard_workflow_id, &guard_token) {
            (Some(workflow_id), Some(token)) => Some(WaitGuard { workflow_id, token }),
            _ => None,
        };
        let page = engine
            .read_stream(
                &workflow_id,
                &key,
                offset,
                limit,
                deadline_epoch_ms,
                u64::from(poll_ms),
                guard,
            )
            .await
            .map_err(js_error)?;
        Ok(page.into())
    }

    /// Wakes this process's waiters on a key (they re-check their condition).
    #[napi]
    pub async fn wake(&self, key: String) -> Result<()> {
        let engine = self.inner.clone();
        engine.wake(&key).await;
        Ok(())
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
