//! A workflow's completion through the write-behind queue: written behind the workflow's last
//! queued writes, or once they have committed; a still-held start is written once, finished. Many
//! completions made together share their statements (`settle_and_complete_many`).

use std::sync::Arc;

use futures::future::{join, join_all};
use tokio::sync::oneshot;

use super::{QueuedCompletion, Settled, Write};
use crate::engine::completion::Completion;
use crate::engine::error::{EngineError, Result};
use crate::engine::held::HeldStart;
use crate::engine::workflows::{is_terminal, NewWorkflow, StartOutcome};
use crate::engine::Engine;

/// What is left of a completion once its workflow's writes are settled.
enum ToComplete {
    /// Nothing: it ended (written behind the workflow's writes, or one of those failed).
    Ended(Result<Settled<bool>>),
    /// Its row's update, to write now.
    Row(Completion),
    /// Its workflow's start, still held: the row to write now, finished.
    Start(Box<(HeldStart, NewWorkflow)>),
}

/// What `settle_and_complete_many` still owes a completion once `settle_for` has run.
enum Left {
    Ended(Result<Settled<bool>>),
    Row,
    Start(Box<HeldStart>),
}

/// A held start's starter answered with how its finished row was written: the completion's outcome.
fn finish_start(start: HeldStart, written: Result<StartOutcome>) -> Result<Settled<bool>> {
    let won = written.as_ref().is_ok_and(|o| o.should_execute);
    start.answer(&written).map(|()| Settled::Done(won))
}

impl Engine {
    /// `complete_workflow` once the workflow's queued checkpoints committed (not at all if one
    /// failed): a workflow's outcome is never recorded ahead of its steps. A workflow whose start is
    /// still held is written once, finished (the start's row with its outcome).
    pub async fn settle_and_complete(
        self: &Arc<Self>,
        workflow_id: &str,
        token: &str,
        status: &str,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Result<Settled<bool>> {
        let done = Completion::new(workflow_id, token, status, output, error);
        let mut outcomes = self.settle_and_complete_many(vec![done]).await;
        outcomes
            .pop()
            .unwrap_or_else(|| Err(EngineError::too_few_results()))
    }

    /// `settle_and_complete` for several workflows that ended together (in one turn of the JS event
    /// loop): the completions left to write share a statement, and so do the finished held starts.
    /// Outcomes in order.
    pub async fn settle_and_complete_many(
        self: &Arc<Self>,
        dones: Vec<Completion>,
    ) -> Vec<Result<Settled<bool>>> {
        let settled = join_all(dones.into_iter().map(|d| self.settle_for(d))).await;
        let (mut rows, mut starts) = (Vec::new(), Vec::new());
        let mut left = Vec::with_capacity(settled.len());
        for s in settled {
            match s {
                ToComplete::Ended(outcome) => left.push(Left::Ended(outcome)),
                ToComplete::Row(done) => {
                    rows.push(done);
                    left.push(Left::Row);
                }
                ToComplete::Start(held) => {
                    let (start, wf) = *held;
                    starts.push(wf);
                    left.push(Left::Start(Box::new(start)));
                }
            }
        }
        let (rows, starts) = join(
            self.groups.completions.submit_many(self, rows),
            self.groups.starts.submit_many(self, starts),
        )
        .await;
        let (mut rows, mut starts) = (rows.into_iter(), starts.into_iter());
        left.into_iter()
            .map(|l| match l {
                Left::Ended(outcome) => outcome,
                Left::Row => rows
                    .next()
                    .unwrap_or_else(|| Err(EngineError::too_few_results()))
                    .map(Settled::Done),
                Left::Start(start) => finish_start(
                    *start,
                    starts
                        .next()
                        .unwrap_or_else(|| Err(EngineError::too_few_results())),
                ),
            })
            .collect()
    }

    /// Everything of `settle_and_complete` before its write: the completion queued behind the
    /// workflow's writes, or those writes awaited; a held start is taken, to be written finished.
    async fn settle_for(self: &Arc<Self>, done: Completion) -> ToComplete {
        if let Some(start) = self.held.take(&done.workflow_id) {
            if start.wf.token == done.token && is_terminal(&done.status) {
                let mut wf = start.wf.clone();
                wf.status = done.status;
                wf.output = done.output;
                wf.error = done.error;
                return ToComplete::Start(Box::new((start, wf)));
            }
            self.queue_behind(&done.workflow_id, Some(Write::Start(Box::new(start))));
        }
        if let Some(queued) = self.queue_completion(&done) {
            if let Ok(Some(won)) = queued.await {
                return ToComplete::Ended(won.map(Settled::Done));
            }
        }
        if let Err(e) = self.settle(&done.workflow_id).await {
            return ToComplete::Ended(Ok(Settled::WriteFailed(e)));
        }
        ToComplete::Row(done)
    }

    /// Queues a completion behind its workflow's writes if some are still queued or in flight.
    fn queue_completion(
        &self,
        done: &Completion,
    ) -> Option<oneshot::Receiver<Option<Result<bool>>>> {
        let mut st = self.behind.lock();
        let entry = st.workflows.get_mut(&done.workflow_id)?;
        if entry.count == 0 {
            return None;
        }
        // A drain is running: it has yet to account for this workflow's writes.
        entry.count += 1;
        let (reply, answer) = oneshot::channel();
        st.queue.push_back(Write::Complete(QueuedCompletion {
            done: done.clone(),
            reply,
        }));
        Some(answer)
    }
}
