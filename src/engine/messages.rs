//! Workflow messages (`notifications`): send from outside, from a step or exactly-once from workflow
//! code, and recv's wait and consume, whose consumed row and checkpoint commit together.

use super::batch::{column, Batched};
use super::db::{now_ms, Param};
use super::error::{EngineError, Result};
use super::fence::{OwnCheckpoint, Rule, CHECKPOINT_COLUMNS, NOW_MS};
// Received lives with the parked recv calls it is handed to; callers name it here.
pub use super::parked::Received;
use super::Engine;

mod recv;
mod render;

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

pub(crate) struct Sql {
    send: String,
    send_many: String,
    send_in_step: String,
    send_in_workflow: String,
    consume: String,
}

/// Until when a recv waits, and whether its first try records that deadline (as the `DBOS.sleep` at
/// the next function ID, the way a workflow's deadlines are kept across recovery).
#[derive(Debug, Clone, Copy)]
pub struct RecvDeadline {
    pub epoch_ms: i64,
    pub record: bool,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        // Sends from a workflow (and its steps) are fenced by its live owner only.
        let fence = Rule::Owner { token: "$7" };
        let insert = format!(
            "INSERT INTO {s}.notifications (destination_uuid, topic, message, serialization, message_uuid)"
        );
        Sql {
            // Transactions, locks: one statement, no lock but the notification's key (and the
            // `FOR KEY SHARE` its foreign key takes on the destination's status row).
            send: format!(
                "{insert} VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_uuid) DO NOTHING"
            ),
            // Concurrent sends from outside workflows in one statement; a missing destination fails
            // the batch, which is then run singly so that only that send fails.
            // Transactions, locks: as `send`, for each message.
            send_many: format!(
                "{insert} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 ON CONFLICT (message_uuid) DO NOTHING"
            ),
            // From a step: only the live owner may send (no checkpoint).
            // Transactions, locks: one statement; the status row (see `fence`).
            send_in_step: format!(
                "WITH {}, \
                 msg AS ({insert} SELECT $1, $2, $3, $4, $5 FROM owner WHERE {} \
                   ON CONFLICT (message_uuid) DO NOTHING) \
                 SELECT (SELECT {} FROM owner)",
                fence.lock(s, "$6"),
                fence.admits("owner"),
                fence.writer("owner"),
            ),
            // The message is inserted only together with a fresh checkpoint, so a replay never resends.
            // `ours` (the slot holds exactly this write) means this send is recorded (now, or by an
            // attempt whose reply was lost); another means the slot belongs to another execution.
            // Transactions, locks: one statement; the status row (see `fence`).
            send_in_workflow: format!(
                "WITH {}, \
                 msg AS ({insert} SELECT $1, $2, $3, $4, $5 FROM ck WHERE ck.fresh \
                   ON CONFLICT (message_uuid) DO NOTHING) \
                 SELECT (SELECT {} FROM owner), (SELECT ours FROM ck)",
                fence.lock_and_record(
                    s,
                    &OwnCheckpoint {
                        workflow_id: "$6",
                        function_id: "$8",
                        name: "'DBOS.send'",
                        started_at: "$9",
                        completed_at: "$10",
                        app_name: "$11",
                    }
                ),
                fence.writer("owner"),
            ),
            // Owner check, consume the oldest unconsumed message and record `DBOS.recv` with it, all in
            // one statement. With no message nothing is locked or written (a read-only transaction),
            // unless the wait is over ($8): then the NULL of a timeout is recorded. A first try may
            // also record the wait's deadline ($9, as `DBOS.sleep` at the next function ID; an
            // existing record wins), so that a recovered recv keeps it. If the slot is
            // already recorded, nothing is consumed and the recorded message comes back: when it is
            // exactly ours, an earlier attempt of this very call committed it and its reply was lost.
            // Transactions, locks: runs in its own explicit transaction (`BEGIN_GENERIC`), after a
            // local send in the same one (`send_and_consume`). When it may write, it locks the status
            // row (`FOR NO KEY UPDATE`, as `fence` does, but only the live owner is admitted: a
            // recv's consume is never queued behind its workflow), then the oldest unconsumed
            // message's row (the UPDATE; a concurrent consumer of it waits, then finds it consumed).
            consume: format!(
                "WITH prior AS (SELECT output, serialization, (function_name = 'DBOS.recv' \
                     AND started_at_epoch_ms = $5 AND completed_at_epoch_ms = $6) AS ours \
                   FROM {s}.operation_outputs WHERE workflow_uuid = $1 AND function_id = $4), \
                 waiting AS (SELECT EXISTS (SELECT 1 FROM {s}.notifications \
                   WHERE destination_uuid = $1 AND topic = $2 AND consumed = false) AS present), \
                 owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 \
                   AND ($8 OR $9::text IS NOT NULL OR (SELECT present FROM waiting)) AND NOT EXISTS (SELECT 1 FROM prior) \
                   FOR NO KEY UPDATE), \
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
                   ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1), \
                 dl AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT $1, $4 + 1, $9, NULL, 'DBOS.sleep', NULL, $5, $5, 'portable_json', $7, {NOW_MS} FROM ok \
                   WHERE $9 IS NOT NULL ON CONFLICT (workflow_uuid, function_id) DO NOTHING) \
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
    EngineError::step_taken(workflow_id, function_id, what)
}

impl Engine {
    /// Sends a message. A missing destination is `NonExistentWorkflow` and stores nothing. Safe to
    /// retry: the message UUID makes the insert idempotent, and a workflow's send is recognised by
    /// its checkpoint.
    pub async fn send(&self, msg: &OutgoingMessage, ctx: SendContext<'_>) -> Result<()> {
        let completed_at = now_ms();
        // Served a parked recv: nobody else here waits on the key (one recv per topic).
        if let Some(sent) = self.hand_over(msg, ctx, completed_at).await {
            return sent;
        }
        if let SendContext::Outside = ctx {
            // Plain sends have no order to keep among themselves: they share statements.
            self.groups.sends.submit(self, msg.clone()).await?;
        } else {
            self.retrying(|| self.send_once(msg, ctx, completed_at))
                .await?;
        }
        // A recv waiting in this process need not wait for the NOTIFY to come back round.
        self.wake(&format!("{}::{}", msg.destination_id, msg.topic))
            .await;
        Ok(())
    }

    async fn send_once(
        &self,
        msg: &OutgoingMessage,
        ctx: SendContext<'_>,
        completed_at: i64,
    ) -> Result<()> {
        let (client, stmt) = self.prepared(self.send_sql(ctx)).await?;
        let params = send_params(msg, &ctx, &completed_at, &self.identity.app_name);
        let rows = client.query(&stmt, &params).await;
        send_verdict(msg, ctx, rows)
    }

    /// The statement of a send from `ctx` (see `Sql`).
    fn send_sql(&self, ctx: SendContext<'_>) -> &str {
        match ctx {
            SendContext::Outside => &self.sql.messages.send,
            SendContext::Step { .. } => &self.sql.messages.send_in_step,
            SendContext::Workflow { .. } => &self.sql.messages.send_in_workflow,
        }
    }
}

fn message_params(msg: &OutgoingMessage) -> [Param<'_>; 5] {
    [
        &msg.destination_id,
        &msg.topic,
        &msg.message,
        &msg.serialization,
        &msg.message_uuid,
    ]
}

/// The parameters of `send_sql(ctx)`.
fn send_params<'a>(
    msg: &'a OutgoingMessage,
    ctx: &'a SendContext<'a>,
    completed_at: &'a i64,
    app_name: &'a String,
) -> Vec<Param<'a>> {
    let mut params = message_params(msg).to_vec();
    match ctx {
        SendContext::Outside => {}
        SendContext::Step { workflow_id, token } => {
            params.push(workflow_id);
            params.push(token);
        }
        SendContext::Workflow {
            workflow_id,
            token,
            function_id,
            started_at,
        } => {
            params.extend_from_slice(&[
                workflow_id as Param,
                token,
                function_id,
                started_at,
                completed_at,
                app_name,
            ]);
        }
    }
    params
}

/// What a send's statement returned means (see `Sql`).
fn send_verdict(
    msg: &OutgoingMessage,
    ctx: SendContext<'_>,
    rows: std::result::Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>,
) -> Result<()> {
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) if is_missing_destination(&e) => {
            return Err(EngineError::NoSuchDestination {
                workflow_id: msg.destination_id.clone(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let (workflow_id, token) = match ctx {
        SendContext::Outside => return Ok(()),
        SendContext::Step { workflow_id, token } => (workflow_id, token),
        SendContext::Workflow {
            workflow_id, token, ..
        } => (workflow_id, token),
    };
    let row = rows
        .first()
        .ok_or_else(|| EngineError::Internal("a send returned no row".into()))?;
    if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
        return Err(EngineError::conflict(workflow_id));
    }
    if let SendContext::Workflow { function_id, .. } = ctx {
        if row.get::<_, Option<bool>>(1) != Some(true) {
            return Err(slot_taken(workflow_id, function_id, "DBOS.send"));
        }
    }
    Ok(())
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
        self.query(
            &self.sql.messages.send_many,
            &[&destinations, &topics, &messages, &formats, &uuids],
        )
        .await?;
        Ok(items.iter().map(|_| Ok(())).collect())
    }
}
