//! Rewinding a workflow (`rewindWorkflow`): its history from `start_step` on is dropped and the same
//! row is ENQUEUED again, so a replay re-executes from there under the same ID, as the DBOS SDK 5.3.0
//! does it (its `SystemDatabase.rewindWorkflow`): events published at or past the cut go back to the
//! last value published before it (the events history is the undo log), the streams' close markers
//! past the cut go (so the replay can append), and messages consumed past the cut, or not consumed at
//! all, are deleted. Stream values are kept.

use crate::engine::db::Param;
use crate::engine::error::{EngineError, Result};
use crate::engine::status::Status;
use crate::engine::streams::CLOSE_MARKER;
use crate::engine::Engine;

/// What a rewind asks for (validated by the TS layer).
#[derive(Debug, Clone, Default)]
pub struct RewindRequest {
    pub workflow_id: String,
    pub start_step: i32,
    pub queue_name: String,
    pub application_version: Option<String>,
    pub queue_partition_key: Option<String>,
}

/// The statements, in the order the rewind runs them; $1 is the workflow, $2 the start step.
struct Sql {
    lock: String,
    /// Unpublishes every key the discarded run published (the restore below puts back what survives).
    unpublish: String,
    restore: String,
    /// $3 the close marker.
    unclose: String,
    steps: String,
    history: String,
    messages: String,
    output: String,
    /// $2 the status read under the lock, $3 queue, $4 partition key, $5 version (null: kept).
    requeue: String,
}

impl Sql {
    fn new(s: &str) -> Self {
        let past_cut = |key: &str| {
            format!(
                "EXISTS (SELECT 1 FROM {s}.workflow_events_history cut \
                   WHERE cut.workflow_uuid = $1 AND cut.key = {key} AND cut.function_id >= $2)"
            )
        };
        Sql {
            lock: format!("SELECT status FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR UPDATE"),
            unpublish: format!(
                "DELETE FROM {s}.workflow_events ev WHERE ev.workflow_uuid = $1 AND {}",
                past_cut("ev.key")
            ),
            restore: format!(
                "INSERT INTO {s}.workflow_events (workflow_uuid, key, value, serialization) \
                 SELECT DISTINCT ON (h.key) h.workflow_uuid, h.key, h.value, h.serialization \
                 FROM {s}.workflow_events_history h \
                 WHERE h.workflow_uuid = $1 AND h.function_id < $2 AND {} \
                 ORDER BY h.key, h.function_id DESC",
                past_cut("h.key")
            ),
            unclose: format!(
                "DELETE FROM {s}.streams WHERE workflow_uuid = $1 AND function_id >= $2 \
                 AND value = $3 AND serialization = 'portable_json'"
            ),
            steps: format!("DELETE FROM {s}.operation_outputs WHERE workflow_uuid = $1 AND function_id >= $2"),
            history: format!(
                "DELETE FROM {s}.workflow_events_history WHERE workflow_uuid = $1 AND function_id >= $2"
            ),
            messages: format!(
                "DELETE FROM {s}.notifications WHERE destination_uuid = $1 \
                 AND (consumed_by_function_id >= $2 OR consumed = false)"
            ),
            output: format!("DELETE FROM {s}.workflow_output WHERE workflow_uuid = $1"),
            requeue: format!(
                "UPDATE {s}.workflow_status SET status = {enq}, owner_xid = NULL, queue_name = $3, \
                   queue_partition_key = $4, recovery_attempts = 0, workflow_deadline_epoch_ms = NULL, \
                   deduplication_id = NULL, started_at_epoch_ms = NULL, completed_at = NULL, output = NULL, \
                   error = NULL, updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint, \
                   application_version = COALESCE($5::text, application_version) \
                 WHERE workflow_uuid = $1 AND status = $2",
                enq = Status::Enqueued.sql()
            ),
        }
    }
}

impl Engine {
    /// Rewinds `req.workflow_id` to `req.start_step` and ENQUEUEs it on `req.queue_name`. Fails with
    /// NoSuchWorkflow if it has no row, InvalidArgument (the SDK's DBOSError) if it is PENDING,
    /// ENQUEUED or DELAYED; either way nothing is written.
    /// Transactions, locks: one READ COMMITTED transaction; `SELECT ... FOR UPDATE` locks the status
    /// row first, so no completion, resume or cancel moves it between the check and the re-enqueue;
    /// the deletes then lock the workflow's event, stream, step, history and message rows they remove.
    /// Not retried on a lost connection (a retry would find the row ENQUEUED and refuse).
    pub async fn rewind_workflow(&self, req: &RewindRequest) -> Result<()> {
        let id = &req.workflow_id;
        if req.start_step < 0 {
            return Err(EngineError::invalid(format!(
                "startStep must be >= 0, got {}",
                req.start_step
            )));
        }
        // This process's queued writes for the workflow land before the cut, not after it.
        self.written(id).await;
        let sql = Sql::new(self.schema());
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let status: String = match tx.query_opt(&sql.lock, &[id]).await? {
            Some(row) => row.get(0),
            None => {
                return Err(EngineError::NoSuchWorkflow {
                    workflow_id: id.clone(),
                })
            }
        };
        let live = [Status::Pending, Status::Enqueued, Status::Delayed];
        if live.iter().any(|s| s.as_str() == status) {
            return Err(EngineError::invalid(format!(
                "Cannot rewind {id} ({status}): only a workflow in a terminal state can be rewound, so cancel it first"
            )));
        }
        let cut: [Param<'_>; 2] = [id, &req.start_step];
        tx.execute(&sql.unpublish, &cut).await?;
        tx.execute(&sql.restore, &cut).await?;
        tx.execute(&sql.unclose, &[id, &req.start_step, &CLOSE_MARKER])
            .await?;
        tx.execute(&sql.steps, &cut).await?;
        tx.execute(&sql.history, &cut).await?;
        tx.execute(&sql.messages, &cut).await?;
        tx.execute(&sql.output, &[id]).await?;
        tx.execute(
            &sql.requeue,
            &[
                id,
                &status,
                &req.queue_name,
                &req.queue_partition_key,
                &req.application_version,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
