//! Workflow messages (`notifications`): send from outside, from a step or exactly-once from workflow
//! code, and recv's wait and consume, whose consumed row and checkpoint commit together.

use super::db::now_ms;
use super::error::{EngineError, ErrorCode, Result};
use super::listener::WaitGuard;
use super::Engine;

/// Stored topic for messages sent without one.
pub const NULL_TOPIC: &str = "__null__topic__";

/// A message to insert; `message_uuid` is `<idempotencyKey>::<destination>` or a fresh UUID.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub destination_id: String,
    pub topic: String,
    pub message: String,
    pub serialization: Option<String>,
    pub message_uuid: String,
}

/// Where a send comes from, which decides its guarantees.
pub enum SendContext<'a> {
    /// Plain code or a client: one insert (exactly once only with an idempotency key).
    Outside,
    /// A step: the insert and an owner check on the enclosing workflow, no checkpoint.
    Step {
        workflow_id: &'a str,
        token: &'a str,
    },
    /// Workflow code: the insert and the `DBOS.send` checkpoint in one statement (exactly once).
    Workflow {
        workflow_id: &'a str,
        token: &'a str,
        function_id: i32,
        started_at: i64,
    },
}

/// What recv consumed (both None on timeout).
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub message: Option<String>,
    pub serialization: Option<String>,
}

pub(crate) struct Sql {
    send: String,
    send_in_step: String,
    send_in_workflow: String,
    pending: String,
    consume: String,
}

const CHECKPOINT_COLUMNS: &str = "workflow_uuid, function_id, output, error, function_name, child_workflow_id, \
     started_at_epoch_ms, completed_at_epoch_ms, serialization, application_name, retention_timestamp";
const NOW_MS: &str = "(EXTRACT(EPOCH FROM now()) * 1000)::bigint";

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let insert = format!(
            "INSERT INTO {s}.notifications (destination_uuid, topic, message, serialization, message_uuid)"
        );
        Sql {
            send: format!(
                "{insert} VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_uuid) DO NOTHING"
            ),
            send_in_step: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $6 FOR NO KEY UPDATE), \
                 msg AS ({insert} SELECT $1, $2, $3, $4, $5 FROM owner WHERE owner.owner_xid = $7 \
                   ON CONFLICT (message_uuid) DO NOTHING) \
                 SELECT (SELECT owner_xid FROM owner)"
            ),
            // The message is inserted only together with a fresh checkpoint, so a replay never resends.
            send_in_workflow: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $6 FOR NO KEY UPDATE), \
                 ck AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT $6, $8, NULL, NULL, 'DBOS.send', NULL, $9, $10, 'portable_json', $11, {NOW_MS} \
                   FROM owner WHERE owner.owner_xid = $7 \
                   ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1), \
                 msg AS ({insert} SELECT $1, $2, $3, $4, $5 FROM ck ON CONFLICT (message_uuid) DO NOTHING) \
                 SELECT (SELECT owner_xid FROM owner), EXISTS (SELECT 1 FROM ck)"
            ),
            pending: format!(
                "SELECT EXISTS (SELECT 1 FROM {s}.notifications WHERE destination_uuid = $1 AND topic = $2 \
                 AND consumed = false)"
            ),
            // Owner check, consume the oldest unconsumed message (none on timeout) and record
            // `DBOS.recv` with it, all in one statement.
            consume: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR NO KEY UPDATE), \
                 ok AS (SELECT 1 AS one FROM owner WHERE owner.owner_xid = $3 AND NOT EXISTS \
                   (SELECT 1 FROM {s}.operation_outputs WHERE workflow_uuid = $1 AND function_id = $4)), \
                 msg AS (UPDATE {s}.notifications SET consumed = true, consumed_by_function_id = $4 \
                   WHERE message_uuid = (SELECT message_uuid FROM {s}.notifications \
                     WHERE destination_uuid = $1 AND topic = $2 AND consumed = false \
                     ORDER BY created_at_epoch_ms ASC LIMIT 1) \
                   AND consumed = false AND EXISTS (SELECT 1 FROM ok) RETURNING message, serialization), \
                 ck AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT $1, $4, (SELECT message FROM msg), NULL, 'DBOS.recv', NULL, $5, $6, \
                     (SELECT serialization FROM msg), $7, {NOW_MS} FROM ok \
                   ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1) \
                 SELECT (SELECT owner_xid FROM owner), EXISTS (SELECT 1 FROM ck), \
                   (SELECT message FROM msg), (SELECT serialization FROM msg)"
            ),
        }
    }
}

fn is_missing_destination(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .map(|d| d.code().code() == "23503")
        .unwrap_or(false)
}

fn slot_taken(workflow_id: &str, function_id: i32, what: &str) -> EngineError {
    EngineError::new(
        ErrorCode::StepNondeterminism,
        format!("Workflow {workflow_id}: step {function_id} ({what}) was already recorded by another execution"),
    )
}

impl Engine {
    /// Sends a message. A missing destination is `NonExistentWorkflow` and stores nothing.
    pub async fn send(&self, msg: &OutgoingMessage, ctx: SendContext<'_>) -> Result<()> {
        let client = self.client().await?;
        let base: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &msg.destination_id,
            &msg.topic,
            &msg.message,
            &msg.serialization,
            &msg.message_uuid,
        ];
        let result = match ctx {
            SendContext::Outside => {
                let stmt = client.prepare_cached(&self.sql.messages.send).await?;
                client.execute(&stmt, &base).await.map(|_| ())
            }
            SendContext::Step { workflow_id, token } => {
                let stmt = client
                    .prepare_cached(&self.sql.messages.send_in_step)
                    .await?;
                let mut params = base.to_vec();
                params.push(&workflow_id);
                params.push(&token);
                match client.query_one(&stmt, &params).await {
                    Ok(row) => {
                        if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
                            return Err(EngineError::conflict(workflow_id));
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            SendContext::Workflow {
                workflow_id,
                token,
                function_id,
                started_at,
            } => {
                let stmt = client
                    .prepare_cached(&self.sql.messages.send_in_workflow)
                    .await?;
                let now = now_ms();
                let mut params = base.to_vec();
                params.push(&workflow_id);
                params.push(&token);
                params.push(&function_id);
                params.push(&started_at);
                params.push(&now);
                params.push(&self.identity.app_name);
                match client.query_one(&stmt, &params).await {
                    Ok(row) => {
                        if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
                            return Err(EngineError::conflict(workflow_id));
                        }
                        if !row.get::<_, bool>(1) {
                            return Err(slot_taken(workflow_id, function_id, "DBOS.send"));
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        result.map_err(|e| {
            if is_missing_destination(&e) {
                EngineError::new(
                    ErrorCode::NonExistentWorkflow,
                    format!(
                        "Sent to non-existent destination workflow UUID: {}",
                        msg.destination_id
                    ),
                )
            } else {
                e.into()
            }
        })
    }

    /// recv for workflow code: waits (without holding a connection) until a message for `topic` is
    /// there or the deadline passes, then consumes it and records `DBOS.recv` at `function_id` in one
    /// statement. A timeout records NULL. Fenced: a run that lost ownership gets `WorkflowConflict`.
    #[allow(clippy::too_many_arguments)]
    pub async fn recv(
        &self,
        workflow_id: &str,
        token: &str,
        function_id: i32,
        topic: &str,
        deadline_epoch_ms: i64,
        started_at: i64,
        poll_ms: u64,
    ) -> Result<Received> {
        let key = format!("{workflow_id}::{topic}");
        let guard = WaitGuard { workflow_id, token };
        self.wait_for(
            key,
            Some(deadline_epoch_ms),
            poll_ms,
            Some(guard),
            || async {
                let client = self.client().await?;
                let stmt = client.prepare_cached(&self.sql.messages.pending).await?;
                let row = client.query_one(&stmt, &[&workflow_id, &topic]).await?;
                Ok(row.get::<_, bool>(0).then_some(()))
            },
        )
        .await?;
        let client = self.client().await?;
        let stmt = client.prepare_cached(&self.sql.messages.consume).await?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &workflow_id,
                    &topic,
                    &token,
                    &function_id,
                    &started_at,
                    &now_ms(),
                    &self.identity.app_name,
                ],
            )
            .await?;
        if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
            return Err(EngineError::conflict(workflow_id));
        }
        if !row.get::<_, bool>(1) {
            return Err(slot_taken(workflow_id, function_id, "DBOS.recv"));
        }
        Ok(Received {
            message: row.get(2),
            serialization: row.get(3),
        })
    }
}
