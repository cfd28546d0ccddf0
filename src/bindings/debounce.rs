//! Debouncing (`engine::debounce`): the bounce of `Debouncer` / `DebouncerClient`. Conversions only.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::debounce::{BounceStep, DebounceParams, DebounceResult};

/// The SDK's `DebounceParams`.
#[napi(object, use_nullable = true)]
pub struct JsDebounceParams {
    pub workflow_name: String,
    pub workflow_class_name: String,
    pub queue_name: String,
    pub deduplication_id: String,
    pub delay_until_epoch_ms: i64,
    pub input: Option<String>,
    pub serialization: Option<String>,
    pub application_name: Option<String>,
}

/// The workflow code a bounce is checkpointed for (null: outside workflow code, nothing recorded).
#[napi(object)]
pub struct JsBounceStep {
    pub workflow_id: String,
    pub token: String,
    pub function_id: i32,
    pub started_at: i64,
}

/// The SDK's `DebounceResult`.
#[napi(object, use_nullable = true)]
pub struct JsDebounceResult {
    pub bounced_workflow_id: Option<String>,
    pub holder_workflow_id: Option<String>,
    pub holder_is_debounced: bool,
    pub holder_workflow_name: Option<String>,
    pub holder_workflow_class_name: Option<String>,
    pub holder_application_name: Option<String>,
}

impl From<DebounceResult> for JsDebounceResult {
    fn from(r: DebounceResult) -> Self {
        JsDebounceResult {
            bounced_workflow_id: r.bounced_workflow_id,
            holder_workflow_id: r.holder_workflow_id,
            holder_is_debounced: r.holder_is_debounced,
            holder_workflow_name: r.holder_workflow_name,
            holder_workflow_class_name: r.holder_workflow_class_name,
            holder_application_name: r.holder_application_name,
        }
    }
}

#[napi]
impl NativeEngine {
    /// Extends the debounced DELAYED workflow holding the key, or reports its holder; from workflow
    /// code (`step`) checkpointed as `DBOS.debounceDelayedWorkflow` in the same transaction.
    #[napi]
    pub fn debounce_delayed_workflow<'env>(
        &self,
        env: &'env Env,
        params: JsDebounceParams,
        step: Option<JsBounceStep>,
    ) -> Result<PromiseRaw<'env, JsDebounceResult>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let p = DebounceParams {
                workflow_name: params.workflow_name,
                workflow_class_name: params.workflow_class_name,
                queue_name: params.queue_name,
                deduplication_id: params.deduplication_id,
                delay_until_epoch_ms: params.delay_until_epoch_ms,
                input: params.input,
                serialization: params.serialization,
                application_name: params.application_name,
            };
            let step = step.map(|s| BounceStep {
                workflow_id: s.workflow_id,
                token: s.token,
                function_id: s.function_id,
                started_at: s.started_at,
            });
            Ok(engine
                .debounce_delayed_workflow(&p, step.as_ref())
                .await?
                .into())
        })
    }
}
