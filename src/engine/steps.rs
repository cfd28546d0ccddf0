//! Checkpoints (`operation_outputs`): the fenced insert that records a step, sleep marker or child
//! start, and the reads a replay needs.

use tokio_postgres::GenericClient;

use super::batch::{column, Batched};
use super::error::{EngineError, ErrorCode, Result};
use super::Engine;

/// The columns of a checkpoint insert, for statements that record one beside other writes.
pub(crate) const CHECKPOINT_COLUMNS: &str = "workflow_uuid, function_id, output, error, function_name, child_workflow_id, \
     started_at_epoch_ms, completed_at_epoch_ms, serialization, application_name, retention_timestamp";
/// `retention_timestamp` as the SDK writes it: the server clock at the checkpoint transaction.
pub(crate) const NOW_MS: &str = "(EXTRACT(EPOCH FROM now()) * 1000)::bigint";

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
    load_all: String,
    load_one: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Sql {
            // Owner check and insert in one statement (one round trip, one implicit transaction): the
            // row lock on the status row orders us against recovery or cancellation rewriting owner_xid.
            // `ours`: the slot holds exactly what we wrote (fresh, or committed by an attempt whose
            // reply was lost, down to the millisecond timestamps); otherwise another execution wrote it.
            record: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR NO KEY UPDATE), \
                 ins AS (INSERT INTO {s}.operation_outputs (workflow_uuid, function_id, output, error, function_name, \
                   child_workflow_id, started_at_epoch_ms, completed_at_epoch_ms, serialization, application_name, \
                   retention_timestamp) \
                   SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (EXTRACT(EPOCH FROM now()) * 1000)::bigint \
                   FROM owner WHERE owner.owner_xid = $11 \
                   ON CONFLICT (workflow_uuid, function_id) \
                   DO UPDATE SET completed_at_epoch_ms = operation_outputs.completed_at_epoch_ms \
                   RETURNING (function_name = $5 AND output IS NOT DISTINCT FROM $3 \
                     AND error IS NOT DISTINCT FROM $4 AND started_at_epoch_ms IS NOT DISTINCT FROM $7 \
                     AND completed_at_epoch_ms IS NOT DISTINCT FROM $8) AS ours) \
                 SELECT (SELECT owner_xid FROM owner) AS owner_xid, (SELECT ours FROM ins)"
            ),
            // The same for many checkpoints (of one or many workflows) at once: the status rows are
            // locked in key order so that two batches can never wait on each other in a cycle.
            record_many: format!(
                "WITH input AS (SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
                   $6::text[], $7::int8[], $8::int8[], $9::text[], $10::text[]) WITH ORDINALITY \
                   AS u(workflow_uuid, function_id, output, error, function_name, child_workflow_id, \
                   started_at, completed_at, serialization, token, ord)), \
                 owner AS (SELECT workflow_uuid, owner_xid FROM {s}.workflow_status \
                   WHERE workflow_uuid IN (SELECT workflow_uuid FROM input) ORDER BY workflow_uuid FOR NO KEY UPDATE), \
                 ins AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT i.workflow_uuid, i.function_id, i.output, i.error, i.function_name, i.child_workflow_id, \
                     i.started_at, i.completed_at, i.serialization, $11, {NOW_MS} \
                   FROM input i JOIN owner o ON o.workflow_uuid = i.workflow_uuid AND o.owner_xid = i.token \
                   ON CONFLICT (workflow_uuid, function_id) \
                   DO UPDATE SET completed_at_epoch_ms = operation_outputs.completed_at_epoch_ms \
                   RETURNING workflow_uuid, function_id, function_name, output, error, started_at_epoch_ms, \
                     completed_at_epoch_ms) \
                 SELECT o.owner_xid, (ins.function_name = i.function_name AND ins.output IS NOT DISTINCT FROM i.output \
                     AND ins.error IS NOT DISTINCT FROM i.error AND ins.started_at_epoch_ms IS NOT DISTINCT FROM i.started_at \
                     AND ins.completed_at_epoch_ms IS NOT DISTINCT FROM i.completed_at) AS ours \
                 FROM input i LEFT JOIN owner o ON o.workflow_uuid = i.workflow_uuid \
                 LEFT JOIN ins ON ins.workflow_uuid = i.workflow_uuid AND ins.function_id = i.function_id \
                 ORDER BY i.ord"
            ),
            load_all: format!(
                "SELECT function_id, function_name, output, error, child_workflow_id, serialization \
                 FROM {s}.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id"
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
    EngineError::new(
        ErrorCode::StepNondeterminism,
        format!(
            "Workflow {workflow_id}: a checkpoint for step {} ({}) was already recorded by another execution",
            cp.function_id, cp.name
        ),
    )
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
        self.groups
            .checkpoints
            .submit(write, |batch| self.run_batch(batch))
            .await
    }

    /// The same fenced insert inside a caller's transaction (a child start records its parent's checkpoint).
    pub(crate) async fn insert_checkpoint_in(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        workflow_id: &str,
        token: &str,
        cp: &NewCheckpoint,
        conflict_check: bool,
    ) -> Result<()> {
        let stmt = tx.prepare_cached(&self.sql.steps.record).await?;
        self.insert_checkpoint(&**tx, &stmt, workflow_id, token, cp, conflict_check)
            .await
    }

    async fn insert_checkpoint<C: GenericClient>(
        &self,
        client: &C,
        stmt: &tokio_postgres::Statement,
        workflow_id: &str,
        token: &str,
        cp: &NewCheckpoint,
        conflict_check: bool,
    ) -> Result<()> {
        let row = client
            .query_one(
                stmt,
                &[
                    &workflow_id,
                    &cp.function_id,
                    &cp.output,
                    &cp.error,
                    &cp.name,
                    &cp.child_workflow_id,
                    &cp.started_at,
                    &cp.completed_at,
                    &cp.serialization,
                    &self.identity.app_name,
                    &token,
                ],
            )
            .await?;
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

impl Batched<CheckpointWrite, ()> for Engine {
    async fn one(&self, w: &CheckpointWrite) -> Result<()> {
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.steps.record).await?;
            self.insert_checkpoint(
                &**client,
                &stmt,
                &w.workflow_id,
                &w.token,
                &w.cp,
                w.conflict_check,
            )
            .await
        })
        .await
    }

    async fn many(&self, items: &[CheckpointWrite]) -> Result<Vec<Result<()>>> {
        let ids = column(items, |w| w.workflow_id.as_str());
        let fids = column(items, |w| w.cp.function_id);
        let outputs = column(items, |w| w.cp.output.as_deref());
        let errors = column(items, |w| w.cp.error.as_deref());
        let names = column(items, |w| w.cp.name.as_str());
        let children = column(items, |w| w.cp.child_workflow_id.as_deref());
        let started = column(items, |w| w.cp.started_at);
        let completed = column(items, |w| w.cp.completed_at);
        let formats = column(items, |w| w.cp.serialization.as_deref());
        let tokens = column(items, |w| w.token.as_str());
        let client = self.client().await?;
        let stmt = client.prepare_cached(&self.sql.steps.record_many).await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &ids,
                    &fids,
                    &outputs,
                    &errors,
                    &names,
                    &children,
                    &started,
                    &completed,
                    &formats,
                    &tokens,
                    &self.identity.app_name,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .zip(items)
            .map(|(row, w)| {
                let owner: Option<String> = row.get(0);
                verdict(
                    owner.as_deref(),
                    row.get(1),
                    &w.workflow_id,
                    &w.token,
                    &w.cp,
                    w.conflict_check,
                )
            })
            .collect())
    }
}
