//! Workflow starts: the status row and its inputs in one statement with the creator/owner tokens
//! (alone or many at once), child starts with their parent's checkpoint, and a client's enqueue
//! rendered for the caller's transaction. The statements are in `start_sql.rs`.

use super::is_terminal;
use super::start_sql::start_outcome;
use crate::engine::batch::{column, Batched};
use crate::engine::db::{now_ms, Param};
use crate::engine::error::{EngineError, Result};
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
    pub queue_partition_key: Option<String>,
    /// A DELAYED row: when the dispatcher moves it to ENQUEUED.
    pub delay_until_epoch_ms: Option<i64>,
    /// The application that owns the row. None: the starter's own (a client: unclaimed).
    pub app_name: Option<String>,
    /// The version that must run it. None: the starter's own version when the row is the
    /// starter's application's, else NULL (any executor of that application's latest version).
    pub app_version: Option<String>,
    /// None: '' (as the SDK writes it).
    pub authenticated_user: Option<String>,
    /// JSON text of the roles; None: '[]' (as the SDK writes it).
    pub authenticated_roles: Option<String>,
    /// JSON text of a key-value object (stored as jsonb).
    pub attributes: Option<String>,
    /// A start written with its outcome (SUCCESS or ERROR: a held start whose workflow finished
    /// before it needed its row): the outcome's output or error.
    pub output: Option<String>,
    pub error: Option<String>,
    /// A debounced row (the SDK's `Debouncer`): its deduplication ID is the debounce key, freed when
    /// the row leaves DELAYED, and a bounce never delays it past this deadline.
    pub is_debounced: bool,
    pub debounce_deadline_epoch_ms: Option<i64>,
}

impl NewWorkflow {
    /// Runs in this process from the start: counts its first attempt (an enqueued row has none yet).
    pub(super) fn runs_here(&self) -> bool {
        self.status != Status::Enqueued.as_str() && self.status != Status::Delayed.as_str()
    }

    /// Owned by its starter until it finishes (PENDING).
    pub(super) fn owner(&self) -> Option<&str> {
        (self.status == Status::Pending.as_str()).then_some(self.token.as_str())
    }

    pub(super) fn finished(&self) -> bool {
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
    /// False when the row names a queue that has no row in `dbos.queues` (nothing dispatches it
    /// until some process registers that queue).
    pub queue_registered: bool,
}

/// Class and config names are NULL when empty (the cross-language rule).
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Who a new row is stamped with: this process (its executor, and its application and version
/// unless the row names others), or a client (no executor, and only what the row names).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Starter {
    Own,
    Client,
}

/// The executor, application version and application name a row is written with.
pub(super) struct Stamp {
    pub(super) executor_id: String,
    pub(super) app_version: Option<String>,
    pub(super) app_name: Option<String>,
}

impl Engine {
    /// The SDK's rules: the row's application is the one it names, else the starter's (a client
    /// without one leaves it unclaimed); its version is the one it names, else this process's when
    /// the row is this process's application's, else NULL (that application's latest version runs it).
    pub(super) fn stamp(&self, wf: &NewWorkflow, starter: Starter) -> Stamp {
        let own = &self.identity;
        match starter {
            Starter::Client => Stamp {
                executor_id: String::new(),
                app_version: wf.app_version.clone(),
                app_name: wf.app_name.clone(),
            },
            Starter::Own => {
                let app_name = wf.app_name.clone().unwrap_or_else(|| own.app_name.clone());
                let app_version = wf
                    .app_version
                    .clone()
                    .or_else(|| (app_name == own.app_name).then(|| own.app_version.clone()));
                Stamp {
                    executor_id: own.executor_id.clone(),
                    app_version,
                    app_name: Some(app_name),
                }
            }
        }
    }

    /// The parameters $1..$23 of a status insert (see `STATUS_VALUES`).
    fn start_params<'a>(
        wf: &'a NewWorkflow,
        recovery_attempts: &'a i64,
        owner: &'a Option<&'a str>,
        stamp: &'a Stamp,
    ) -> [Param<'a>; 23] {
        [
            &wf.workflow_id,
            &wf.status,
            &wf.name,
            &wf.class_name,
            &wf.config_name,
            &wf.queue_name,
            &stamp.executor_id,
            &stamp.app_version,
            recovery_attempts,
            &wf.timeout_ms,
            &wf.deadline_epoch_ms,
            &wf.deduplication_id,
            &wf.priority,
            &wf.parent_workflow_id,
            &wf.serialization,
            &wf.token,
            &stamp.app_name,
            owner,
            &wf.queue_partition_key,
            &wf.delay_until_epoch_ms,
            &wf.authenticated_user,
            &wf.authenticated_roles,
            &wf.attributes,
        ]
    }

    /// One start in its own statement (row and inputs). Safe to retry: a start whose reply was lost
    /// finds its own creator token in the row.
    pub(super) async fn start_one(
        &self,
        wf: &NewWorkflow,
        starter: Starter,
    ) -> Result<StartOutcome> {
        let attempts = i64::from(wf.runs_here());
        let owner = wf.owner();
        let finished = wf.finished();
        let stamp = self.stamp(wf, starter);
        let mut params: Vec<Param> = Self::start_params(wf, &attempts, &owner, &stamp).to_vec();
        params.extend([&wf.inputs as Param, &finished, &wf.output, &wf.error]);
        params.extend([&wf.debounce_deadline_epoch_ms as Param, &wf.is_debounced]);
        let outcome = self
            .retrying(|| async {
                let row = self
                    .query_one(&self.sql.workflows.start.one, &params)
                    .await?;
                start_outcome(&row, wf)
            })
            .await?;
        self.notify_client_enqueue(starter, wf, &outcome);
        Ok(outcome)
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
        self.start_child(parent_id, parent_token, function_id, wf, Starter::Own)
            .await
    }

    /// A child enqueued by name (`DBOS.enqueueWorkflowWithOptions` in a workflow): as
    /// `start_child_workflow`, stamped as a client's enqueue (no executor; only the application
    /// and version the row names).
    pub async fn enqueue_child_by_name(
        &self,
        parent_id: &str,
        parent_token: &str,
        function_id: i32,
        wf: &NewWorkflow,
    ) -> Result<StartOutcome> {
        self.start_child(parent_id, parent_token, function_id, wf, Starter::Client)
            .await
    }

    async fn start_child(
        &self,
        parent_id: &str,
        parent_token: &str,
        function_id: i32,
        wf: &NewWorkflow,
        starter: Starter,
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
        let stamp = self.stamp(&wf, starter);
        let mut params: Vec<Param> = Self::start_params(&wf, &attempts, &owner, &stamp).to_vec();
        params.extend([&wf.debounce_deadline_epoch_ms as Param, &wf.is_debounced]);
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
            // A refused child (dropping `tx` rolls back) records nothing in its parent.
            let outcome = start_outcome(&row, &wf)?;
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
        self.start_one(wf, Starter::Own).await
    }

    async fn many(&self, items: &[NewWorkflow]) -> Result<Vec<Result<StartOutcome>>> {
        let items: Vec<&NewWorkflow> = items.iter().collect();
        self.start_many(&items, Starter::Own).await
    }
}

impl Engine {
    /// Many starts in one statement (rows and inputs), each stamped as `starter` stamps it.
    pub(super) async fn start_many(
        &self,
        items: &[&NewWorkflow],
        starter: Starter,
    ) -> Result<Vec<Result<StartOutcome>>> {
        let stamps: Vec<Stamp> = items.iter().map(|w| self.stamp(w, starter)).collect();
        let executor = match starter {
            Starter::Own => self.identity.executor_id.as_str(),
            Starter::Client => "",
        };
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
        let finished = column(items, |w| w.finished());
        let outputs = column(items, |w| w.output.as_deref());
        let errors = column(items, |w| w.error.as_deref());
        let versions = column(&stamps, |s| s.app_version.as_deref());
        let app_names = column(&stamps, |s| s.app_name.as_deref());
        let partition_keys = column(items, |w| w.queue_partition_key.as_deref());
        let delays = column(items, |w| w.delay_until_epoch_ms);
        let users = column(items, |w| w.authenticated_user.as_deref());
        let roles = column(items, |w| w.authenticated_roles.as_deref());
        let attributes = column(items, |w| w.attributes.as_deref());
        let debounce_deadlines = column(items, |w| w.debounce_deadline_epoch_ms);
        let debounced = column(items, |w| w.is_debounced);
        let params: Vec<Param> = vec![
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
            &executor,
            &versions,
            &app_names,
            &finished,
            &outputs,
            &errors,
            &partition_keys,
            &delays,
            &users,
            &roles,
            &attributes,
            &debounce_deadlines,
            &debounced,
        ];
        let rows = self.query(&self.sql.workflows.start.many, &params).await?;
        Ok(rows
            .iter()
            .zip(items)
            .map(|(row, wf)| {
                let outcome = start_outcome(row, wf);
                if let Ok(o) = &outcome {
                    self.notify_client_enqueue(starter, wf, o);
                }
                outcome
            })
            .collect())
    }

    /// A client's enqueue wakes the dispatchers of every process serving its queue, once its row
    /// is committed (`queue_notices`); this process's own starts wake its lanes directly.
    fn notify_client_enqueue(&self, starter: Starter, wf: &NewWorkflow, outcome: &StartOutcome) {
        if let (Starter::Client, true, Some(queue)) =
            (starter, outcome.should_execute, wf.queue_name.as_deref())
        {
            self.queue_notices.send(queue);
        }
    }
}
