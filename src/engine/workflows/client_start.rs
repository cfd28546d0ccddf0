//! A client's enqueue (`DBOSClient.enqueue` and enqueueing by name): the row is stamped as the
//! client asks (no executor; only the application and version the row names), written in its own
//! group commit apart from this process's starts, or rendered for the caller's own transaction.

use super::start::{StartOutcome, Starter};
use super::NewWorkflow;
use crate::engine::batch::Batched;
use crate::engine::error::{EngineError, Result};
use crate::engine::Engine;

/// A client's enqueue: batched apart from this process's own starts, since its rows carry the
/// client's stamp (no executor) rather than this process's.
pub(crate) struct ClientStart(NewWorkflow);

impl Batched<ClientStart, StartOutcome> for Engine {
    async fn one(&self, start: &ClientStart) -> Result<StartOutcome> {
        self.start_one(&start.0, Starter::Client).await
    }

    async fn many(&self, items: &[ClientStart]) -> Result<Vec<Result<StartOutcome>>> {
        let items: Vec<&NewWorkflow> = items.iter().map(|c| &c.0).collect();
        self.start_many(&items, Starter::Client).await
    }
}

impl Engine {
    /// Enqueues for a client: the row is stamped with the application version and name it names
    /// (NULL: the latest version / unclaimed) and no executor, instead of this engine's identity.
    /// Concurrent client enqueues share one statement, as this process's starts do.
    pub async fn enqueue_for_client(&self, wf: &NewWorkflow) -> Result<StartOutcome> {
        let wf = Self::normalise(wf)?;
        self.groups
            .client_starts
            .submit(self, ClientStart(wf))
            .await
    }

    /// Several client enqueues of one caller (`DBOSClient.enqueue` calls made together): as
    /// `enqueue_for_client` each, queued at once so that they share a statement. Results in order;
    /// an invalid one fails alone.
    pub async fn enqueue_many_for_client(&self, wfs: &[NewWorkflow]) -> Vec<Result<StartOutcome>> {
        let mut results: Vec<Option<Result<StartOutcome>>> = Vec::with_capacity(wfs.len());
        let mut valid = Vec::with_capacity(wfs.len());
        for wf in wfs {
            match Self::normalise(wf) {
                Ok(wf) => {
                    valid.push(ClientStart(wf));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let mut written = self
            .groups
            .client_starts
            .submit_many(self, valid)
            .await
            .into_iter();
        results
            .into_iter()
            .map(|r| {
                r.or_else(|| written.next())
                    .unwrap_or_else(|| Err(EngineError::too_few_results()))
            })
            .collect()
    }

    /// A client's enqueue as a statement for the caller to run in its own transaction: the text and
    /// its parameters as text (NULL as None), which the statement casts, plus the queue's
    /// notification at the caller's commit. Its one result row: status, name, class_name,
    /// config_name, queue_name, creator_xid, serialization (all NULL: refused, the queue is
    /// partitioned and no key was given), partitioned (NULL: the queue is not registered), notified.
    pub fn render_enqueue(&self, wf: &NewWorkflow) -> Result<(String, Vec<Option<String>>)> {
        let wf = Self::normalise(wf)?;
        let stamp = self.stamp(&wf, Starter::Client);
        let text = |v: &Option<String>| v.clone();
        let int = |v: Option<i64>| v.map(|n| n.to_string());
        let values = vec![
            Some(wf.workflow_id.clone()),
            Some(wf.status.clone()),
            Some(wf.name.clone()),
            text(&wf.class_name),
            text(&wf.config_name),
            text(&wf.queue_name),
            Some(stamp.executor_id),
            stamp.app_version,
            Some(i64::from(wf.runs_here()).to_string()),
            int(wf.timeout_ms),
            int(wf.deadline_epoch_ms),
            text(&wf.deduplication_id),
            Some(wf.priority.to_string()),
            text(&wf.parent_workflow_id),
            text(&wf.serialization),
            Some(wf.token.clone()),
            stamp.app_name,
            wf.owner().map(str::to_string),
            text(&wf.queue_partition_key),
            int(wf.delay_until_epoch_ms),
            text(&wf.authenticated_user),
            text(&wf.authenticated_roles),
            text(&wf.attributes),
            Some(wf.inputs.clone()),
            Some(wf.finished().to_string()),
            text(&wf.output),
            text(&wf.error),
            int(wf.debounce_deadline_epoch_ms),
            Some(wf.is_debounced.to_string()),
        ];
        Ok((self.sql.workflows.start.in_caller_tx.clone(), values))
    }
}
