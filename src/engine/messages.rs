//! Workflow messages (`notifications`): send from outside, from a step or exactly-once from workflow
//! code, and recv's wait and consume, whose consumed row and checkpoint commit together.

use super::batch::{column, Batched};
use super::db::now_ms;
use super::error::{EngineError, ErrorCode, Result};
use super::steps::{CHECKPOINT_COLUMNS, NOW_MS};
use super::Engine;

/// Opens the transaction a consume runs in. Postgres would otherwise keep planning the consume afresh
/// at every execution (its custom plans look cheaper while a topic is short), and planning that
/// statement costs several times what running it does (measured: ~1 ms against ~0.2 ms).
const BEGIN_GENERIC: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

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
#[derive(Clone, Copy)]
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
    send_many: String,
    send_in_step: String,
    send_in_workflow: String,
    consume: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let insert = format!(
            "INSERT INTO {s}.notifications (destination_uuid, topic, message, serialization, message_uuid)"
        );
        Sql {
            send: format!(
                "{insert} VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_uuid) DO NOTHING"
            ),
            // Concurrent sends from outside workflows in one statement; a missing destination fails
            // the batch, which is then run singly so that only that send fails.
            send_many: format!(
                "{insert} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 ON CONFLICT (message_uuid) DO NOTHING"
            ),
            send_in_step: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $6 FOR NO KEY UPDATE), \
                 msg AS ({insert} SELECT $1, $2, $3, $4, $5 FROM owner WHERE owner.owner_xid = $7 \
                   ON CONFLICT (message_uuid) DO NOTHING) \
                 SELECT (SELECT owner_xid FROM owner)"
            ),
            // The message is inserted only together with a fresh checkpoint, so a replay never resends.
            // `ours` (the slot holds exactly this write) means this send is recorded (now, or by an
            // attempt whose reply was lost); another means the slot belongs to another execution.
            send_in_workflow: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $6 FOR NO KEY UPDATE), \
                 ck AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT $6, $8, NULL, NULL, 'DBOS.send', NULL, $9, $10, 'portable_json', $11, {NOW_MS} \
                   FROM owner WHERE owner.owner_xid = $7 \
                   ON CONFLICT (workflow_uuid, function_id) \
                   DO UPDATE SET completed_at_epoch_ms = operation_outputs.completed_at_epoch_ms \
                   RETURNING (xmax = 0) AS fresh, (function_name = 'DBOS.send' AND output IS NULL AND error IS NULL \
                     AND started_at_epoch_ms = $9 AND completed_at_epoch_ms = $10) AS ours), \
                 msg AS ({insert} SELECT $1, $2, $3, $4, $5 FROM ck WHERE ck.fresh \
                   ON CONFLICT (message_uuid) DO NOTHING) \
                 SELECT (SELECT owner_xid FROM owner), (SELECT ours FROM ck)"
            ),
            // Owner check, consume the oldest unconsumed message and record `DBOS.recv` with it, all in
            // one statement. With no message nothing is locked or written (a read-only transaction),
            // unless the wait is over ($8): then the NULL of a timeout is recorded. If the slot is
            // already recorded, nothing is consumed and the recorded message comes back: when it is
            // exactly ours, an earlier attempt of this very call committed it and its reply was lost.
            consume: format!(
                "WITH prior AS (SELECT output, serialization, (function_name = 'DBOS.recv' \
                     AND started_at_epoch_ms = $5 AND completed_at_epoch_ms = $6) AS ours \
                   FROM {s}.operation_outputs WHERE workflow_uuid = $1 AND function_id = $4), \
                 waiting AS (SELECT EXISTS (SELECT 1 FROM {s}.notifications \
                   WHERE destination_uuid = $1 AND topic = $2 AND consumed = false) AS present), \
                 owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 \
                   AND ($8 OR (SELECT present FROM waiting)) AND NOT EXISTS (SELECT 1 FROM prior) FOR NO KEY UPDATE), \
                 peek AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1), \
                 ok AS (SELECT 1 AS one FROM owner WHERE owner.owner_xid = $3), \
                 msg AS (UPDATE {s}.notifications SET consumed = true, consumed_by_function_id = $4 \
                   WHERE message_uuid = (SELECT message_uuid FROM {s}.notifications \
                     WHERE destination_uuid = $1 AND topic = $2 AND consumed = false \
                     ORDER BY created_at_epoch_ms ASC LIMIT 1) \
                   AND consumed = false AND EXISTS (SELECT 1 FROM ok) RETURNING message, serialization), \
                 ck AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT $1, $4, (SELECT message FROM msg), NULL, 'DBOS.recv', NULL, $5, $6, \
                     (SELECT serialization FROM msg), $7, {NOW_MS} FROM ok \
                   WHERE $8 OR EXISTS (SELECT 1 FROM msg) \
                   ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1) \
                 SELECT COALESCE((SELECT owner_xid FROM owner), (SELECT owner_xid FROM peek)), \
                   EXISTS (SELECT 1 FROM ck), (SELECT message FROM msg), (SELECT serialization FROM msg), \
                   (SELECT ours FROM prior), (SELECT output FROM prior), (SELECT serialization FROM prior)"
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
    /// Sends a message. A missing destination is `NonExistentWorkflow` and stores nothing. Safe to
    /// retry: the message UUID makes the insert idempotent, and a workflow's send is recognised by
    /// its checkpoint.
    pub async fn send(&self, msg: &OutgoingMessage, ctx: SendContext<'_>) -> Result<()> {
        if let SendContext::Outside = ctx {
            // Plain sends have no order to keep among themselves: they share statements.
            return self
                .groups
                .sends
                .submit(msg.clone(), |batch| self.run_batch(batch))
                .await;
        }
        let completed_at = now_ms();
        self.retrying(|| self.send_once(msg, ctx, completed_at))
            .await
    }

    async fn send_once(
        &self,
        msg: &OutgoingMessage,
        ctx: SendContext<'_>,
        completed_at: i64,
    ) -> Result<()> {
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
                client.execute(&stmt, &base).await.map(|_| Ok(()))
            }
            SendContext::Step { workflow_id, token } => {
                let stmt = client
                    .prepare_cached(&self.sql.messages.send_in_step)
                    .await?;
                let mut params = base.to_vec();
                params.push(&workflow_id);
                params.push(&token);
                client.query_one(&stmt, &params).await.map(|row| {
                    if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
                        return Err(EngineError::conflict(workflow_id));
                    }
                    Ok(())
                })
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
                let mut params = base.to_vec();
                params.push(&workflow_id);
                params.push(&token);
                params.push(&function_id);
                params.push(&started_at);
                params.push(&completed_at);
                params.push(&self.identity.app_name);
                client.query_one(&stmt, &params).await.map(|row| {
                    if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
                        return Err(EngineError::conflict(workflow_id));
                    }
                    if row.get::<_, Option<bool>>(1) != Some(true) {
                        return Err(slot_taken(workflow_id, function_id, "DBOS.send"));
                    }
                    Ok(())
                })
            }
        };
        match result {
            Ok(outcome) => outcome,
            Err(e) if is_missing_destination(&e) => Err(EngineError::new(
                ErrorCode::NonExistentWorkflow,
                format!(
                    "Sent to non-existent destination workflow UUID: {}",
                    msg.destination_id
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// recv for workflow code: until a message for `topic` is there or the deadline passes, tries to
    /// consume one and record `DBOS.recv` at `function_id` in one statement, waiting between tries
    /// without holding a connection; at the deadline the timeout's NULL is recorded. Fenced: a run that
    /// lost ownership gets `WorkflowConflict`.
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
        let consume = |last: bool| {
            let completed_at = now_ms();
            self.retrying(move || {
                self.consume_once(
                    workflow_id,
                    token,
                    function_id,
                    topic,
                    started_at,
                    completed_at,
                    last,
                )
            })
        };
        // The consume checks ownership itself: a cancelled or fenced-out recv ends at its next try.
        let got = self
            .wait_for(key, Some(deadline_epoch_ms), poll_ms, || consume(false))
            .await?;
        match got {
            Some(received) => Ok(received),
            None => Ok(consume(true).await?.unwrap_or_default()),
        }
    }

    /// One consume attempt: Some if a message was consumed (or this call's record found), None if
    /// there was none and `last` is false.
    #[allow(clippy::too_many_arguments)]
    async fn consume_once(
        &self,
        workflow_id: &str,
        token: &str,
        function_id: i32,
        topic: &str,
        started_at: i64,
        completed_at: i64,
        last: bool,
    ) -> Result<Option<Received>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&self.sql.messages.consume).await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &workflow_id,
            &topic,
            &token,
            &function_id,
            &started_at,
            &completed_at,
            &self.identity.app_name,
            &last,
        ];
        // Still one round trip: each request goes out when first polled, in this order, so the
        // transaction commits (or rolls back) even if this future is dropped after the first poll.
        let (begun, row, committed) = futures::join!(
            client.batch_execute(BEGIN_GENERIC),
            client.query_one(&stmt, &params),
            client.batch_execute("COMMIT"),
        );
        begun?;
        let row = row?;
        committed?;
        if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
            return Err(EngineError::conflict(workflow_id));
        }
        if row.get::<_, bool>(1) {
            return Ok(Some(Received {
                message: row.get(2),
                serialization: row.get(3),
            }));
        }
        match row.get::<_, Option<bool>>(4) {
            Some(true) => Ok(Some(Received {
                message: row.get(5),
                serialization: row.get(6),
            })),
            Some(false) => Err(slot_taken(workflow_id, function_id, "DBOS.recv")),
            None if last => Err(slot_taken(workflow_id, function_id, "DBOS.recv")),
            None => Ok(None),
        }
    }
}

impl Batched<OutgoingMessage, ()> for Engine {
    async fn one(&self, msg: &OutgoingMessage) -> Result<()> {
        let completed_at = now_ms();
        self.retrying(|| self.send_once(msg, SendContext::Outside, completed_at))
            .await
    }

    async fn many(&self, items: &[OutgoingMessage]) -> Result<Vec<Result<()>>> {
        let destinations = column(items, |m| m.destination_id.as_str());
        let topics = column(items, |m| m.topic.as_str());
        let messages = column(items, |m| m.message.as_str());
        let formats = column(items, |m| m.serialization.as_deref());
        let uuids = column(items, |m| m.message_uuid.as_str());
        let client = self.client().await?;
        let stmt = client.prepare_cached(&self.sql.messages.send_many).await?;
        client
            .execute(
                &stmt,
                &[&destinations, &topics, &messages, &formats, &uuids],
            )
            .await?;
        Ok(items.iter().map(|_| Ok(())).collect())
    }
}
