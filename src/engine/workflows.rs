//! Workflow rows: the start insert with its creator/owner tokens, child starts, completion with
//! ownership fencing, status reads and result polling.

use std::time::Duration;

use tokio_postgres::Row;

use super::batch::{column, Batched};
use super::completion::Completion;
use super::db::now_ms;
use super::error::{EngineError, Result};
use super::fence::{complete_set, completes, save_output, NOW_MS};
use super::status::Status;
use super::Engine;

/// A workflow row to insert (a direct start writes PENDING and owns it; an enqueue writes ENQUEUED).
#[derive(Debug, Clone, Default)]
pub struct NewWorkflow {
    pub workflow_id: String,
    pub status: String,
    pub name: String,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub queue_name: Option<String>,
    pub inputs: String,
    pub serialization: Option<String>,
    /// A fresh random token: creator_xid always, owner_xid too when the row starts PENDING.
    pub token: String,
    pub timeout_ms: Option<i64>,
    pub deadline_epoch_ms: Option<i64>,
    pub parent_workflow_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub priority: i32,
    /// A start written with its outcome (SUCCESS or ERROR: a held start whose workflow finished
    /// before it needed its row): the outcome's output or error.
    pub output: Option<String>,
    pub error: Option<String>,
}

impl NewWorkflow {
    /// Runs in this process from the start: counts its first attempt (an enqueued row has none yet).
    fn runs_here(&self) -> bool {
        self.status != Status::Enqueued.as_str()
    }

    /// Owned by its starter until it finishes (PENDING).
    fn owner(&self) -> Option<&str> {
        (self.status == Status::Pending.as_str()).then_some(self.token.as_str())
    }

    fn finished(&self) -> bool {
        is_terminal(&self.status)
    }
}

/// What the row holds after a start: ours if `should_execute`, or the one an earlier start wrote.
#[derive(Debug, Clone)]
pub struct StartOutcome {
    pub should_execute: bool,
    pub status: String,
    pub name: String,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub queue_name: Option<String>,
    pub serialization: Option<String>,
}

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
    start: String,
    start_many: String,
    child_owner_check: String,
    child_insert: String,
    child_input: String,
    complete: String,
    complete_many: String,
    status: String,
    outcome: String,
}

const STATUS_COLUMNS: &str = "ws.workflow_uuid, ws.status, ws.name, ws.class_name, ws.config_name, \
    ws.authenticated_user, ws.assumed_role, ws.authenticated_roles, \
    COALESCE(o.output, ws.output) AS output, COALESCE(o.error, ws.error) AS error, \
    COALESCE(i.inputs, ws.inputs) AS inputs, ws.executor_id, ws.application_version, ws.application_id, \
    ws.application_name, ws.created_at, ws.updated_at, ws.completed_at, ws.started_at_epoch_ms, \
    ws.recovery_attempts, ws.queue_name, ws.workflow_timeout_ms, ws.workflow_deadline_epoch_ms, \
    ws.deduplication_id, ws.priority, ws.queue_partition_key, ws.forked_from, ws.parent_workflow_id, \
    ws.serialization, ws.was_forked_from";

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        // $1 id, $2 status, $3 name, $4 class, $5 config, $6 queue, $7 executor, $8 app version,
        // $9 recovery_attempts, $10 timeout, $11 deadline, $12 dedup, $13 priority, $14 parent,
        // $15 serialization, $16 creator token, $17 app name, $18 owner token, then (start only)
        // $19 inputs, $20 finished (the row is written with its outcome), $21 output, $22 error
        let insert_status = |completed_at: &str| {
            format!(
            "INSERT INTO {s}.workflow_status (workflow_uuid, status, name, class_name, config_name, \
             queue_name, authenticated_user, assumed_role, authenticated_roles, executor_id, \
             application_version, application_id, recovery_attempts, workflow_timeout_ms, \
             workflow_deadline_epoch_ms, inputs, deduplication_id, priority, queue_partition_key, \
             forked_from, parent_workflow_id, serialization, creator_xid, delay_until_epoch_ms, \
             attributes, schedule_name, debounce_deadline_epoch_ms, is_debounced, application_name, owner_xid, \
             completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, '', '', '[]', $7, $8, '', $9, $10, $11, NULL, $12, $13, NULL, \
             NULL, $14, $15, $16, NULL, NULL, NULL, NULL, false, $17, $18, {completed_at}) \
             ON CONFLICT (workflow_uuid) DO UPDATE SET creator_xid = workflow_status.creator_xid \
             RETURNING status, name, class_name, config_name, queue_name, creator_xid, serialization"
        )
        };
        Sql {
            // One statement: the status row, and the input row (and the outcome's, for a finished
            // start) only if this call created the workflow.
            // Transactions, locks: one statement; a row already there is locked by the no-op
            // update (so a concurrent start of the same ID waits for this one, then finds its row).
            start: format!(
                "WITH ws AS ({}), \
                 inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) \
                         SELECT $1, $19 FROM ws WHERE ws.creator_xid = $16 ON CONFLICT (workflow_uuid) DO NOTHING), \
                 outp AS (INSERT INTO {s}.workflow_output (workflow_uuid, output, error) \
                         SELECT $1, $21, $22 FROM ws WHERE ws.creator_xid = $16 AND $20::bool \
                         ON CONFLICT (workflow_uuid) DO NOTHING) \
                 SELECT status, name, class_name, config_name, queue_name, creator_xid, serialization FROM ws",
                insert_status(&format!("CASE WHEN $20::bool THEN {NOW_MS} END"))
            ),
            // The same for many workflows at once (a batch with one ID twice fails and is run singly).
            // Transactions, locks: as `start`, for each row in input order.
            start_many: format!(
                "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                   $6::text[], $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::int4[], $12::text[], \
                   $13::text[], $14::text[], $15::text[], $16::text[], $20::bool[], $21::text[], $22::text[]) \
                   WITH ORDINALITY AS u(id, status, name, class_name, config_name, queue_name, attempts, timeout_ms, \
                   deadline, dedup, priority, parent, serialization, token, owner, inputs, finished, output, \
                   error, ord)), \
                 ws AS (INSERT INTO {s}.workflow_status (workflow_uuid, status, name, class_name, config_name, \
                   queue_name, authenticated_user, assumed_role, authenticated_roles, executor_id, \
                   application_version, application_id, recovery_attempts, workflow_timeout_ms, \
                   workflow_deadline_epoch_ms, inputs, deduplication_id, priority, queue_partition_key, \
                   forked_from, parent_workflow_id, serialization, creator_xid, delay_until_epoch_ms, \
                   attributes, schedule_name, debounce_deadline_epoch_ms, is_debounced, application_name, owner_xid, \
                   completed_at) \
                   SELECT id, status, name, class_name, config_name, queue_name, '', '', '[]', $17, $18, '', \
                     attempts, timeout_ms, deadline, NULL, dedup, priority, NULL, NULL, parent, serialization, token, \
                     NULL, NULL, NULL, NULL, false, $19, owner, CASE WHEN finished THEN {NOW_MS} END \
                   FROM input ORDER BY ord \
                   ON CONFLICT (workflow_uuid) DO UPDATE SET creator_xid = workflow_status.creator_xid \
                   RETURNING workflow_uuid, status, name, class_name, config_name, queue_name, creator_xid, serialization), \
                 inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) \
                   SELECT i.id, i.inputs FROM input i JOIN ws ON ws.workflow_uuid = i.id WHERE ws.creator_xid = i.token \
                   ON CONFLICT (workflow_uuid) DO NOTHING), \
                 outp AS (INSERT INTO {s}.workflow_output (workflow_uuid, output, error) \
                   SELECT i.id, i.output, i.error FROM input i JOIN ws ON ws.workflow_uuid = i.id \
                   WHERE ws.creator_xid = i.token AND i.finished \
                   ON CONFLICT (workflow_uuid) DO NOTHING) \
                 SELECT ws.status, ws.name, ws.class_name, ws.config_name, ws.queue_name, ws.creator_xid, ws.serialization \
                 FROM input i JOIN ws ON ws.workflow_uuid = i.id ORDER BY i.ord"
            ),
            // Transactions, locks: the first statement of `start_child_workflow`'s transaction; it
            // locks the parent's status row (`FOR NO KEY UPDATE`) until the child's rows and the
            // parent's checkpoint commit, so a cancel or recovery of the parent waits for them.
            child_owner_check: format!(
                "SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR NO KEY UPDATE"
            ),
            child_insert: insert_status("NULL"),
            child_input: format!(
                "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) VALUES ($1, $2) \
                 ON CONFLICT (workflow_uuid) DO NOTHING"
            ),
            // Transactions, locks: one statement; the UPDATE locks the status row (FOR NO KEY UPDATE
            // strength) and, finding it no longer ours, writes nothing.
            complete: format!(
                "WITH upd AS (UPDATE {s}.workflow_status ws SET {} \
                   WHERE ws.workflow_uuid = $1 AND {} RETURNING ws.workflow_uuid), \
                 outp AS ({}) \
                 SELECT count(*) FROM upd",
                complete_set("$2", "$4"),
                completes("ws", "$3"),
                save_output(s, "SELECT workflow_uuid, $5, $6 FROM upd"),
            ),
            // The same for many workflows; each row is locked as the UPDATE reaches it.
            complete_many: format!(
                "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                   WITH ORDINALITY AS u(id, status, token, output, error, ord)), \
                 upd AS (UPDATE {s}.workflow_status ws SET {} FROM input i \
                   WHERE ws.workflow_uuid = i.id AND {} \
                   RETURNING ws.workflow_uuid), \
                 outp AS ({}) \
                 SELECT (upd.workflow_uuid IS NOT NULL) FROM input i LEFT JOIN upd ON upd.workflow_uuid = i.id \
                 ORDER BY i.ord",
                complete_set("i.status", "$6"),
                completes("ws", "i.token"),
                save_output(
                    s,
                    "SELECT i.id, i.output, i.error FROM input i JOIN upd ON upd.workflow_uuid = i.id"
                ),
            ),
            status: format!(
                "SELECT {STATUS_COLUMNS} FROM {s}.workflow_status ws \
                 LEFT JOIN {s}.workflow_input i ON i.workflow_uuid = ws.workflow_uuid \
                 LEFT JOIN {s}.workflow_output o ON o.workflow_uuid = ws.workflow_uuid \
                 WHERE ws.workflow_uuid = $1"
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

fn start_outcome(row: &Row, token: &str) -> StartOutcome {
    let creator: Option<String> = row.get(5);
    StartOutcome {
        should_execute: creator.as_deref() == Some(token),
        status: row.get::<_, Option<String>>(0).unwrap_or_default(),
        name: row.get::<_, Option<String>>(1).unwrap_or_default(),
        class_name: row.get(2),
        config_name: row.get(3),
        queue_name: row.get(4),
        serialization: row.get(6),
    }
}

/// Terminal statuses (`Status::is_terminal`): a poller stops on these.
pub fn is_terminal(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::is_terminal)
}

/// Class and config names are NULL when empty (the cross-language rule).
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Engine {
    fn start_params<'a>(
        &'a self,
        wf: &'a NewWorkflow,
        recovery_attempts: &'a i64,
        owner: &'a Option<&'a str>,
    ) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 18] {
        [
            &wf.workflow_id,
            &wf.status,
            &wf.name,
            &wf.class_name,
            &wf.config_name,
            &wf.queue_name,
            &self.identity.executor_id,
            &self.identity.app_version,
            recovery_attempts,
            &wf.timeout_ms,
            &wf.deadline_epoch_ms,
            &wf.deduplication_id,
            &wf.priority,
            &wf.parent_workflow_id,
            &wf.serialization,
            &wf.token,
            &self.identity.app_name,
            owner,
        ]
    }

    pub(crate) fn normalise(wf: &NewWorkflow) -> Result<NewWorkflow> {
        if wf.workflow_id.is_empty() {
            return Err(EngineError::invalid(
                "workflow ID must be a non-empty string",
            ));
        }
        let mut wf = wf.clone();
        wf.class_name = non_empty(&wf.class_name).map(str::to_string);
        wf.config_name = non_empty(&wf.config_name).map(str::to_string);
        Ok(wf)
    }

    /// Inserts the workflow row (or finds the existing one) and its inputs, in one statement shared
    /// with concurrent starts.
    pub async fn start_workflow(&self, wf: &NewWorkflow) -> Result<StartOutcome> {
        let wf = Self::normalise(wf)?;
        self.groups
            .starts
            .submit(wf, |batch| self.run_batch(batch))
            .await
    }

    /// Starts a child from a running parent: owner check on the parent, the child's rows and the
    /// parent's checkpoint at `function_id`, all in one transaction.
    pub async fn start_child_workflow(
        &self,
        parent_id: &str,
        parent_token: &str,
        function_id: i32,
        wf: &NewWorkflow,
    ) -> Result<StartOutcome> {
        let wf = Self::normalise(wf)?;
        let attempts = i64::from(wf.runs_here());
        let owner = wf.owner();
        let now = now_ms();
        let checkpoint = super::steps::NewCheckpoint {
            function_id,
            name: wf.name.clone(),
            child_workflow_id: Some(wf.workflow_id.clone()),
            started_at: now,
            completed_at: now,
            ..Default::default()
        };
        let params = self.start_params(&wf, &attempts, &owner);
        // Safe to retry: the child row keeps our creator token and the parent's checkpoint our
        // completed_at, so an attempt whose commit went unacknowledged is recognised as ours.
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let owner_row = tx
                .query_opt(&self.sql.workflows.child_owner_check, &[&parent_id])
                .await?;
            match owner_row {
                Some(r) if r.get::<_, Option<String>>(0).as_deref() == Some(parent_token) => {}
                _ => return Err(EngineError::conflict(parent_id)),
            }
            let row = tx
                .query_one(&self.sql.workflows.child_insert, &params)
                .await?;
            let outcome = start_outcome(&row, &wf.token);
            if outcome.should_execute {
                tx.execute(
                    &self.sql.workflows.child_input,
                    &[&wf.workflow_id, &wf.inputs],
                )
                .await?;
            }
            self.insert_checkpoint_in(&tx, parent_id, parent_token, &checkpoint, true)
                .await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    /// Records the outcome if this execution still owns the row. Returns false when it does not
    /// (cancelled, recovered elsewhere, already finished): the caller then adopts the stored outcome.
    /// Concurrent completions share a statement.
    pub async fn complete_workflow(
        &self,
        workflow_id: &str,
        token: &str,
        status: &str,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool> {
        let done = Completion::new(workflow_id, token, status, output, error);
        self.groups
            .completions
            .submit(done, |batch| self.run_batch(batch))
            .await
    }

    pub async fn get_workflow_status(
        &self,
        workflow_id: &str,
    ) -> Result<Option<WorkflowStatusRow>> {
        let row = self
            .retrying(|| async {
                let client = self.client().await?;
                let stmt = client.prepare_cached(&self.sql.workflows.status).await?;
                Ok(client.query_opt(&stmt, &[&workflow_id]).await?)
            })
            .await?;
        Ok(row.map(|r| WorkflowStatusRow {
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
            priority: r.get(24),
            queue_partition_key: r.get(25),
            forked_from: r.get(26),
            parent_workflow_id: r.get(27),
            serialization: r.get(28),
            was_forked_from: r.get(29),
        }))
    }

    /// Reads the outcome once: None while the workflow is missing or still active.
    pub async fn read_outcome(&self, workflow_id: &str) -> Result<Option<WorkflowOutcome>> {
        let row = self
            .retrying(|| async {
                let client = self.client().await?;
                let stmt = client.prepare_cached(&self.sql.workflows.outcome).await?;
                Ok(client.query_opt(&stmt, &[&workflow_id]).await?)
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

    /// Polls until the workflow reaches a terminal status or `deadline_epoch_ms` passes (None then).
    /// Holds no connection between polls.
    pub async fn await_outcome(
        &self,
        workflow_id: &str,
        poll_ms: u64,
        deadline_epoch_ms: Option<i64>,
    ) -> Result<Option<WorkflowOutcome>> {
        loop {
            if let Some(outcome) = self.read_outcome(workflow_id).await? {
                return Ok(Some(outcome));
            }
            let mut wait = poll_ms.max(1);
            if let Some(deadline) = deadline_epoch_ms {
                let left = deadline - now_ms();
                if left <= 0 {
                    return Ok(None);
                }
                wait = wait.min(left as u64);
            }
            self.sleep_unless_closed(Duration::from_millis(wait))
                .await?;
        }
    }

    pub(crate) async fn sleep_unless_closed(&self, d: Duration) -> Result<()> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.closed.cancelled() => Err(EngineError::shutdown()),
        }
    }
}

impl Batched<NewWorkflow, StartOutcome> for Engine {
    async fn one(&self, wf: &NewWorkflow) -> Result<StartOutcome> {
        let attempts = i64::from(wf.runs_here());
        let owner = wf.owner();
        let finished = wf.finished();
        let base = self.start_params(wf, &attempts, &owner);
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = base.to_vec();
        params.extend([
            &wf.inputs as &(dyn tokio_postgres::types::ToSql + Sync),
            &finished,
            &wf.output,
            &wf.error,
        ]);
        // Safe to retry: a start whose reply was lost finds its own creator token in the row.
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.workflows.start).await?;
            let row = client.query_one(&stmt, &params).await?;
            Ok(start_outcome(&row, &wf.token))
        })
        .await
    }

    async fn many(&self, items: &[NewWorkflow]) -> Result<Vec<Result<StartOutcome>>> {
        let ids = column(items, |w| w.workflow_id.as_str());
        let statuses = column(items, |w| w.status.as_str());
        let names = column(items, |w| w.name.as_str());
        let classes = column(items, |w| w.class_name.as_deref());
        let configs = column(items, |w| w.config_name.as_deref());
        let queues = column(items, |w| w.queue_name.as_deref());
        let attempts = column(items, |w| i64::from(w.runs_here()));
        let timeouts = column(items, |w| w.timeout_ms);
        let deadlines = column(items, |w| w.deadline_epoch_ms);
        let dedups = column(items, |w| w.deduplication_id.as_deref());
        let priorities = column(items, |w| w.priority);
        let parents = column(items, |w| w.parent_workflow_id.as_deref());
        let formats = column(items, |w| w.serialization.as_deref());
        let tokens = column(items, |w| w.token.as_str());
        let owners = column(items, |w| w.owner());
        let inputs = column(items, |w| w.inputs.as_str());
        let finished = column(items, NewWorkflow::finished);
        let outputs = column(items, |w| w.output.as_deref());
        let errors = column(items, |w| w.error.as_deref());
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&self.sql.workflows.start_many)
            .await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &ids,
                    &statuses,
                    &names,
                    &classes,
                    &configs,
                    &queues,
                    &attempts,
                    &timeouts,
                    &deadlines,
                    &dedups,
                    &priorities,
                    &parents,
                    &formats,
                    &tokens,
                    &owners,
                    &inputs,
                    &self.identity.executor_id,
                    &self.identity.app_version,
                    &self.identity.app_name,
                    &finished,
                    &outputs,
                    &errors,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .zip(items)
            .map(|(row, wf)| Ok(start_outcome(row, &wf.token)))
            .collect())
    }
}

impl Batched<Completion, bool> for Engine {
    async fn one(&self, c: &Completion) -> Result<bool> {
        // A retry after an unacknowledged commit changes nothing and returns false: the caller then
        // adopts the stored outcome, which is this one.
        let now = now_ms();
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.workflows.complete).await?;
            let row = client
                .query_one(
                    &stmt,
                    &[
                        &c.workflow_id,
                        &c.status,
                        &c.token,
                        &now,
                        &c.output,
                        &c.error,
                    ],
                )
                .await?;
            Ok(row.get::<_, i64>(0) == 1)
        })
        .await
    }

    async fn many(&self, items: &[Completion]) -> Result<Vec<Result<bool>>> {
        let ids = column(items, |c| c.workflow_id.as_str());
        let statuses = column(items, |c| c.status.as_str());
        let tokens = column(items, |c| c.token.as_str());
        let outputs = column(items, |c| c.output.as_deref());
        let errors = column(items, |c| c.error.as_deref());
        let now = now_ms();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&self.sql.workflows.complete_many)
            .await?;
        let rows = client
            .query(&stmt, &[&ids, &statuses, &tokens, &outputs, &errors, &now])
            .await?;
        Ok(rows.iter().map(|r| Ok(r.get::<_, bool>(0))).collect())
    }
}
