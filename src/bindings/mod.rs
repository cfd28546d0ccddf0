//! The napi layer: converts arguments and results, and maps `EngineError` to a JS error whose message
//! is `{"code":N,"message":…,"sqlstate":…}` (the TS layer turns it into the DBOS error class).
//! No SQL and no logic lives here.

mod convert;

use std::sync::Arc;

use napi_derive::napi;

use crate::engine::{Engine, EngineError, EngineOptions, Identity};
use convert::*;

fn js_error(e: EngineError) -> napi::Error {
    let body = serde_json::json!({
        "code": e.code as u32,
        "message": e.message,
        "sqlstate": e.sqlstate,
    });
    napi::Error::from_reason(body.to_string())
}

type JsResult<T> = std::result::Result<T, napi::Error>;

#[napi]
pub struct NativeEngine {
    inner: Arc<Engine>,
}

/// Connects (creating and migrating the database when asked) and returns the engine handle.
#[napi]
pub async fn connect(options: JsEngineOptions) -> JsResult<NativeEngine> {
    let opts = EngineOptions {
        url: options.url,
        schema: options.schema,
        pool_size: options.pool_size.max(1) as usize,
        run_migrations: options.run_migrations,
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
    pub async fn start_workflow(&self, wf: JsNewWorkflow) -> JsResult<JsStartOutcome> {
        let engine = self.inner.clone();
        let outcome = engine.start_workflow(&wf.into()).await.map_err(js_error)?;
        Ok(outcome.into())
    }

    #[napi]
    pub async fn start_child_workflow(
        &self,
        parent_id: String,
        parent_token: String,
        function_id: i32,
        wf: JsNewWorkflow,
    ) -> JsResult<JsStartOutcome> {
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
    ) -> JsResult<()> {
        let engine = self.inner.clone();
        engine
            .record_checkpoint(&workflow_id, &token, &checkpoint.into(), conflict_check)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn load_checkpoints(&self, workflow_id: String) -> JsResult<Vec<JsCheckpoint>> {
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
    ) -> JsResult<Option<JsCheckpoint>> {
        let engine = self.inner.clone();
        let row = engine
            .get_checkpoint(&workflow_id, function_id)
            .await
            .map_err(js_error)?;
        Ok(row.map(Into::into))
    }

    #[napi]
    pub async fn complete_workflow(
        &self,
        workflow_id: String,
        token: String,
        status: String,
        output: Option<String>,
        error: Option<String>,
    ) -> JsResult<bool> {
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
    ) -> JsResult<Option<JsWorkflowStatus>> {
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
    ) -> JsResult<Option<JsWorkflowOutcome>> {
        let engine = self.inner.clone();
        let outcome = engine
            .await_outcome(&workflow_id, u64::from(poll_ms), deadline_epoch_ms)
            .await
            .map_err(js_error)?;
        Ok(outcome.map(Into::into))
    }

    #[napi]
    pub async fn cancel_workflows(
        &self,
        ids: Vec<String>,
        children: bool,
    ) -> JsResult<Vec<String>> {
        let engine = self.inner.clone();
        engine
            .cancel_workflows(&ids, children)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn resume_workflows(&self, ids: Vec<String>) -> JsResult<Vec<String>> {
        let engine = self.inner.clone();
        engine.resume_workflows(&ids).await.map_err(js_error)
    }

    #[napi]
    pub async fn cancel_timed_out(&self) -> JsResult<Vec<String>> {
        let engine = self.inner.clone();
        engine.cancel_timed_out().await.map_err(js_error)
    }

    #[napi]
    pub async fn cancelled_among(&self, ids: Vec<String>) -> JsResult<Vec<String>> {
        let engine = self.inner.clone();
        engine.cancelled_among(&ids).await.map_err(js_error)
    }

    #[napi]
    pub async fn recover_pending(&self) -> JsResult<Vec<String>> {
        let engine = self.inner.clone();
        engine.recover_pending().await.map_err(js_error)
    }

    #[napi]
    pub async fn claim_queued(
        &self,
        queue: String,
        limit: i64,
    ) -> JsResult<Vec<JsClaimedWorkflow>> {
        let engine = self.inner.clone();
        let rows = engine.claim_queued(&queue, limit).await.map_err(js_error)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    #[napi]
    pub async fn dead_letter(&self, workflow_id: String, min_attempts: i64) -> JsResult<bool> {
        let engine = self.inner.clone();
        engine
            .dead_letter(&workflow_id, min_attempts)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn register_app_version(&self) -> JsResult<()> {
        let engine = self.inner.clone();
        engine.register_app_version().await.map_err(js_error)
    }

    /// Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}
