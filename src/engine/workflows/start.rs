//! Workflow starts: the status row and its inputs in one statement with the creator/owner tokens
//! (alone or many at once), and child starts with their parent's checkpoint.

use tokio_postgres::Row;

use super::is_terminal;
use crate::engine::batch::{column, Batched};
use crate::engine::db::{now_ms, Param};
use crate::engine::error::{EngineError, Result};
use crate::engine::fence::NOW_MS;
use crate::engine::status::Status;
use crate::engine::steps::NewCheckpoint;
use crate::engine::Engine;

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

pub(crate) struct Sql {
    one: String,
    many: String,
    child_owner_check: String,
    child_insert: String,
    child_input: String,
    dedup_holder: String,
}

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
            one: format!(
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
            many: format!(
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
            // Transactions, locks: one read; the holder may finish (and free the ID) at any moment.
            dedup_holder: format!(
                "SELECT workflow_uuid FROM {s}.workflow_status \
                 WHERE queue_name = $1 AND deduplication_id = $2"
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

/// Class and config names are NULL when empty (the cross-language rule).
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Who a new row is stamped with: this process's identity, or (a client's enqueue) no executor and
/// the application version and name the client names.
struct Stamp<'a> {
    executor_id: Param<'a>,
    app_version: Param<'a>,
    app_name: Param<'a>,
}

impl Engine {
    fn own_stamp(&self) -> Stamp<'_> {
        Stamp {
            executor_id: &self.identity.executor_id,
            app_version: &self.identity.app_version,
            app_name: &self.identity.app_name,
        }
    }

    fn start_params<'a>(
        &'a self,
        wf: &'a NewWorkflow,
        recovery_attempts: &'a i64,
        owner: &'a Option<&'a str>,
        stamp: Stamp<'a>,
    ) -> [Param<'a>; 18] {
        [
            &wf.workflow_id,
            &wf.status,
            &wf.name,
            &wf.class_name,
            &wf.config_name,
            &wf.queue_name,
            stamp.executor_id,
            stamp.app_version,
            recovery_attempts,
            &wf.timeout_ms,
            &wf.deadline_epoch_ms,
            &wf.deduplication_id,
            &wf.priority,
            &wf.parent_workflow_id,
            &wf.serialization,
            &wf.token,
            stamp.app_name,
            owner,
        ]
    }

    /// One start in its own statement (row and inputs). Safe to retry: a start whose reply was lost
    /// finds its own creator token in the row.
    async fn start_one(&self, wf: &NewWorkflow, stamp: Stamp<'_>) -> Result<StartOutcome> {
        let attempts = i64::from(wf.runs_here());
        let owner = wf.owner();
        let finished = wf.finished();
        let mut params: Vec<Param> = self.start_params(wf, &attempts, &owner, stamp).to_vec();
        params.extend([&wf.inputs as Param, &finished, &wf.output, &wf.error]);
        self.retrying(|| async {
            let row = self
                .query_one(&self.sql.workflows.start.one, &params)
                .await?;
            Ok(start_outcome(&row, &wf.token))
        })
        .await
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
        self.groups.starts.submit(self, wf).await
    }

    /// Enqueues for a client: the row is stamped with the given application version and name
    /// (NULL: any version / unclaimed) and no executor, instead of this engine's identity.
    pub async fn enqueue_for_client(
        &self,
        wf: &NewWorkflow,
        app_version: Option<String>,
        app_name: Option<String>,
    ) -> Result<StartOutcome> {
        let wf = Self::normalise(wf)?;
        let stamp = Stamp {
            executor_id: &"",
            app_version: &app_version,
            app_name: &app_name,
        };
        self.start_one(&wf, stamp).await
    }

    /// The workflow holding `dedup_id` on `queue`, if any (it is freed when that workflow ends).
    pub async fn deduplicated_workflow(
        &self,
        queue: &str,
        dedup_id: &str,
    ) -> Result<Option<String>> {
        let row = self
            .retrying(|| async {
                self.query_opt(&self.sql.workflows.start.dedup_holder, &[&queue, &dedup_id])
                    .await
            })
            .await?;
        Ok(row.map(|r| r.get(0)))
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
        let checkpoint = NewCheckpoint {
            function_id,
            name: wf.name.clone(),
            child_workflow_id: Some(wf.workflow_id.clone()),
            started_at: now,
            completed_at: now,
            ..Default::default()
        };
        let params = self.start_params(&wf, &attempts, &owner, self.own_stamp());
        // Safe to retry: the child row keeps our creator token and the parent's checkpoint our
        // completed_at, so an attempt whose commit went unacknowledged is recognised as ours.
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let owner_row = tx
                .query_opt(&self.sql.workflows.start.child_owner_check, &[&parent_id])
                .await?;
            match owner_row {
                Some(r) if r.get::<_, Option<String>>(0).as_deref() == Some(parent_token) => {}
                _ => return Err(EngineError::conflict(parent_id)),
            }
            let row = tx
                .query_one(&self.sql.workflows.start.child_insert, &params)
                .await?;
            let outcome = start_outcome(&row, &wf.token);
            if outcome.should_execute {
                tx.execute(
                    &self.sql.workflows.start.child_input,
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
}

impl Batched<NewWorkflow, StartOutcome> for Engine {
    async fn one(&self, wf: &NewWorkflow) -> Result<StartOutcome> {
        self.start_one(wf, self.own_stamp()).await
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
        let rows = self
            .query(
                &self.sql.workflows.start.many,
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
