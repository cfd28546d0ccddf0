//! Workflow reads: the status row with its inputs and outcome, and the outcome alone, read once or
//! awaited until the workflow is terminal.

use super::is_terminal;
use crate::engine::error::Result;
use crate::engine::listener::completion_key;
use crate::engine::Engine;

#[derive(Debug, Clone, Default)]
pub struct WorkflowStatusRow {
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
    /// The jsonb `attributes` as JSON text.
    pub attributes: Option<String>,
    pub schedule_name: Option<String>,
}

/// A terminal outcome read back from the database.
#[derive(Debug, Clone)]
pub struct WorkflowOutcome {
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub serialization: Option<String>,
}

pub(crate) struct Sql {
    status: String,
    outcome: String,
}

/// The status row's columns (aliased `ws`) in `status_row`'s order; the payload columns come from
/// the joins `i` (workflow_input) and `o` (workflow_output), or are NULL when not loaded.
pub(crate) fn status_columns(load_input: bool, load_output: bool) -> String {
    let inputs = if load_input {
        "COALESCE(i.inputs, ws.inputs)"
    } else {
        "NULL::text"
    };
    let (output, error) = if load_output {
        (
            "COALESCE(o.output, ws.output)",
            "COALESCE(o.error, ws.error)",
        )
    } else {
        ("NULL::text", "NULL::text")
    };
    format!(
        "ws.workflow_uuid, ws.status, ws.name, ws.class_name, ws.config_name, \
         ws.authenticated_user, ws.assumed_role, ws.authenticated_roles, \
         {output} AS output, {error} AS error, {inputs} AS inputs, ws.executor_id, ws.application_version, \
         ws.application_id, ws.application_name, ws.created_at, ws.updated_at, ws.completed_at, \
         ws.started_at_epoch_ms, ws.recovery_attempts, ws.queue_name, ws.workflow_timeout_ms, \
         ws.workflow_deadline_epoch_ms, ws.deduplication_id, ws.priority, ws.queue_partition_key, \
         ws.forked_from, ws.parent_workflow_id, ws.serialization, ws.was_forked_from, \
         ws.delay_until_epoch_ms, ws.attributes::text, ws.schedule_name"
    )
}

/// A row selected with `status_columns`.
pub(crate) fn status_row(r: &tokio_postgres::Row) -> WorkflowStatusRow {
    WorkflowStatusRow {
        workflow_id: r.get(0),
        status: r.get::<_, Option<String>>(1).unwrap_or_default(),
        name: r.get(2),
        class_name: r.get(3),
        config_name: r.get(4),
        authenticated_user: r.get(5),
        assumed_role: r.get(6),
        authenticated_roles: r.get(7),
        output: r.get(8),
        error: r.get(9),
        inputs: r.get(10),
        executor_id: r.get(11),
        application_version: r.get(12),
        application_id: r.get(13),
        application_name: r.get(14),
        created_at: r.get(15),
        updated_at: r.get(16),
        completed_at: r.get(17),
        started_at_epoch_ms: r.get(18),
        recovery_attempts: r.get(19),
        queue_name: r.get(20),
        workflow_timeout_ms: r.get(21),
        workflow_deadline_epoch_ms: r.get(22),
        deduplication_id: r.get(23),
        priority: r.get::<_, Option<i32>>(24).unwrap_or(0),
        queue_partition_key: r.get(25),
        forked_from: r.get(26),
        parent_workflow_id: r.get(27),
        serialization: r.get(28),
        was_forked_from: r.get::<_, Option<bool>>(29).unwrap_or(false),
        delay_until_epoch_ms: r.get(30),
        attributes: r.get(31),
        schedule_name: r.get(32),
    }
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Sql {
            status: format!(
                "SELECT {} FROM {s}.workflow_status ws \
                 LEFT JOIN {s}.workflow_input i ON i.workflow_uuid = ws.workflow_uuid \
                 LEFT JOIN {s}.workflow_output o ON o.workflow_uuid = ws.workflow_uuid \
                 WHERE ws.workflow_uuid = $1",
                status_columns(true, true)
            ),
            outcome: format!(
                "SELECT ws.status, COALESCE(o.output, ws.output), COALESCE(o.error, ws.error), ws.serialization \
                 FROM {s}.workflow_status ws \
                 LEFT JOIN {s}.workflow_output o ON o.workflow_uuid = ws.workflow_uuid \
                 WHERE ws.workflow_uuid = $1"
            ),
        }
    }
}

impl Engine {
    pub async fn get_workflow_status(
        &self,
        workflow_id: &str,
    ) -> Result<Option<WorkflowStatusRow>> {
        let row = self
            .retrying(|| async {
                self.query_opt(&self.sql.workflows.read.status, &[&workflow_id])
                    .await
            })
            .await?;
        Ok(row.as_ref().map(status_row))
    }

    /// Reads the outcome once: None while the workflow is missing or still active.
    pub async fn read_outcome(&self, workflow_id: &str) -> Result<Option<WorkflowOutcome>> {
        let row = self
            .retrying(|| async {
                self.query_opt(&self.sql.workflows.read.outcome, &[&workflow_id])
                    .await
            })
            .await?;
        Ok(row.and_then(|r| {
            let status: String = r.get::<_, Option<String>>(0).unwrap_or_default();
            is_terminal(&status).then(|| WorkflowOutcome {
                status,
                output: r.get(1),
                error: r.get(2),
                serialization: r.get(3),
            })
        }))
    }

    /// Waits until the workflow reaches a terminal status or `deadline_epoch_ms` passes (None then):
    /// woken by the completion notification of a queued workflow (`completion_key`), re-read at least
    /// every `poll_ms` (rows finished by the official SDK, or directly started ones, are not notified).
    /// Holds no connection between reads.
    pub async fn await_outcome(
        &self,
        workflow_id: &str,
        poll_ms: u64,
        deadline_epoch_ms: Option<i64>,
    ) -> Result<Option<WorkflowOutcome>> {
        self.wait_for(
            completion_key(workflow_id),
            deadline_epoch_ms,
            poll_ms,
            |_| self.read_outcome(workflow_id),
        )
        .await
    }
}
