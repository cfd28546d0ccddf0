//! Fenced writes: the SQL every statement that writes for a running workflow is built from. Such a
//! statement locks the workflow's status row (`Rule::lock`, `lock_many`), writes only if the fence
//! `admits` the execution's token, and reports the row's owner (`writer`) so that the caller can tell
//! a fenced-out write from a recorded one. The row lock orders the write against whatever rewrites
//! `owner_xid` (recovery, a claim, a cancel, a completion). A checkpoint insert (`insert_checkpoint`)
//! keeps the row already in its slot and returns it, and `same_checkpoint` is the verdict on it: the
//! slot holds exactly this write (fresh, or committed by an attempt whose reply was lost, down to the
//! millisecond timestamps), or another execution's.
//!
//! Transactions, locks: each statement built here is one statement, so one implicit transaction
//! unless its caller opens one. The owner CTE takes `FOR NO KEY UPDATE` on the status row(s), held to
//! commit: an UPDATE of the row and every other row lock wait for it, except the `FOR KEY SHARE` that
//! inserts referencing the row (checkpoints, messages, events, streams) take. Batches lock their rows
//! in key order so that two batches never wait on each other in a cycle.

use super::status::Status;

/// The status-row columns the cancel rule reads; the CTE that locks the row selects them.
pub(crate) const OWNER_COLUMNS: &str = "owner_xid, status, completed_at";

/// The columns of a checkpoint insert, for statements that record one beside other writes.
pub(crate) const CHECKPOINT_COLUMNS: &str = "workflow_uuid, function_id, output, error, function_name, child_workflow_id, \
     started_at_epoch_ms, completed_at_epoch_ms, serialization, application_name, retention_timestamp";

/// The server clock in epoch ms: `retention_timestamp` as the SDK writes it (the checkpoint
/// transaction's time), and a row written finished gets the same `completed_at` as the status table's
/// `created_at` default.
pub(crate) const NOW_MS: &str = "(EXTRACT(EPOCH FROM now()) * 1000)::bigint";

/// The checkpoint a write of workflow code (a send, a setEvent, a stream write) records for itself:
/// no output, no error. Its fields are SQL expressions.
pub(crate) struct OwnCheckpoint<'a> {
    pub(crate) workflow_id: &'a str,
    pub(crate) function_id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) started_at: &'a str,
    pub(crate) completed_at: &'a str,
    pub(crate) app_name: &'a str,
}

/// Which executions a fenced write admits. Arguments are SQL expressions (parameters or columns).
#[derive(Clone, Copy)]
pub(crate) enum Rule<'a> {
    /// Only the owner, the execution holding `token`: sends and events of workflow code, recv's
    /// consume, writes from steps. These run while their workflow waits on them.
    Owner { token: &'a str },
    /// The owner, and also writes queued behind a workflow that a cancel overtook: checkpoints and
    /// workflow-code stream writes, whose operation finished at `completed_at` (epoch ms).
    ///
    /// A cancel (ours, the SDK's, the DBOS CLI's, a timeout) clears the owner and stamps
    /// `completed_at` with its own time; writes behind their workflow may still be queued then. A
    /// cancel is not a crash: what finished before it is kept, so a resumed run does not do it again.
    /// Only a cancelled row with no owner admits these, and only operations that finished no later
    /// than the cancel (both stamps from one host's clock, or within the clocks' skew across hosts);
    /// once the row is resumed (ENQUEUED, then a new owner), late writes of the old run are refused
    /// again, since the new run may already have replayed past them.
    KeepsBeforeCancel {
        token: &'a str,
        completed_at: &'a str,
    },
}

impl Rule<'_> {
    /// The status-row columns `admits` and `writer` read.
    fn columns(&self) -> &'static str {
        match self {
            Rule::Owner { .. } => "owner_xid",
            Rule::KeepsBeforeCancel { .. } => OWNER_COLUMNS,
        }
    }

    /// `owner AS (...)`: locks the status row of workflow `id` for the rest of the transaction.
    /// No row (no such workflow) admits nothing.
    pub(crate) fn lock(&self, s: &str, id: &str) -> String {
        format!(
            "owner AS (SELECT {} FROM {s}.workflow_status WHERE workflow_uuid = {id} FOR NO KEY UPDATE)",
            self.columns()
        )
    }

    /// `owner AS (...), ck AS (...)`: locks the status row of `ck`'s workflow and inserts `ck` if this
    /// rule admits the write. `ck` yields `fresh` (this statement took the slot: the write itself
    /// goes ahead only then) and `ours` (the slot holds exactly this write: the verdict on it).
    pub(crate) fn lock_and_record(&self, s: &str, ck: &OwnCheckpoint) -> String {
        let OwnCheckpoint {
            workflow_id,
            function_id,
            name,
            started_at,
            completed_at,
            app_name,
        } = ck;
        format!(
            "{}, ck AS ({})",
            self.lock(s, workflow_id),
            insert_checkpoint(
                s,
                &format!(
                    "SELECT {workflow_id}, {function_id}, NULL, NULL, {name}, NULL, {started_at}, \
                     {completed_at}, 'portable_json', {app_name}, {NOW_MS} FROM owner WHERE {}",
                    self.admits("owner")
                ),
                &format!(
                    "(xmax = 0) AS fresh, {} AS ours",
                    same_checkpoint("", name, "NULL", "NULL", started_at, completed_at)
                )
            )
        )
    }

    /// SQL that is true when the locked status row `o` lets this write in.
    pub(crate) fn admits(&self, o: &str) -> String {
        match self {
            Rule::Owner { token } => format!("({o}.owner_xid = {token})"),
            Rule::KeepsBeforeCancel {
                token,
                completed_at,
            } => format!(
                "({o}.owner_xid = {token} OR ({o}.owner_xid IS NULL AND {o}.status = {} \
                 AND {completed_at} <= {o}.completed_at))",
                Status::Cancelled.sql()
            ),
        }
    }

    /// The owner a write's verdict compares with its token: the token itself when `admits` let it in.
    pub(crate) fn writer(&self, o: &str) -> String {
        match self {
            Rule::Owner { .. } => format!("{o}.owner_xid"),
            Rule::KeepsBeforeCancel { token, .. } => {
                format!(
                    "CASE WHEN {} THEN {token} ELSE {o}.owner_xid END",
                    self.admits(o)
                )
            }
        }
    }
}

/// `owner AS (...)` for a batch: locks the status rows of the workflows `ids` (a subquery) in key
/// order, with their `workflow_uuid` and the columns of `Rule::KeepsBeforeCancel`.
pub(crate) fn lock_many(s: &str, ids: &str) -> String {
    format!(
        "owner AS (SELECT workflow_uuid, {OWNER_COLUMNS} FROM {s}.workflow_status \
         WHERE workflow_uuid IN ({ids}) ORDER BY workflow_uuid FOR NO KEY UPDATE)"
    )
}

/// Inserts checkpoints (`rows`: a SELECT of `CHECKPOINT_COLUMNS`, fenced by its caller). A slot
/// already taken keeps its row; the no-op update makes RETURNING yield that row (locked) too, so that
/// `same_checkpoint` can judge it.
pub(crate) fn insert_checkpoint(s: &str, rows: &str, returning: &str) -> String {
    format!(
        "INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) {rows} \
         ON CONFLICT (workflow_uuid, function_id) \
         DO UPDATE SET completed_at_epoch_ms = operation_outputs.completed_at_epoch_ms \
         RETURNING {returning}"
    )
}

/// The verdict on a checkpoint row (its columns qualified by `q`, e.g. `ins.`, or `""`): true when it
/// holds exactly the write described by the other arguments (SQL expressions).
pub(crate) fn same_checkpoint(
    q: &str,
    name: &str,
    output: &str,
    error: &str,
    started_at: &str,
    completed_at: &str,
) -> String {
    format!(
        "({q}function_name = {name} AND {q}output IS NOT DISTINCT FROM {output} \
         AND {q}error IS NOT DISTINCT FROM {error} AND {q}started_at_epoch_ms IS NOT DISTINCT FROM {started_at} \
         AND {q}completed_at_epoch_ms IS NOT DISTINCT FROM {completed_at})"
    )
}

/// The SET list that completes a workflow with `status` at `at` (epoch ms) and releases its owner.
pub(crate) fn complete_set(status: &str, at: &str) -> String {
    format!(
        "status = {status}, updated_at = {at}, deduplication_id = NULL, completed_at = {at}, owner_xid = NULL"
    )
}

/// The fence of a completion: the row `ws` is still running (PENDING) and owned by `token`.
pub(crate) fn completes(ws: &str, token: &str) -> String {
    format!(
        "{ws}.status = {} AND {ws}.owner_xid = {token}",
        Status::Pending.sql()
    )
}

/// Stores a completed workflow's outcome (`rows`: a SELECT of workflow_uuid, output, error).
pub(crate) fn save_output(s: &str, rows: &str) -> String {
    format!(
        "INSERT INTO {s}.workflow_output (workflow_uuid, output, error) {rows} \
         ON CONFLICT (workflow_uuid) DO UPDATE SET output = EXCLUDED.output, error = EXCLUDED.error"
    )
}
