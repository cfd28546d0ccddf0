//! Management of workflows by ID or filter (`engine::workflows::list`, `engine::queued`, resume in
//! `engine::recovery`). Conversions only; the TS layer validates the values first.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use super::convert::JsWorkflowStatus;
use super::errors::promise;
use super::NativeEngine;
use crate::engine::workflows::ListFilter;

/// Mirrors `engine::workflows::ListFilter` (the SDK's `GetWorkflowsInput`, normalized by the TS
/// layer: single values as lists of one, times as epoch milliseconds, the application scope resolved).
#[napi(object, use_nullable = true)]
pub struct JsListFilter {
    pub workflow_ids: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    pub authenticated_users: Option<Vec<String>>,
    pub application_versions: Option<Vec<String>>,
    pub executor_ids: Option<Vec<String>>,
    pub id_prefixes: Option<Vec<String>>,
    pub queue_names: Option<Vec<String>>,
    pub forked_from: Option<Vec<String>>,
    pub parent_workflow_ids: Option<Vec<String>>,
    pub schedule_names: Option<Vec<String>>,
    pub application_names: Vec<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub completed_from: Option<i64>,
    pub completed_to: Option<i64>,
    pub dequeued_from: Option<i64>,
    pub dequeued_to: Option<i64>,
    pub queues_only: bool,
    pub was_forked_from: Option<bool>,
    pub is_fork: Option<bool>,
    pub has_parent: Option<bool>,
    pub attributes: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub sort_desc: bool,
    pub load_input: bool,
    pub load_output: bool,
    pub timeout_ms: Option<i64>,
}

impl From<JsListFilter> for ListFilter {
    fn from(f: JsListFilter) -> Self {
        ListFilter {
            workflow_ids: f.workflow_ids,
            names: f.names,
            statuses: f.statuses,
            authenticated_users: f.authenticated_users,
            application_versions: f.application_versions,
            executor_ids: f.executor_ids,
            id_prefixes: f.id_prefixes,
            queue_names: f.queue_names,
            forked_from: f.forked_from,
            parent_workflow_ids: f.parent_workflow_ids,
            schedule_names: f.schedule_names,
            application_names: f.application_names,
            created_from: f.created_from,
            created_to: f.created_to,
            completed_from: f.completed_from,
            completed_to: f.completed_to,
            dequeued_from: f.dequeued_from,
            dequeued_to: f.dequeued_to,
            queues_only: f.queues_only,
            was_forked_from: f.was_forked_from,
            is_fork: f.is_fork,
            has_parent: f.has_parent,
            attributes: f.attributes,
            limit: f.limit,
            offset: f.offset,
            sort_desc: f.sort_desc,
            load_input: f.load_input,
            load_output: f.load_output,
            timeout_ms: f.timeout_ms,
        }
    }
}

#[napi]
impl NativeEngine {
    /// The workflows matching the filter, ordered by creation time.
    #[napi]
    pub fn list_workflows<'env>(
        &self,
        env: &'env Env,
        filter: JsListFilter,
    ) -> Result<PromiseRaw<'env, Vec<JsWorkflowStatus>>> {
        let engine = self.inner.clone();
        let filter = ListFilter::from(filter);
        promise(env, async move {
            let rows = engine.list_workflows(&filter).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    /// Re-enqueues unfinished workflows on `queue_name` (null: the internal queue); rejects with
    /// NON_EXISTENT_WORKFLOW, resuming none, if any ID has no row. Returns the IDs changed.
    #[napi]
    pub fn resume_workflows<'env>(
        &self,
        env: &'env Env,
        ids: Vec<String>,
        queue_name: Option<String>,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.resume_workflows(&ids, queue_name.as_deref()).await
        })
    }

    /// Sets the priority of an ENQUEUED or DELAYED workflow; false if none matched.
    #[napi]
    pub fn set_workflow_priority<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        priority: i32,
    ) -> Result<PromiseRaw<'env, bool>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine.set_workflow_priority(&workflow_id, priority).await
        })
    }

    /// Sets when a DELAYED workflow is enqueued (epoch ms); false if none matched.
    #[napi]
    pub fn set_workflow_delay<'env>(
        &self,
        env: &'env Env,
        workflow_id: String,
        until_epoch_ms: i64,
    ) -> Result<PromiseRaw<'env, bool>> {
        let engine = self.inner.clone();
        promise(env, async move {
            engine
                .set_workflow_delay(&workflow_id, until_epoch_ms)
                .await
        })
    }
}
