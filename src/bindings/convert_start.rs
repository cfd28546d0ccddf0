//! The start and enqueue rows crossing the boundary (a split of `convert.rs` by concern).

use napi_derive::napi;

use crate::engine::workflows::{NewWorkflow, StartOutcome};

#[napi(object, use_nullable = true)]
pub struct JsNewWorkflow {
    pub workflow_id: String,
    pub status: String,
    pub name: String,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub queue_name: Option<String>,
    pub inputs: String,
    pub serialization: Option<String>,
    pub token: String,
    pub timeout_ms: Option<i64>,
    pub deadline_epoch_ms: Option<i64>,
    pub parent_workflow_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub priority: Option<i32>,
    pub queue_partition_key: Option<String>,
    /// Set with status DELAYED: when the row becomes ENQUEUED.
    pub delay_until_epoch_ms: Option<i64>,
    /// The owning application; null: the starter's own (a client's: unclaimed).
    pub app_name: Option<String>,
    /// The version that must run it; null: the starter's own if it owns the row, else any latest.
    pub app_version: Option<String>,
    pub authenticated_user: Option<String>,
    /// JSON text of the roles.
    pub authenticated_roles: Option<String>,
    /// JSON text of a key-value object.
    pub attributes: Option<String>,
    /// A debounced row (`Debouncer`); null: false.
    pub is_debounced: Option<bool>,
    pub debounce_deadline_epoch_ms: Option<i64>,
}

impl From<JsNewWorkflow> for NewWorkflow {
    fn from(w: JsNewWorkflow) -> Self {
        NewWorkflow {
            workflow_id: w.workflow_id,
            status: w.status,
            name: w.name,
            class_name: w.class_name,
            config_name: w.config_name,
            queue_name: w.queue_name,
            inputs: w.inputs,
            serialization: w.serialization,
            token: w.token,
            timeout_ms: w.timeout_ms,
            deadline_epoch_ms: w.deadline_epoch_ms,
            parent_workflow_id: w.parent_workflow_id,
            deduplication_id: w.deduplication_id,
            priority: w.priority.unwrap_or(0),
            queue_partition_key: w.queue_partition_key,
            delay_until_epoch_ms: w.delay_until_epoch_ms,
            app_name: w.app_name,
            app_version: w.app_version,
            authenticated_user: w.authenticated_user,
            authenticated_roles: w.authenticated_roles,
            attributes: w.attributes,
            output: None,
            error: None,
            is_debounced: w.is_debounced.unwrap_or(false),
            debounce_deadline_epoch_ms: w.debounce_deadline_epoch_ms,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsStartOutcome {
    pub should_execute: bool,
    pub status: String,
    pub name: String,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub queue_name: Option<String>,
    pub serialization: Option<String>,
    /// False: the row's queue has no row in `dbos.queues` (nothing dispatches it yet).
    pub queue_registered: bool,
}

impl From<StartOutcome> for JsStartOutcome {
    fn from(o: StartOutcome) -> Self {
        JsStartOutcome {
            should_execute: o.should_execute,
            status: o.status,
            name: o.name,
            class_name: o.class_name,
            config_name: o.config_name,
            queue_name: o.queue_name,
            serialization: o.serialization,
            queue_registered: o.queue_registered,
        }
    }
}
