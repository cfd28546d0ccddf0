//! Waiting for the first, or all, of several workflows to finish (`waitFirst`, `waitAll`): one
//! query for all of them per check, woken by any of their completion notifications.

use futures::future::select_all;

use crate::engine::error::{EngineError, Result};
use crate::engine::listener::{completion_key, next_wait};
use crate::engine::Engine;

fn statement(s: &str) -> String {
    format!(
        "SELECT workflow_uuid FROM {s}.workflow_status \
         WHERE workflow_uuid = ANY($1) AND status NOT IN ('PENDING', 'ENQUEUED', 'DELAYED')"
    )
}

impl Engine {
    /// Waits until one (`all` false) or every one of `ids` has a terminal status; returns the IDs
    /// found finished (those found so far once `deadline_epoch_ms` passes). Re-checks on the completion
    /// notification of any of them (queued rows) and at least every `poll_ms`.
    /// Transactions, locks: autocommit SELECTs, no locks; no connection held between checks.
    pub async fn await_done(
        &self,
        ids: &[String],
        all: bool,
        poll_ms: u64,
        deadline_epoch_ms: Option<i64>,
    ) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = statement(self.schema());
        let listener = self.listener().await;
        let _interest = listener.presence.interest();
        let waiters: Vec<_> = ids
            .iter()
            .map(|id| listener.register(completion_key(id)))
            .collect();
        let mut remaining: Vec<String> = ids.to_vec();
        let mut done: Vec<String> = Vec::new();
        loop {
            let mut wakes: Vec<_> = waiters
                .iter()
                .map(|w| Box::pin(w.notify.notified()))
                .collect();
            // Registered before the check: a notification that lands during it still wakes us.
            for n in &mut wakes {
                n.as_mut().enable();
            }
            let rows = self
                .retrying(|| async { self.query(&sql, &[&remaining]).await })
                .await?;
            let finished: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            remaining.retain(|id| !finished.contains(id));
            done.extend(finished);
            if (!all && !done.is_empty()) || remaining.is_empty() {
                return Ok(done);
            }
            let Some(wait) = next_wait(listener.poll_ms(poll_ms), deadline_epoch_ms) else {
                return Ok(done);
            };
            // Announced just now: read again before waiting (see `waiting_presence`).
            if listener.presence.hold().await {
                continue;
            }
            tokio::select! {
                _ = select_all(wakes) => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
            }
        }
    }
}
