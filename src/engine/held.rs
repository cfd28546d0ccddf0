//! Starts held back. A top-level start whose workflow ID was generated for it cannot meet an earlier
//! run of that ID, so its workflow may begin before its row is written. The row is written when the
//! workflow first needs it: at its first durable operation or step (`settle`, a queued write), when
//! its starter's turn of the event loop ends with the workflow still running (`release_start`), or
//! at its completion, which then writes the row once, already finished: one statement and one commit
//! for a workflow that needs nothing else. The starter is answered only once the row has committed,
//! so no one outside the workflow learns its ID before the start is durable.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::error::{EngineError, Result};
use super::status::Status;
use super::workflows::{NewWorkflow, StartOutcome};
use super::Engine;

/// A start not yet written, and its starter waiting for the commit.
pub(crate) struct HeldStart {
    pub(crate) wf: NewWorkflow,
    reply: oneshot::Sender<Result<StartOutcome>>,
}

impl HeldStart {
    /// Answers the starter with how the row's write went. A row that holds another run (it can't,
    /// with a generated ID) answers the starter with it and fails the workflow's own writes.
    pub(crate) fn answer(self, written: &Result<StartOutcome>) -> Result<()> {
        let _ = self.reply.send(written.clone());
        match written {
            Ok(o) if o.should_execute => Ok(()),
            Ok(_) => Err(EngineError::conflict(&self.wf.workflow_id)),
            Err(e) => Err(e.clone()),
        }
    }
}

#[derive(Default)]
pub(crate) struct Held {
    starts: Mutex<HashMap<String, HeldStart>>,
}

impl Held {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, HeldStart>> {
        self.starts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn take(&self, workflow_id: &str) -> Option<HeldStart> {
        let mut starts = self.lock();
        if starts.is_empty() {
            return None;
        }
        starts.remove(workflow_id)
    }
}

impl Engine {
    /// Holds a PENDING start back (see the module). The returned future resolves once the row has
    /// committed, however it came to be written, or with the error that kept it from committing.
    pub fn hold_start(
        &self,
        wf: &NewWorkflow,
    ) -> Result<impl Future<Output = Result<StartOutcome>> + Send + 'static> {
        let wf = Self::normalise(wf)?;
        if wf.status != Status::Pending.as_str() {
            return Err(EngineError::invalid(
                "only a PENDING start can be held back",
            ));
        }
        if self.closed.is_closed() {
            return Err(EngineError::shutdown());
        }
        let (reply, written) = oneshot::channel();
        {
            let mut starts = self.held.lock();
            if starts.contains_key(&wf.workflow_id) {
                return Err(EngineError::invalid(format!(
                    "a start of workflow {} is already held back",
                    wf.workflow_id
                )));
            }
            starts.insert(wf.workflow_id.clone(), HeldStart { wf, reply });
        }
        let closed = Arc::clone(&self.closed);
        Ok(async move {
            tokio::select! {
                written = written => written.unwrap_or_else(|_| Err(EngineError::shutdown())),
                _ = closed.cancelled() => Err(EngineError::shutdown()),
            }
        })
    }
}
