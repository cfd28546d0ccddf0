//! The statements of workflow starts (`start.rs`): one start, many at once, a child start, and a
//! client's enqueue rendered for the caller's own transaction.

use tokio_postgres::Row;

use super::start::{NewWorkflow, StartOutcome};
use crate::engine::error::{EngineError, Result};
use crate::engine::fence::NOW_MS;
use crate::engine::listener::QUEUES_CHANNEL;

pub(crate) struct Sql {
    pub(super) one: String,
    /// `one` for a caller's own transaction: also notifies the queue's dispatchers (at its commit).
    pub(super) in_caller_tx: String,
    pub(super) many: String,
    pub(super) child_owner_check: String,
    pub(super) child_insert: String,
    pub(super) child_input: String,
    pub(super) dedup_holder: String,
}

/// The columns of a status insert, in the order of `status_values`.
const STATUS_COLUMNS: &str = "workflow_uuid, status, name, class_name, config_name, queue_name, \
     authenticated_user, assumed_role, authenticated_roles, executor_id, application_version, \
     application_id, recovery_attempts, workflow_timeout_ms, workflow_deadline_epoch_ms, inputs, \
     deduplication_id, priority, queue_partition_key, forked_from, parent_workflow_id, serialization, \
     creator_xid, delay_until_epoch_ms, attributes, schedule_name, debounce_deadline_epoch_ms, \
     is_debounced, application_name, owner_xid, completed_at";

/// The parameters of a single start, each cast so that a caller binding them all as text (the
/// `pg` client running `render_enqueue`'s statement) gets the same statement as typed binds.
/// $1 id, $2 status, $3 name, $4 class, $5 config, $6 queue, $7 executor, $8 app version,
/// $9 recovery_attempts, $10 timeout, $11 deadline, $12 dedup, $13 priority, $14 parent,
/// $15 serialization, $16 creator token, $17 app name, $18 owner token, $19 partition key,
/// $20 delay until, $21 authenticated user, $22 authenticated roles (JSON), $23 attributes (JSON),
/// then (start only) $24 inputs, $25 finished (the row is written with its outcome), $26 output,
/// $27 error; last the debounce columns (`DEBOUNCE_ONE` or `DEBOUNCE_CHILD`).
fn status_values(debounce: &str) -> String {
    format!(
        "$1::text, $2::text, $3::text, $4::text, $5::text, $6::text, \
         COALESCE($21::text, ''), '', COALESCE($22::text, '[]'), $7::text, $8::text, '', $9::int8, \
         $10::int8, $11::int8, NULL, $12::text, $13::int4, $19::text, NULL, $14::text, $15::text, \
         $16::text, $20::int8, $23::text::jsonb, NULL, {debounce}, $17::text, $18::text"
    )
}

/// A debounced row's deadline and flag (the SDK's `Debouncer`): $28, $29 in a start, $24, $25 in a
/// child start (which has no inputs/outcome parameters).
const DEBOUNCE_ONE: &str = "$28::int8, COALESCE($29::bool, false)";
const DEBOUNCE_CHILD: &str = "$24::int8, COALESCE($25::bool, false)";

/// Columns a start reads back: the row's (NULL when the insert was refused), then the queue's
/// `partition_queue` (NULL when the queue has no row in `dbos.queues`).
const OUTCOME: &str = "ws.status, ws.name, ws.class_name, ws.config_name, ws.queue_name, \
     ws.creator_xid, ws.serialization, q.partitioned";

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        // The queue's row is read in the insert's own statement (no round trip of its own): an
        // enqueue without a partition key onto a partitioned queue is refused (no row would ever
        // be dequeued), and the caller learns whether the queue is registered at all.
        // `q` always has one row, so the final SELECT answers even when the insert was refused.
        let status_ctes = |completed_at: &str, debounce: &str| {
            let values = status_values(debounce);
            format!(
                "q AS (SELECT (SELECT partition_queue FROM {s}.queues WHERE name = $6::text) AS partitioned), \
                 ws AS (INSERT INTO {s}.workflow_status ({STATUS_COLUMNS}) \
                   SELECT {values}, {completed_at} FROM q \
                   WHERE q.partitioned IS NOT TRUE OR $19::text IS NOT NULL \
                   ON CONFLICT (workflow_uuid) DO UPDATE SET creator_xid = workflow_status.creator_xid \
                   RETURNING status, name, class_name, config_name, queue_name, creator_xid, serialization)"
            )
        };
        // One statement: the status row, and the input row (and the outcome's, for a finished
        // start) only if this call created the workflow.
        let one = |extra_cte: &str, extra_column: &str| {
            format!(
                "WITH {}, \
                 inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) \
                         SELECT $1::text, $24::text FROM ws WHERE ws.creator_xid = $16::text \
                         ON CONFLICT (workflow_uuid) DO NOTHING), \
                 outp AS (INSERT INTO {s}.workflow_output (workflow_uuid, output, error) \
                         SELECT $1::text, $26::text, $27::text FROM ws \
                         WHERE ws.creator_xid = $16::text AND $25::bool \
                         ON CONFLICT (workflow_uuid) DO NOTHING){extra_cte} \
                 SELECT {OUTCOME}{extra_column} FROM q LEFT JOIN ws ON true",
                status_ctes(
                    &format!("CASE WHEN $25::bool THEN {NOW_MS} END"),
                    DEBOUNCE_ONE
                )
            )
        };
        // The queues' rows under names no column of `input` has.
        let queue_rows = format!("(SELECT name AS queue, partition_queue FROM {s}.queues)");
        Sql {
            // Transactions, locks: one statement; a row already there is locked by the no-op
            // update (so a concurrent start of the same ID waits for this one, then finds its row).
            one: one("", ""),
            // Transactions, locks: as `one`, inside the caller's transaction (its locks are held
            // until the caller commits); the notification is delivered at that commit, or never.
            in_caller_tx: one(
                &format!(
                    ", n AS (SELECT pg_notify('{QUEUES_CHANNEL}', ws.queue_name) FROM ws \
                       WHERE ws.creator_xid = $16::text AND ws.queue_name IS NOT NULL)"
                ),
                // Read, so that the notifying CTE runs (a plain SELECT in WITH runs only if read).
                ", (SELECT count(*) FROM n) AS notified",
            ),
            // The same for many workflows at once (a batch with one ID twice fails and is run singly).
            // Transactions, locks: as `one`, for each row in input order.
            many: format!(
                "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                   $6::text[], $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::int4[], $12::text[], \
                   $13::text[], $14::text[], $15::text[], $16::text[], $20::bool[], $21::text[], $22::text[], \
                   $18::text[], $19::text[], $23::text[], $24::int8[], $25::text[], $26::text[], $27::text[], \
                   $28::int8[], $29::bool[]) \
                   WITH ORDINALITY AS u(id, status, name, class_name, config_name, queue_name, attempts, timeout_ms, \
                   deadline, dedup, priority, parent, serialization, token, owner, inputs, finished, output, \
                   error, app_version, app_name, partition_key, delay_until, auth_user, auth_roles, attributes, \
                   debounce_deadline, debounced, ord)), \
                 ws AS (INSERT INTO {s}.workflow_status ({STATUS_COLUMNS}) \
                   SELECT id, status, name, class_name, config_name, queue_name, COALESCE(auth_user, ''), '', \
                     COALESCE(auth_roles, '[]'), $17, app_version, '', attempts, timeout_ms, deadline, NULL, dedup, \
                     priority, partition_key, NULL, parent, serialization, token, delay_until, attributes::jsonb, \
                     NULL, debounce_deadline, COALESCE(debounced, false), app_name, owner, CASE WHEN finished THEN {NOW_MS} END \
                   FROM input LEFT JOIN {queue_rows} q ON q.queue = input.queue_name \
                   WHERE q.partition_queue IS NOT TRUE OR input.partition_key IS NOT NULL \
                   ORDER BY ord \
                   ON CONFLICT (workflow_uuid) DO UPDATE SET creator_xid = workflow_status.creator_xid \
                   RETURNING workflow_uuid, status, name, class_name, config_name, queue_name, creator_xid, serialization), \
                 inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) \
                   SELECT i.id, i.inputs FROM input i JOIN ws ON ws.workflow_uuid = i.id WHERE ws.creator_xid = i.token \
                   ON CONFLICT (workflow_uuid) DO NOTHING), \
                 outp AS (INSERT INTO {s}.workflow_output (workflow_uuid, output, error) \
                   SELECT i.id, i.output, i.error FROM input i JOIN ws ON ws.workflow_uuid = i.id \
                   WHERE ws.creator_xid = i.token AND i.finished \
                   ON CONFLICT (workflow_uuid) DO NOTHING) \
                 SELECT ws.status, ws.name, ws.class_name, ws.config_name, ws.queue_name, ws.creator_xid, \
                   ws.serialization, q.partition_queue \
                 FROM input i LEFT JOIN ws ON ws.workflow_uuid = i.id LEFT JOIN {queue_rows} q ON q.queue = i.queue_name \
                 ORDER BY i.ord"
            ),
            // Transactions, locks: the first statement of `start_child_workflow`'s transaction; it
            // locks the parent's status row (`FOR NO KEY UPDATE`) until the child's rows and the
            // parent's checkpoint commit, so a cancel or recovery of the parent waits for them.
            child_owner_check: format!(
                "SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR NO KEY UPDATE"
            ),
            child_insert: format!(
                "WITH {} SELECT {OUTCOME} FROM q LEFT JOIN ws ON true",
                status_ctes("NULL", DEBOUNCE_CHILD)
            ),
            child_input: format!(
                "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) VALUES ($1, $2) \
                 ON CONFLICT (workflow_uuid) DO NOTHING"
            ),
            // Transactions, locks: one read; the holder may finish (and free the ID) at any moment.
            dedup_holder: format!(
                "SELECT workflow_uuid FROM {s}.workflow_status \
                 WHERE queue_name = $1 AND deduplication_id = $2"
            ),
        }
    }
}

/// The outcome of a start from its `OUTCOME` row; a refused insert (a partitioned queue and no
/// partition key) is an error naming the queue.
pub(super) fn start_outcome(row: &Row, wf: &NewWorkflow) -> Result<StartOutcome> {
    let status: Option<String> = row.get(0);
    let partitioned: Option<bool> = row.get(7);
    let queue = wf.queue_name.as_deref();
    let Some(status) = status else {
        return Err(EngineError::invalid(format!(
            "Queue '{}' is partitioned: a workflow enqueued on it needs a queuePartitionKey \
             (without one it would never be dequeued). Nothing was enqueued.",
            queue.unwrap_or_default()
        )));
    };
    let creator: Option<String> = row.get(5);
    Ok(StartOutcome {
        should_execute: creator.as_deref() == Some(wf.token.as_str()),
        status,
        name: row.get::<_, Option<String>>(1).unwrap_or_default(),
        class_name: row.get(2),
        config_name: row.get(3),
        queue_name: row.get(4),
        serialization: row.get(6),
        queue_registered: queue.is_none() || partitioned.is_some(),
    })
}
