//! Plain-data mirrors of the engine's types for JS (field names become camelCase), the option bags
//! of the calls, and the conversions. One optionality rule: every `Option<T>` field is `T | null` in
//! the generated declarations (`use_nullable`), always present, never `?:`.

use napi_derive::napi;

pub use super::convert_start::{JsNewWorkflow, JsStartOutcome};
use super::errors::JsEngineError;
use crate::engine::behind::Settled;
use crate::engine::completion::Completion;
use crate::engine::events::EventValue;
use crate::engine::listener::WaitGuard;
use crate::engine::messages::{OutgoingMessage, Received};
use crate::engine::recovery::ClaimedWorkflow;
use crate::engine::steps::{Checkpoint, NewCheckpoint};
use crate::engine::streams::{PageEnd, StreamPage, StreamWriter};
use crate::engine::workflows::{WorkflowOutcome, WorkflowStatusRow};
use crate::engine::SchemaMode;

/// Mirrors `engine::SchemaMode`.
#[napi(string_enum = "lowercase")]
pub enum JsSchemaMode {
    /// Create and migrate (an app's launch).
    Migrate,
    /// Only check the schema version (`runMigrations: false`).
    Verify,
    /// Connect at the first call (a client).
    Lazy,
}

impl From<JsSchemaMode> for SchemaMode {
    fn from(m: JsSchemaMode) -> Self {
        match m {
            JsSchemaMode::Migrate => SchemaMode::Migrate,
            JsSchemaMode::Verify => SchemaMode::Verify,
            JsSchemaMode::Lazy => SchemaMode::Lazy,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsEngineOptions {
    pub url: String,
    pub schema: String,
    pub pool_size: u32,
    pub schema_mode: JsSchemaMode,
    /// Start the LISTEN connection at once (an app) rather than at the first wait (a client).
    pub listen: bool,
    /// False: polling mode (no LISTEN; waits poll). NOTIFYs are still sent.
    pub listen_notify: bool,
    /// The listener's URL (a direct one when `url` goes through a transaction pooler); null: `url`.
    pub listen_url: Option<String>,
    /// `url` goes through a transaction-mode pooler: no named statement outlives a transaction.
    pub transaction_pooling: bool,
    pub app_name: String,
    pub executor_id: String,
    pub app_version: String,
}

#[napi(object, use_nullable = true)]
pub struct JsNewCheckpoint {
    pub function_id: i32,
    pub name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub child_workflow_id: Option<String>,
    pub started_at: i64,
    pub completed_at: i64,
    pub serialization: Option<String>,
}

/// A completion's result: `writeError` when a written-behind checkpoint failed (then nothing completed).
#[napi(object, use_nullable = true)]
pub struct JsCompletion {
    pub won: bool,
    pub write_error: Option<JsEngineError>,
}

impl From<Settled<bool>> for JsCompletion {
    fn from(settled: Settled<bool>) -> Self {
        match settled {
            Settled::Done(won) => JsCompletion {
                won,
                write_error: None,
            },
            Settled::WriteFailed(e) => JsCompletion {
                won: false,
                write_error: Some((&e).into()),
            },
        }
    }
}

/// Completes a workflow row (fenced by `token`) with its outcome.
#[napi(object, use_nullable = true)]
pub struct JsCompletionRequest {
    pub workflow_id: String,
    pub token: String,
    /// "SUCCESS" or "ERROR".
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
}

impl From<JsCompletionRequest> for Completion {
    fn from(d: JsCompletionRequest) -> Self {
        Completion {
            workflow_id: d.workflow_id,
            token: d.token,
            status: d.status,
            output: d.output,
            error: d.error,
        }
    }
}

/// A waiter's owner: the wait stops if that execution loses the workflow.
#[napi(object, use_nullable = true)]
pub struct JsGuard {
    pub workflow_id: String,
    pub token: String,
}

impl JsGuard {
    pub fn as_wait_guard(&self) -> WaitGuard<'_> {
        WaitGuard {
            workflow_id: &self.workflow_id,
            token: &self.token,
        }
    }
}

/// `DBOS.recv` from workflow code at step `function_id`; with `record_deadline`, the first try records
/// the deadline (its sleep at `function_id + 1`).
#[napi(object, use_nullable = true)]
pub struct JsRecv {
    pub workflow_id: String,
    pub token: String,
    pub function_id: i32,
    pub topic: String,
    pub deadline_epoch_ms: i64,
    pub record_deadline: bool,
    pub started_at: i64,
    pub poll_ms: u32,
}

#[napi(object, use_nullable = true)]
pub struct JsSetEvent {
    pub workflow_id: String,
    pub token: String,
    pub function_id: i32,
    pub key: String,
    pub value: String,
    pub serialization: Option<String>,
    pub started_at: i64,
}

/// Waits for an event until it exists or the deadline (null: no deadline) passes.
#[napi(object, use_nullable = true)]
pub struct JsGetEvent {
    pub workflow_id: String,
    pub key: String,
    pub deadline_epoch_ms: Option<i64>,
    pub poll_ms: u32,
    pub guard: Option<JsGuard>,
}

/// A stream append: from workflow code with `checkpoint_name` (exactly once), else from the step
/// `function_id` (no checkpoint).
#[napi(object, use_nullable = true)]
pub struct JsStreamWrite {
    pub workflow_id: String,
    pub token: String,
    pub function_id: i32,
    pub checkpoint_name: Option<String>,
    pub started_at: i64,
    pub key: String,
    pub value: String,
    pub serialization: Option<String>,
}

impl JsStreamWrite {
    pub fn writer(&self) -> StreamWriter<'_> {
        match &self.checkpoint_name {
            Some(name) => StreamWriter::Workflow {
                workflow_id: &self.workflow_id,
                token: &self.token,
                function_id: self.function_id,
                name,
                started_at: self.started_at,
            },
            None => StreamWriter::Step {
                workflow_id: &self.workflow_id,
                token: &self.token,
                function_id: self.function_id,
            },
        }
    }
}

/// A page of a stream from `offset`: waits for one value, the stream's end, or the deadline.
#[napi(object, use_nullable = true)]
pub struct JsStreamRead {
    pub workflow_id: String,
    pub key: String,
    pub offset: i32,
    pub limit: i64,
    pub deadline_epoch_ms: Option<i64>,
    pub poll_ms: u32,
    pub guard: Option<JsGuard>,
}

impl From<JsNewCheckpoint> for NewCheckpoint {
    fn from(c: JsNewCheckpoint) -> Self {
        NewCheckpoint {
            function_id: c.function_id,
            name: c.name,
            output: c.output,
            error: c.error,
            child_workflow_id: c.child_workflow_id,
            started_at: c.started_at,
            completed_at: c.completed_at,
            serialization: c.serialization,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsCheckpoint {
    pub function_id: i32,
    pub name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub child_workflow_id: Option<String>,
    pub serialization: Option<String>,
}

impl From<Checkpoint> for JsCheckpoint {
    fn from(c: Checkpoint) -> Self {
        JsCheckpoint {
            function_id: c.function_id,
            name: c.name,
            output: c.output,
            error: c.error,
            child_workflow_id: c.child_workflow_id,
            serialization: c.serialization,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsWorkflowOutcome {
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub serialization: Option<String>,
}

impl From<WorkflowOutcome> for JsWorkflowOutcome {
    fn from(o: WorkflowOutcome) -> Self {
        JsWorkflowOutcome {
            status: o.status,
            output: o.output,
            error: o.error,
            serialization: o.serialization,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsClaimedWorkflow {
    pub workflow_id: String,
    pub name: String,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub recovery_attempts: i64,
    pub serialization: Option<String>,
    pub inputs: Option<String>,
    pub deadline_epoch_ms: Option<i64>,
    pub queue_name: Option<String>,
    pub token: String,
    /// Read with the claim (one statement for all its rows); absent: load them.
    pub checkpoints: Option<Vec<JsCheckpoint>>,
    /// As recorded on the row: the run sees them as its authenticated user, assumed role, roles (JSON text).
    pub authenticated_user: Option<String>,
    pub assumed_role: Option<String>,
    pub authenticated_roles: Option<String>,
}

impl From<ClaimedWorkflow> for JsClaimedWorkflow {
    fn from(c: ClaimedWorkflow) -> Self {
        JsClaimedWorkflow {
            workflow_id: c.workflow_id,
            name: c.name,
            class_name: c.class_name,
            config_name: c.config_name,
            recovery_attempts: c.recovery_attempts,
            serialization: c.serialization,
            inputs: c.inputs,
            deadline_epoch_ms: c.deadline_epoch_ms,
            queue_name: c.queue_name,
            token: c.token,
            checkpoints: c
                .checkpoints
                .map(|cps| cps.into_iter().map(Into::into).collect()),
            authenticated_user: c.authenticated_user,
            assumed_role: c.assumed_role,
            authenticated_roles: c.authenticated_roles,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsWorkflowStatus {
    pub workflow_id: String,
    pub status: String,
    pub name: Option<String>,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub authenticated_user: Option<String>,
    pub assumed_role: Option<String>,
    pub authenticated_roles: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub inputs: Option<String>,
    pub executor_id: Option<String>,
    pub application_version: Option<String>,
    pub application_id: Option<String>,
    pub application_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub started_at_epoch_ms: Option<i64>,
    pub recovery_attempts: Option<i64>,
    pub queue_name: Option<String>,
    pub workflow_timeout_ms: Option<i64>,
    pub workflow_deadline_epoch_ms: Option<i64>,
    pub deduplication_id: Option<String>,
    pub priority: i32,
    pub queue_partition_key: Option<String>,
    pub forked_from: Option<String>,
    pub parent_workflow_id: Option<String>,
    pub serialization: Option<String>,
    pub was_forked_from: bool,
    pub delay_until_epoch_ms: Option<i64>,
    pub attributes: Option<String>,
    pub schedule_name: Option<String>,
}

impl From<WorkflowStatusRow> for JsWorkflowStatus {
    fn from(r: WorkflowStatusRow) -> Self {
        JsWorkflowStatus {
            workflow_id: r.workflow_id,
            status: r.status,
            name: r.name,
            class_name: r.class_name,
            config_name: r.config_name,
            authenticated_user: r.authenticated_user,
            assumed_role: r.assumed_role,
            authenticated_roles: r.authenticated_roles,
            output: r.output,
            error: r.error,
            inputs: r.inputs,
            executor_id: r.executor_id,
            application_version: r.application_version,
            application_id: r.application_id,
            application_name: r.application_name,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
            started_at_epoch_ms: r.started_at_epoch_ms,
            recovery_attempts: r.recovery_attempts,
            queue_name: r.queue_name,
            workflow_timeout_ms: r.workflow_timeout_ms,
            workflow_deadline_epoch_ms: r.workflow_deadline_epoch_ms,
            deduplication_id: r.deduplication_id,
            priority: r.priority,
            queue_partition_key: r.queue_partition_key,
            forked_from: r.forked_from,
            parent_workflow_id: r.parent_workflow_id,
            serialization: r.serialization,
            was_forked_from: r.was_forked_from,
            delay_until_epoch_ms: r.delay_until_epoch_ms,
            attributes: r.attributes,
            schedule_name: r.schedule_name,
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct JsOutgoingMessage {
    pub destination_id: String,
    pub topic: String,
    pub message: String,
    pub serialization: Option<String>,
    pub message_uuid: String,
}

impl From<JsOutgoingMessage> for OutgoingMessage {
    fn from(m: JsOutgoingMessage) -> Self {
        OutgoingMessage {
            destination_id: m.destination_id,
            topic: m.topic,
            message: m.message,
            serialization: m.serialization,
            message_uuid: m.message_uuid,
        }
    }
}

/// Where a send comes from: no workflow (plain code, client), a step, or workflow code (with its ID).
#[napi(object, use_nullable = true)]
pub struct JsSendContext {
    pub workflow_id: Option<String>,
    pub token: Option<String>,
    pub function_id: Option<i32>,
    pub started_at: Option<i64>,
}

/// A stored value with its format (a received message, an event value).
#[napi(object, use_nullable = true)]
pub struct JsStoredValue {
    pub value: Option<String>,
    pub serialization: Option<String>,
}

impl From<Received> for JsStoredValue {
    fn from(r: Received) -> Self {
        JsStoredValue {
            value: r.message,
            serialization: r.serialization,
        }
    }
}

impl From<EventValue> for JsStoredValue {
    fn from(e: EventValue) -> Self {
        JsStoredValue {
            value: Some(e.value),
            serialization: e.serialization,
        }
    }
}

/// A page of stream values: offsets are dense, so value i is at `first_offset + i`. Parallel arrays
/// cross the boundary far cheaper than one object per value.
#[napi(object, use_nullable = true)]
pub struct JsStreamPage {
    pub first_offset: i32,
    pub values: Vec<String>,
    pub serializations: Vec<Option<String>>,
    pub end: JsPageEnd,
}

/// Why a page stopped: more may follow, the stream is closed, or the wait timed out.
#[napi(string_enum = "lowercase")]
pub enum JsPageEnd {
    More,
    Closed,
    Timeout,
}

impl From<StreamPage> for JsStreamPage {
    fn from(p: StreamPage) -> Self {
        let first_offset = p.values.first().map(|v| v.offset).unwrap_or(0);
        let (values, serializations) = p
            .values
            .into_iter()
            .map(|v| (v.value, v.serialization))
            .unzip();
        JsStreamPage {
            first_offset,
            values,
            serializations,
            end: match p.end {
                PageEnd::More => JsPageEnd::More,
                PageEnd::Closed => JsPageEnd::Closed,
                PageEnd::TimedOut => JsPageEnd::Timeout,
            },
        }
    }
}
