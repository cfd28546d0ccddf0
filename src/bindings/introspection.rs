//! Introspection and management of single workflows (`engine::workflows::steps_list`, ...).
//! Conversions only; the TS layer validates the values first.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::workflows::StepRow;

/// Mirrors `engine::workflows::StepRow`: one recorded operation (payloads null unless loaded).
#[napi(object, use_nullable = true)]
pub struct JsStepRow {
    pub function_id: i32,
    pub name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub child_workflow_id: Option<String>,
    pub serialization: Option<String>,
    pub started_at_epoch_ms: Option<i64>,
    pub completed_at_epoch_ms: Option<i64>,
}

impl From<StepRow> for JsStepRow {
    fn from(r: StepRow) -> Self {
        JsStepRow {
            function_id: r.function_id,
            name: r.name,
            output: r.output,
            error: r.error,
            child_workflow_id: r.child_workflow_id,
            serialization: r.serialization,
            started_at_epoch_ms: r.started_at_epoch_ms,
            completed_at_epoch_ms: r.completed_at_epoch_ms,
        }
    }
}

/// The options of a step listing (the SDK's `ListWorkflowStepsOptions` plus whether to load payloads).
#[napi(object, use_nullable = true)]
pub struct JsListSteps {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub load_output: bool,
}

#[napi]
impl NativeEngine {
    /// The workflow's recorded operations in function order; null if there is no such workflow.
    #[napi]
    pub fn list_workflow_steps<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        options: JsListSteps,
    ) -> Result<PromiseRaw<'env, Option<Vec<JsStepRow>>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let rows = engine
                .list_workflow_steps(
                    &workflow_id,
                    options.limit,
                    options.offset,
                    options.load_output,
                )
                .await?;
            Ok(rows.map(|rs| rs.into_iter().map(Into::into).collect()))
        })
    }
}
