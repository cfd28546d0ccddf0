//! `rewindWorkflow` and `renameApplication` (see `engine::workflows::rewind`, `engine::rename_app`).

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::rename_app::RenameCounts;
use crate::engine::workflows::RewindRequest;

/// Mirrors `engine::workflows::RewindRequest`.
#[napi(object, use_nullable = true)]
pub struct JsRewindRequest {
    pub workflow_id: String,
    pub start_step: i32,
    pub queue_name: String,
    pub application_version: Option<String>,
    pub queue_partition_key: Option<String>,
}

/// A rename's options: `batchSize` null moves the terminal rows in one statement per table.
#[napi(object, use_nullable = true)]
pub struct JsRenameApplication {
    pub old_name: Option<String>,
    pub new_name: String,
    pub batch_size: Option<i64>,
    pub adopt_unclaimed_rows: bool,
}

/// The SDK's `ApplicationRowCounts`.
#[napi(object)]
pub struct JsRenameCounts {
    pub queues: i64,
    pub schedules: i64,
    pub versions: i64,
    pub workflows: i64,
    pub steps: i64,
}

impl From<RenameCounts> for JsRenameCounts {
    fn from(c: RenameCounts) -> Self {
        JsRenameCounts {
            queues: c.queues,
            schedules: c.schedules,
            versions: c.versions,
            workflows: c.workflows,
            steps: c.steps,
        }
    }
}

#[napi]
impl NativeEngine {
    /// Drops a terminal workflow's history from its start step on and ENQUEUEs it again, same ID.
    #[napi]
    pub fn rewind_workflow<'env>(
        &self,
        env: &'env Env,
        request: JsRewindRequest,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let req = RewindRequest {
                workflow_id: request.workflow_id,
                start_step: request.start_step,
                queue_name: request.queue_name,
                application_version: request.application_version,
                queue_partition_key: request.queue_partition_key,
            };
            engine.rewind_workflow(&req).await
        })
    }

    /// Re-owns an application's rows (and/or the unclaimed ones) under a new name.
    #[napi]
    pub fn rename_application<'env>(
        &self,
        env: &'env Env,
        request: JsRenameApplication,
    ) -> Result<PromiseRaw<'env, JsRenameCounts>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let counts = engine
                .rename_application(
                    request.old_name.as_deref(),
                    &request.new_name,
                    request.batch_size,
                    request.adopt_unclaimed_rows,
                )
                .await?;
            Ok(counts.into())
        })
    }
}
