//! Step checkpoints and workflow code's stream writes, written behind their workflow: `record_behind`
//! and `write_stream_behind` queue a write and return at once, so the workflow goes on while it
//! commits. A held start (`held.rs`) joins the queue ahead of its workflow's first write, and a
//! completion joins it behind the workflow's last writes when those have not committed yet. One drain
//! task at a time sends the queue in batches (one statement per run of writes of one kind; completions
//! share the statement of the checkpoints before them), so a workflow's writes commit in the order
//! they were queued and a crash leaves a prefix of them. `settle` waits for a workflow's queued writes
//! and reports the first that failed; the workflow's other durable operations go through it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{oneshot, Notify};

use super::batch::MAX_BATCH;
use super::completion::Completion;
use super::db::now_ms;
use super::error::{EngineError, Result};
use super::held::HeldStart;
use super::steps::{CheckpointWrite, NewCheckpoint};
use super::streams::StreamWrite;
use super::Engine;

mod complete;

#[derive(Default)]
pub(crate) struct Behind {
    state: Mutex<State>,
}

enum Write {
    /// Boxed: a held start is several times the size of the other writes.
    Start(Box<HeldStart>),
    Checkpoint(CheckpointWrite),
    Stream(StreamWrite),
    Complete(QueuedCompletion),
}

/// A completion queued behind its workflow's writes. Answered with whether it won, or with None when
/// it was not written (a write before it failed, or its statement did): the completer then settles
/// and completes as usual, which reports that failure.
struct QueuedCompletion {
    done: Completion,
    reply: oneshot::Sender<Option<Result<bool>>>,
}

impl Write {
    fn workflow_id(&self) -> &str {
        match self {
            Write::Start(s) => &s.wf.workflow_id,
            Write::Checkpoint(w) => &w.workflow_id,
            Write::Stream(w) => &w.workflow_id,
            Write::Complete(c) => &c.done.workflow_id,
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Write>,
    draining: bool,
    workflows: HashMap<String, InFlight>,
}

struct InFlight {
    count: usize,
    error: Option<EngineError>,
    settled: Arc<Notify>,
}

/// The outcome of an operation that first waits for written-behind checkpoints.
pub enum Settled<T> {
    Done(T),
    /// A checkpoint failed: the operation was not run.
    WriteFailed(EngineError),
}

impl Behind {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine {
    /// Queues a checkpoint of a workflow this execution owns and returns at once.
    pub fn record_behind(self: &Arc<Self>, workflow_id: &str, token: &str, cp: NewCheckpoint) {
        self.queue_behind(
            workflow_id,
            Some(Write::Checkpoint(CheckpointWrite {
                workflow_id: workflow_id.to_string(),
                token: token.to_string(),
                cp,
                conflict_check: true,
            })),
        );
    }

    /// Queues a stream write of workflow code (`name`: DBOS.writeStream or DBOS.closeStream,
    /// checkpointed at `function_id`) and returns at once.
    #[allow(clippy::too_many_arguments)]
    pub fn write_stream_behind(
        self: &Arc<Self>,
        workflow_id: &str,
        token: &str,
        function_id: i32,
        name: &str,
        started_at: i64,
        key: &str,
        value: String,
        serialization: Option<String>,
    ) {
        self.queue_behind(
            workflow_id,
            Some(Write::Stream(StreamWrite {
                workflow_id: workflow_id.to_string(),
                token: token.to_string(),
                function_id,
                name: name.to_string(),
                started_at,
                completed_at: now_ms(),
                key: key.to_string(),
                value,
                serialization,
            })),
        );
    }

    /// Queues the workflow's held start, if it still is held.
    pub fn release_start(self: &Arc<Self>, workflow_id: &str) {
        self.queue_behind(workflow_id, None);
    }

    /// Queues a write, after the workflow's row if its start still is held.
    fn queue_behind(self: &Arc<Self>, workflow_id: &str, write: Option<Write>) {
        let start_drain = {
            let mut st = self.behind.lock();
            // Taken under the queue's lock, so that `settle` finds the start either held or queued.
            let start = self
                .held
                .take(workflow_id)
                .map(|s| Write::Start(Box::new(s)));
            let count = usize::from(start.is_some()) + usize::from(write.is_some());
            if count == 0 {
                return;
            }
            st.workflows
                .entry(workflow_id.to_string())
                .or_insert_with(|| InFlight {
                    count: 0,
                    error: None,
                    settled: Arc::new(Notify::new()),
                })
                .count += count;
            st.queue.extend(start);
            st.queue.extend(write);
            !std::mem::replace(&mut st.draining, true)
        };
        if start_drain {
            // Only an idle queue costs a task (and a wake-up of the runtime): checkpoints queued
            // while a batch is in flight go with the next one.
            let engine = Arc::clone(self);
            self.runtime
                .spawn(async move { engine.drain_behind().await });
        }
    }

    async fn drain_behind(&self) {
        loop {
            let batch: Vec<Write> = {
                let mut st = self.behind.lock();
                if st.queue.is_empty() {
                    st.draining = false;
                    return;
                }
                let n = st.queue.len().min(MAX_BATCH);
                let mut batch: Vec<Write> = st.queue.drain(..n).collect();
                // A completion is its workflow's last write: moved behind the batch's other writes
                // (a stable sort), it keeps its place in the workflow's order and can share a statement.
                batch.sort_by_key(|w| matches!(w, Write::Complete(_)));
                batch
            };
            let ids: Vec<String> = batch.iter().map(|w| w.workflow_id().to_string()).collect();
            let results = self.write_in_order(batch, &ids).await;
            let mut st = self.behind.lock();
            let mut results = results.into_iter();
            for id in ids {
                let result = results
                    .next()
                    .unwrap_or_else(|| Err(EngineError::shutdown()));
                let Some(entry) = st.workflows.get_mut(&id) else {
                    continue;
                };
                entry.count -= 1;
                if let Err(e) = result {
                    entry.error.get_or_insert(e);
                }
                if entry.count == 0 {
                    entry.settled.notify_waiters();
                    if entry.error.is_none() {
                        st.workflows.remove(&id);
                    }
                }
            }
        }
    }

    /// Writes a batch taken from the queue (completions last; `ids`: each write's workflow): each run
    /// of writes of one kind in one statement, the runs one after the other, and the completions in
    /// the statement of a checkpoint run just before them, or alone. One result per write, in order;
    /// a completion's own outcome goes to its completer.
    async fn write_in_order(&self, batch: Vec<Write>, ids: &[String]) -> Vec<Result<()>> {
        let mut results = Vec::with_capacity(batch.len());
        let mut completions = Vec::new();
        let mut runs = Vec::new();
        let mut batch = batch.into_iter().peekable();
        while let Some(first) = batch.next() {
            match first {
                Write::Start(start) => {
                    let mut run = vec![*start];
                    while let Some(Write::Start(start)) =
                        batch.next_if(|w| matches!(w, Write::Start(_)))
                    {
                        run.push(*start);
                    }
                    runs.push(Run::Starts(run));
                }
                Write::Checkpoint(cp) => {
                    let mut run = vec![cp];
                    while let Some(Write::Checkpoint(cp)) =
                        batch.next_if(|w| matches!(w, Write::Checkpoint(_)))
                    {
                        run.push(cp);
                    }
                    runs.push(Run::Checkpoints(run));
                }
                Write::Stream(w) => {
                    let mut run = vec![w];
                    while let Some(Write::Stream(w)) =
                        batch.next_if(|w| matches!(w, Write::Stream(_)))
                    {
                        run.push(w);
                    }
                    runs.push(Run::Streams(run));
                }
                Write::Complete(c) => completions.push(c),
            }
        }
        let joined = match runs.last() {
            Some(Run::Checkpoints(_)) if !completions.is_empty() => runs.pop(),
            _ => None,
        };
        for run in runs {
            match run {
                Run::Starts(run) => {
                    let rows = run.iter().map(|s| s.wf.clone()).collect();
                    let written = self.run_batch(rows).await;
                    results.extend(run.into_iter().zip(&written).map(|(s, w)| s.answer(w)));
                }
                Run::Checkpoints(run) => results.extend(self.run_batch(run).await),
                Run::Streams(run) => results.extend(self.run_batch(run).await),
            }
        }
        // Only completions of workflows whose writes all went well so far are written here.
        let failed: HashSet<String> = {
            let st = self.behind.lock();
            ids.iter()
                .zip(&results)
                .filter(|(_, r)| r.is_err())
                .map(|(id, _)| id.clone())
                .chain(
                    completions
                        .iter()
                        .map(|c| &c.done.workflow_id)
                        .filter(|id| st.workflows.get(*id).is_some_and(|e| e.error.is_some()))
                        .cloned(),
                )
                .collect()
        };
        let count = completions.len();
        let (ready, not_ready): (Vec<_>, Vec<_>) = completions
            .into_iter()
            .partition(|c| !failed.contains(&c.done.workflow_id));
        for c in not_ready {
            let _ = c.reply.send(None);
        }
        let (done, replies): (Vec<Completion>, Vec<_>) =
            ready.into_iter().map(|c| (c.done, c.reply)).unzip();
        match joined {
            Some(Run::Checkpoints(run)) => {
                match self
                    .retrying(|| self.record_and_complete(&run, &done))
                    .await
                {
                    Ok((verdicts, won)) => {
                        // A completion held back by a failed checkpoint of its own is not an outcome:
                        // its completer settles, which reports that failure.
                        let refused: HashSet<&str> = run
                            .iter()
                            .zip(&verdicts)
                            .filter(|(_, v)| v.is_err())
                            .map(|(w, _)| w.workflow_id.as_str())
                            .collect();
                        for ((reply, won), c) in replies.into_iter().zip(won).zip(&done) {
                            let answer = (won || !refused.contains(c.workflow_id.as_str()))
                                .then_some(Ok(won));
                            let _ = reply.send(answer);
                        }
                        results.extend(verdicts);
                    }
                    Err(_) => {
                        results.extend(self.run_batch(run).await);
                        for reply in replies {
                            let _ = reply.send(None);
                        }
                    }
                }
            }
            _ if !done.is_empty() => {
                for (reply, won) in replies.into_iter().zip(self.run_batch(done).await) {
                    let _ = reply.send(Some(won));
                }
            }
            _ => {}
        }
        results.extend((0..count).map(|_| Ok(())));
        results
    }

    /// Waits until the workflow's queued writes have committed, and returns the first failure
    /// among them (once: the record of it is cleared).
    pub async fn settle(self: &Arc<Self>, workflow_id: &str) -> Result<()> {
        self.release_start(workflow_id);
        loop {
            self.written(workflow_id).await;
            let mut st = self.behind.lock();
            match st.workflows.get_mut(workflow_id) {
                None => return Ok(()),
                Some(entry) if entry.count == 0 => {
                    let error = entry.error.take();
                    st.workflows.remove(workflow_id);
                    return error.map_or(Ok(()), Err);
                }
                // Queued again in between (a concurrent branch of the workflow): wait for that too.
                Some(_) => {}
            }
        }
    }

    /// Waits until this process has no queued or in-flight writes of the workflow, leaving any failure
    /// for the workflow's own `settle` to report. A resume waits for this: a write of the cancelled run
    /// is admitted only while the row stays cancelled (see `fence::admits`).
    pub async fn written(&self, workflow_id: &str) {
        loop {
            let settled = match self.behind.lock().workflows.get(workflow_id) {
                Some(entry) if entry.count > 0 => Arc::clone(&entry.settled),
                _ => return,
            };
            let notified = settled.notified();
            tokio::pin!(notified);
            // Registered before the re-check, so a drain finishing in between still wakes us.
            notified.as_mut().enable();
            let pending = self
                .behind
                .lock()
                .workflows
                .get(workflow_id)
                .is_some_and(|e| e.count > 0);
            if pending {
                notified.await;
            }
        }
    }
}

/// A run of writes of one kind, taken from a batch.
enum Run {
    Starts(Vec<HeldStart>),
    Checkpoints(Vec<CheckpointWrite>),
    Streams(Vec<StreamWrite>),
}
