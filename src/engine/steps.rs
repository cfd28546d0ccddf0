//! Checkpoints (`operation_outputs`): the fenced insert that records a step, sleep marker or child
//! start, and the reads a replay needs.

use super::batch::{column, Batched};
use super::completion::{Completion, CompletionColumns};
use super::conn::Tx;
use super::db::{now_ms, Param};
use super::error::{EngineError, Result};
use super::fence::{
    complete_set, completes, insert_checkpoint, lock_many, same_checkpoint, save_output, Rule,
    NOW_MS,
};
use super::Engine;

#[derive(Debug, Clone, Default)]
pub struct NewCheckpoint {
    pub function_id: i32,
    pub name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub child_workflow_id: Option<String>,
    pub started_at: i64,
    pub completed_at: i64,
    pub serialization: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub function_id: i32,
    pub name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub child_workflow_id: Option<String>,
    pub serialization: Option<String>,
}

pub(crate) struct Sql {
    record: String,
    record_many: String,
    record_and_complete: String,
    load_all: String,
    load_one: String,
    pub(crate) load_many: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        // The pieces that record_many and record_and_complete share: the checkpoints as rows ($1..$10),
        // their fenced insert ($11: application name), and each one's owner and `ours`.
        let input = "input AS (SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::int8[], $8::int8[], $9::text[], $10::text[]) WITH ORDINALITY \
             AS u(workflow_uuid, function_id, output, error, function_name, child_workflow_id, \
             started_at, completed_at, serialization, token, ord))";
        let each = Rule::KeepsBeforeCancel {
            token: "i.token",
            completed_at: "i.completed_at",
        };
        let ins = format!(
            "ins AS ({})",
            insert_checkpoint(
                s,
                &format!(
                    "SELECT i.workflow_uuid, i.function_id, i.output, i.error, i.function_name, \
                     i.child_workflow_id, i.started_at, i.completed_at, i.serialization, $11, {NOW_MS} \
                     FROM input i JOIN owner o ON o.workflow_uuid = i.workflow_uuid AND {}",
                    each.admits("o")
                ),
                "workflow_uuid, function_id, function_name, output, error, started_at_epoch_ms, \
                 completed_at_epoch_ms"
            )
        );
        let verdicts = format!(
            "{} AS owner_xid, {} AS ours \
             FROM input i LEFT JOIN owner o ON o.workflow_uuid = i.workflow_uuid \
             LEFT JOIN ins ON ins.workflow_uuid = i.workflow_uuid AND ins.function_id = i.function_id",
            each.writer("o"),
            same_checkpoint(
                "ins.",
                "i.function_name",
                "i.output",
                "i.error",
                "i.started_at",
                "i.completed_at"
            )
        );
        let one = Rule::KeepsBeforeCancel {
            token: "$11",
            completed_at: "$8::int8",
        };
        Sql {
            // Owner check and insert in one statement (one round trip): see `fence` for its
            // transaction and lock (the status row, `FOR NO KEY UPDATE`).
            record: format!(
                "WITH {}, ins AS ({}) \
                 SELECT (SELECT {} FROM owner) AS owner_xid, (SELECT ours FROM ins)",
                one.lock(s, "$1"),
                insert_checkpoint(
                    s,
                    &format!(
                        "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {NOW_MS} FROM owner WHERE {}",
                        one.admits("owner")
                    ),
                    &format!(
                        "{} AS ours",
                        same_checkpoint("", "$5", "$3", "$4", "$7", "$8")
                    )
                ),
                one.writer("owner"),
            ),
            // The same for many checkpoints (of one or many workflows) at once.
            // Transactions, locks: one statement; the status rows of all its workflows, in key order.
            record_many: format!(
                "WITH {input}, {}, {ins} SELECT {verdicts} ORDER BY i.ord",
                lock_many(s, "SELECT workflow_uuid FROM input")
            ),
            // record_many, and the completions of workflows whose last writes these are: a workflow
            // completes only if each of its checkpoints here was recorded as ours, so the outcome
            // never commits ahead of, or without, the steps before it.
            // Transactions, locks: one statement; the status rows of the checkpoints' and the
            // completions' workflows, in key order, before any of them is written.
            record_and_complete: format!(
                "WITH {input}, \
                 done AS (SELECT * FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::text[]) \
                   WITH ORDINALITY AS d(workflow_uuid, status, token, output, error, ord)), \
                 {}, {ins}, \
                 verdict AS (SELECT i.ord, i.workflow_uuid, {verdicts}), \
                 upd AS (UPDATE {s}.workflow_status ws SET {} FROM done d \
                   WHERE ws.workflow_uuid = d.workflow_uuid AND {} \
                   AND NOT EXISTS (SELECT 1 FROM verdict v WHERE v.workflow_uuid = d.workflow_uuid AND v.ours IS NOT TRUE) \
                   RETURNING ws.workflow_uuid, ws.queue_name), \
                 outp AS ({}) \
                 SELECT owner_xid, ours, false AS completion, ord, NULL::bool FROM verdict \
                 UNION ALL \
                 SELECT NULL, upd.workflow_uuid IS NOT NULL, true, d.ord, upd.queue_name IS NOT NULL FROM done d \
                   LEFT JOIN upd ON upd.workflow_uuid = d.workflow_uuid \
                 ORDER BY 3, 4",
                lock_many(
                    s,
                    "SELECT workflow_uuid FROM input UNION SELECT workflow_uuid FROM done"
                ),
                complete_set("d.status", "$17"),
                completes("ws", "d.token"),
                save_output(
                    s,
                    "SELECT d.workflow_uuid, d.output, d.error FROM done d JOIN upd ON upd.workflow_uuid = d.workflow_uuid"
                ),
            ),
            load_all: format!(
                "SELECT function_id, function_name, output, error, child_workflow_id, serialization \
                 FROM {s}.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id"
            ),
            // Every checkpoint of several workflows (the rows a claim just took), by workflow then function.
            load_many: format!(
                "SELECT function_id, function_name, output, error, child_workflow_id, serialization, workflow_uuid \
                 FROM {s}.operation_outputs WHERE workflow_uuid = ANY($1) ORDER BY workflow_uuid, function_id"
            ),
            load_one: format!(
                "SELECT function_id, function_name, output, error, child_workflow_id, serialization \
                 FROM {s}.operation_outputs WHERE workflow_uuid = $1 AND function_id = $2"
            ),
        }
    }
}

/// One checkpoint waiting in the group commit.
pub(crate) struct CheckpointWrite {
    pub(crate) workflow_id: String,
    pub(crate) token: String,
    pub(crate) cp: NewCheckpoint,
    pub(crate) conflict_check: bool,
}

fn nondeterminism(workflow_id: &str, cp: &NewCheckpoint) -> EngineError {
    EngineError::step_taken(workflow_id, cp.function_id, &cp.name)
}

/// The verdict on one checkpoint insert: fenced out, slot taken by another execution, or recorded.
fn verdict(
    owner: Option<&str>,
    ours: Option<bool>,
    workflow_id: &str,
    token: &str,
    cp: &NewCheckpoint,
    conflict_check: bool,
) -> Result<()> {
    if owner != Some(token) {
        return Err(EngineError::conflict(workflow_id));
    }
    if conflict_check && ours != Some(true) {
        return Err(nondeterminism(workflow_id, cp));
    }
    Ok(())
}

/// `load_many`'s rows, by workflow ID (ordered by function ID within each).
pub(crate) fn checkpoints_by_workflow(
    rows: &[tokio_postgres::Row],
) -> std::collections::HashMap<String, Vec<Checkpoint>> {
    let mut by: std::collections::HashMap<String, Vec<Checkpoint>> = Default::default();
    for r in rows {
        by.entry(r.get(6)).or_default().push(checkpoint_from(r));
    }
    by
}

fn checkpoint_from(r: &tokio_postgres::Row) -> Checkpoint {
    Checkpoint {
        function_id: r.get(0),
        name: r.get(1),
        output: r.get(2),
        error: r.get(3),
        child_workflow_id: r.get(4),
        serialization: r.get(5),
    }
}

impl Engine {
    /// Records a checkpoint for a workflow this execution owns (`token`). With `conflict_check`, finding
    /// the slot already taken is a nondeterminism error; without it (sleep markers) the existing row wins.
    /// Concurrent checkpoints share a statement; one caller's checkpoints commit in the order given.
    pub async fn record_checkpoint(
        &self,
        workflow_id: &str,
        token: &str,
        cp: &NewCheckpoint,
        conflict_check: bool,
    ) -> Result<()> {
        let write = CheckpointWrite {
            workflow_id: workflow_id.to_string(),
            token: token.to_string(),
            cp: cp.clone(),
            conflict_check,
        };
        self.groups.checkpoints.submit(self, write).await
    }

    /// The same fenced insert inside a caller's transaction (a child start records its parent's checkpoint).
    pub(crate) async fn insert_checkpoint_in(
        &self,
        tx: &Tx<'_>,
        workflow_id: &str,
        token: &str,
        cp: &NewCheckpoint,
        conflict_check: bool,
    ) -> Result<()> {
        let stmt = tx.prepare_cached(&self.sql.steps.record).await?;
        let row = tx
            .query_one(&stmt, &self.checkpoint_params(&workflow_id, &token, cp))
            .await?;
        checkpoint_verdict(&row, workflow_id, token, cp, conflict_check)
    }

    /// The parameters of `Sql::record`.
    fn checkpoint_params<'a>(
        &'a self,
        workflow_id: &'a &'a str,
        token: &'a &'a str,
        cp: &'a NewCheckpoint,
    ) -> [Param<'a>; 11] {
        [
            workflow_id,
            &cp.function_id,
            &cp.output,
            &cp.error,
            &cp.name,
            &cp.child_workflow_id,
            &cp.started_at,
            &cp.completed_at,
            &cp.serialization,
            &self.identity.app_name,
            token,
        ]
    }

    /// Every checkpoint of a workflow, for replay after recovery (one query, then replay from memory).
    pub async fn load_checkpoints(&self, workflow_id: &str) -> Result<Vec<Checkpoint>> {
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.steps.load_all).await?;
            let rows = client.query(&stmt, &[&workflow_id]).await?;
            Ok(rows.iter().map(checkpoint_from).collect())
        })
        .await
    }

    pub async fn get_checkpoint(
        &self,
        workflow_id: &str,
        function_id: i32,
    ) -> Result<Option<Checkpoint>> {
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.steps.load_one).await?;
            let row = client
                .query_opt(&stmt, &[&workflow_id, &function_id])
                .await?;
            Ok(row.as_ref().map(checkpoint_from))
        })
        .await
    }
}

/// Checkpoints as columns of `record_many` / `record_and_complete` ($1..$10).
struct CheckpointColumns<'a> {
    ids: Vec<&'a str>,
    fids: Vec<i32>,
    outputs: Vec<Option<&'a str>>,
    errors: Vec<Option<&'a str>>,
    names: Vec<&'a str>,
    children: Vec<Option<&'a str>>,
    started: Vec<i64>,
    completed: Vec<i64>,
    formats: Vec<Option<&'a str>>,
    tokens: Vec<&'a str>,
}

impl<'a> CheckpointColumns<'a> {
    fn of(items: &'a [CheckpointWrite]) -> Self {
        CheckpointColumns {
            ids: column(items, |w| w.workflow_id.as_str()),
            fids: column(items, |w| w.cp.function_id),
            outputs: column(items, |w| w.cp.output.as_deref()),
            errors: column(items, |w| w.cp.error.as_deref()),
            names: column(items, |w| w.cp.name.as_str()),
            children: column(items, |w| w.cp.child_workflow_id.as_deref()),
            started: column(items, |w| w.cp.started_at),
            completed: column(items, |w| w.cp.completed_at),
            formats: column(items, |w| w.cp.serialization.as_deref()),
            tokens: column(items, |w| w.token.as_str()),
        }
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.ids,
            &self.fids,
            &self.outputs,
            &self.errors,
            &self.names,
            &self.children,
            &self.started,
            &self.completed,
            &self.formats,
            &self.tokens,
        ]
    }
}

fn verdict_of(row: &tokio_postgres::Row, w: &CheckpointWrite) -> Result<()> {
    let owner: Option<String> = row.get(0);
    verdict(
        owner.as_deref(),
        row.get(1),
        &w.workflow_id,
        &w.token,
        &w.cp,
        w.conflict_check,
    )
}

impl Engine {
    /// Checkpoints and completions in one statement (see `record_and_complete` in `Sql`): one verdict
    /// per checkpoint, and per completion whether it was recorded.
    pub(crate) async fn record_and_complete(
        &self,
        items: &[CheckpointWrite],
        done: &[Completion],
    ) -> Result<(Vec<Result<()>>, Vec<bool>)> {
        let cps = CheckpointColumns::of(items);
        let completions = CompletionColumns::of(done);
        let now = now_ms();
        let mut params = cps.params().to_vec();
        params.push(&self.identity.app_name);
        params.extend(completions.params());
        params.push(&now);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&self.sql.steps.record_and_complete)
            .await?;
        let rows = client.query(&stmt, &params).await?;
        let (completions, checkpoints): (Vec<_>, Vec<_>) =
            rows.iter().partition(|r| r.get::<_, bool>(2));
        if checkpoints.len() != items.len() || completions.len() != done.len() {
            return Err(EngineError::too_few_results());
        }
        let won: Vec<bool> = completions
            .iter()
            .map(|r| r.get::<_, Option<bool>>(1) == Some(true))
            .collect();
        self.done_notices.send(
            completions
                .iter()
                .zip(done)
                .zip(&won)
                .filter(|((r, _), won)| **won && r.get::<_, Option<bool>>(4) == Some(true))
                .map(|((_, c), _)| c.workflow_id.clone()),
        );
        Ok((
            checkpoints
                .iter()
                .zip(items)
                .map(|(row, w)| verdict_of(row, w))
                .collect(),
            won,
        ))
    }
}

impl Batched<CheckpointWrite, ()> for Engine {
    async fn one(&self, w: &CheckpointWrite) -> Result<()> {
        self.retrying(|| async {
            let (client, stmt) = self.prepared(&self.sql.steps.record).await?;
            let (workflow_id, token) = (w.workflow_id.as_str(), w.token.as_str());
            let row = client
                .query_one(&stmt, &self.checkpoint_params(&workflow_id, &token, &w.cp))
                .await?;
            checkpoint_verdict(&row, workflow_id, token, &w.cp, w.conflict_check)
        })
        .await
    }

    async fn many(&self, items: &[CheckpointWrite]) -> Result<Vec<Result<()>>> {
        let cps = CheckpointColumns::of(items);
        let mut params = cps.params().to_vec();
        params.push(&self.identity.app_name);
        let client = self.client().await?;
        let stmt = client.prepare_cached(&self.sql.steps.record_many).await?;
        let rows = client.query(&stmt, &params).await?;
        Ok(rows
            .iter()
            .zip(items)
            .map(|(row, w)| verdict_of(row, w))
            .collect())
    }
}

/// What the fenced insert's row says (see `verdict`).
fn checkpoint_verdict(
    row: &tokio_postgres::Row,
    workflow_id: &str,
    token: &str,
    cp: &NewCheckpoint,
    conflict_check: bool,
) -> Result<()> {
    let owner: Option<String> = row.get(0);
    verdict(
        owner.as_deref(),
        row.get(1),
        workflow_id,
        token,
        cp,
        conflict_check,
    )
}
