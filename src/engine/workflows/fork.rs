//! Forking a workflow (`forkWorkflow`): a new ENQUEUED row with the original's identity and input,
//! and the original's operations, stream values and event history before `start_step` copied to it,
//! as the DBOS SDK 5.3.0 writes them (its `bulkForkWorkflows`).

use crate::engine::error::{EngineError, Result};
use crate::engine::Engine;

/// What a fork is made of (validated by the TS layer).
#[derive(Debug, Clone, Default)]
pub struct ForkRequest {
    pub workflow_id: String,
    pub new_workflow_id: String,
    pub start_step: i32,
    pub queue_name: String,
    pub application_version: Option<String>,
    pub timeout_ms: Option<i64>,
    pub queue_partition_key: Option<String>,
    /// The owner of a fork of an unclaimed workflow (the caller's application); None keeps it unclaimed.
    pub claim_as: Option<String>,
    /// Child workflow IDs to write in place of the original's, as (old, new) pairs.
    pub replacement_children: Vec<(String, String)>,
}

/// One statement, so a fork is written whole or not at all. `src` is the original's row (none: nothing
/// is written and the count is 0); every other part reads only the original's rows, so the sibling
/// CTEs need not see each other's writes (the foreign keys are checked at the statement's end).
/// $1 original, $2 fork, $3 start step, $4 queue, $5 version, $6 timeout, $7 partition key,
/// $8 owner for an unclaimed original, $9/$10 replaced/replacing child IDs.
fn statement(s: &str) -> String {
    format!(
        "WITH src AS (SELECT ws.*, COALESCE(i.inputs, ws.inputs) AS input_text, \
             COALESCE(ws.application_name, $8::text) AS owner \
           FROM {s}.workflow_status ws LEFT JOIN {s}.workflow_input i ON i.workflow_uuid = ws.workflow_uuid \
           WHERE ws.workflow_uuid = $1), \
         ins AS (INSERT INTO {s}.workflow_status (workflow_uuid, status, name, class_name, config_name, \
             queue_name, authenticated_user, assumed_role, authenticated_roles, application_version, \
             application_id, inputs, queue_partition_key, forked_from, serialization, attributes, \
             application_name, workflow_timeout_ms) \
           SELECT $2, 'ENQUEUED', name, class_name, config_name, $4, authenticated_user, assumed_role, \
             authenticated_roles, COALESCE($5::text, application_version), application_id, NULL, $7::text, \
             workflow_uuid, serialization, attributes, owner, $6::bigint FROM src RETURNING 1), \
         inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) SELECT $2, input_text FROM src), \
         marked AS (UPDATE {s}.workflow_status SET was_forked_from = TRUE \
           WHERE workflow_uuid = (SELECT workflow_uuid FROM src)), \
         ops AS (INSERT INTO {s}.operation_outputs (workflow_uuid, function_id, output, error, serialization, \
             function_name, child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, application_name, \
             retention_timestamp) \
           SELECT $2, oo.function_id, oo.output, oo.error, oo.serialization, oo.function_name, \
             COALESCE((SELECT r.new FROM unnest($9::text[], $10::text[]) AS r(old, new) \
               WHERE r.old = oo.child_workflow_id LIMIT 1), oo.child_workflow_id), \
             oo.started_at_epoch_ms, oo.completed_at_epoch_ms, src.owner, \
             (EXTRACT(EPOCH FROM now()) * 1000)::bigint \
           FROM src JOIN {s}.operation_outputs oo ON oo.workflow_uuid = src.workflow_uuid \
             AND oo.function_id < $3), \
         str AS (INSERT INTO {s}.streams (workflow_uuid, key, value, serialization, \"offset\", function_id) \
           SELECT $2, st.key, st.value, st.serialization, st.\"offset\", st.function_id \
           FROM src JOIN {s}.streams st ON st.workflow_uuid = src.workflow_uuid AND st.function_id < $3), \
         hist AS (INSERT INTO {s}.workflow_events_history (workflow_uuid, function_id, key, value, serialization) \
           SELECT $2, h.function_id, h.key, h.value, h.serialization \
           FROM src JOIN {s}.workflow_events_history h ON h.workflow_uuid = src.workflow_uuid \
             AND h.function_id < $3), \
         ev AS (INSERT INTO {s}.workflow_events (workflow_uuid, key, value, serialization) \
           SELECT DISTINCT ON (h.key) $2, h.key, h.value, h.serialization \
           FROM src JOIN {s}.workflow_events_history h ON h.workflow_uuid = src.workflow_uuid \
             AND h.function_id < $3 \
           ORDER BY h.key, h.function_id DESC) \
         SELECT count(*) FROM ins"
    )
}

impl Engine {
    /// Forks `req.workflow_id` into `req.new_workflow_id`, ENQUEUED on `req.queue_name`. Fails with
    /// NoSuchWorkflow (nothing written) if the original has no row, Conflict if the new ID is taken.
    /// Transactions, locks: one autocommit statement; it inserts the fork's rows and row-locks the
    /// original's status row (was_forked_from); the start step filters the copies (0 copies none).
    /// Not retried on a lost connection: the first try may have committed.
    pub async fn fork_workflow(&self, req: &ForkRequest) -> Result<()> {
        let sql = statement(self.schema());
        let (old, new): (Vec<String>, Vec<String>) =
            req.replacement_children.iter().cloned().unzip();
        let n: i64 = self
            .query_one(
                &sql,
                &[
                    &req.workflow_id,
                    &req.new_workflow_id,
                    &req.start_step,
                    &req.queue_name,
                    &req.application_version,
                    &req.timeout_ms,
                    &req.queue_partition_key,
                    &req.claim_as,
                    &old,
                    &new,
                ],
            )
            .await
            .map_err(|e| {
                if e.sqlstate() == Some("23505") {
                    EngineError::conflict(&req.new_workflow_id)
                } else {
                    e
                }
            })?
            .get(0);
        if n == 0 {
            return Err(EngineError::NoSuchWorkflow {
                workflow_id: req.workflow_id.clone(),
            });
        }
        Ok(())
    }
}
