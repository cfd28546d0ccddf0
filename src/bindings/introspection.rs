//! Introspection and management of single workflows (`engine::workflows::steps_list`, ...).
//! Conversions only; the TS layer validates the values first.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::errors::promise;
use super::NativeEngine;
use crate::engine::app_versions::VersionRow;
use crate::engine::db::now_ms;
use crate::engine::workflows::{ForkRequest, StepRow};

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

/// Mirrors `engine::workflows::ForkRequest` (`claimAs`: the owner of a fork of an unclaimed workflow).
#[napi(object, use_nullable = true)]
pub struct JsForkRequest {
    pub workflow_id: String,
    pub new_workflow_id: String,
    pub start_step: i32,
    pub queue_name: String,
    pub application_version: Option<String>,
    pub timeout_ms: Option<i64>,
    pub queue_partition_key: Option<String>,
    pub claim_as: Option<String>,
    pub replaced_children: Vec<String>,
    pub replacing_children: Vec<String>,
}

/// A wait for several workflows: the first (`all` false) or all of them, until the deadline.
#[napi(object, use_nullable = true)]
pub struct JsAwaitDone {
    pub workflow_ids: Vec<String>,
    pub all: bool,
    pub poll_ms: u32,
    pub deadline_epoch_ms: Option<i64>,
}

#[napi]
impl NativeEngine {
    /// Forks a workflow into a new ENQUEUED one (see `engine::workflows::fork`).
    #[napi]
    pub fn fork_workflow<'env>(
        &self,
        env: &'env Env,
        request: JsForkRequest,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let req = ForkRequest {
                workflow_id: request.workflow_id,
                new_workflow_id: request.new_workflow_id,
                start_step: request.start_step,
                queue_name: request.queue_name,
                application_version: request.application_version,
                timeout_ms: request.timeout_ms,
                queue_partition_key: request.queue_partition_key,
                claim_as: request.claim_as,
                replacement_children: request
                    .replaced_children
                    .into_iter()
                    .zip(request.replacing_children)
                    .collect(),
            };
            engine.fork_workflow(&req).await
        })
    }

    /// Deletes workflows (with `children`, their descendants too); returns how many rows went.
    #[napi]
    pub fn delete_workflows<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
        children: bool,
    ) -> Result<PromiseRaw<'env, i64>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let n = engine.delete_workflows(&ids, children).await?;
            Ok(i64::try_from(n).unwrap_or(i64::MAX))
        })
    }

    /// The IDs found finished: at least one, or all (`all`), unless the deadline passed first.
    #[napi]
    pub fn await_done<'env>(
        &self,
        env: &'env Env,
        wait: JsAwaitDone,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .await_done(
                    &wait.workflow_ids,
                    wait.all,
                    u64::from(wait.poll_ms),
                    wait.deadline_epoch_ms,
                )
                .await
        })
    }
}

/// Mirrors `engine::app_versions::VersionRow` (the SDK's `VersionInfo`).
#[napi(object, use_nullable = true)]
pub struct JsVersionRow {
    pub version_id: String,
    pub version_name: String,
    pub version_timestamp: i64,
    pub created_at: i64,
    pub application_name: Option<String>,
}

impl From<VersionRow> for JsVersionRow {
    fn from(r: VersionRow) -> Self {
        JsVersionRow {
            version_id: r.version_id,
            version_name: r.version_name,
            version_timestamp: r.version_timestamp,
            created_at: r.created_at,
            application_name: r.application_name,
        }
    }
}

#[napi]
impl NativeEngine {
    /// The versions of these applications (none: all) plus unclaimed ones, latest first, at most `limit`.
    #[napi]
    pub fn list_application_versions<'env>(
        &self,
        env: &'env Env,
        app_names: Vec<String>,
        limit: Option<i64>,
    ) -> Result<PromiseRaw<'env, Vec<JsVersionRow>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            let rows = engine.list_application_versions(&app_names, limit).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    /// Makes a version the latest (timestamped now) as `owner` (null: as whoever holds it).
    #[napi]
    pub fn set_latest_application_version<'env>(
        &self,
        env: &'env Env,
        version_name: String,
        owner: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .set_latest_application_version(&version_name, owner.as_deref(), now_ms())
                .await
        })
    }
}
