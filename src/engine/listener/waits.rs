//! The engine's side of waiting: its listener (started on first use), local wakes, queue
//! notifications, and the wait loop every waiter runs (`wait_for`).

use std::sync::Arc;
use std::time::Duration;

use super::{is_completion_key, Listener, Offered, QUEUES_CHANNEL};
use crate::engine::db::now_ms;
use crate::engine::error::{EngineError, Result};
use crate::engine::Engine;

/// Who waits: a workflow's own wait stops when that execution loses ownership (cancelled, recovered
/// elsewhere), checked with every re-read.
pub struct WaitGuard<'a> {
    pub workflow_id: &'a str,
    pub token: &'a str,
}

/// How long a wait sleeps before its next check: `poll_ms` (at least 1 ms), cut short by the
/// deadline (epoch ms); None once the deadline has passed.
pub(crate) fn next_wait(poll_ms: u64, deadline_epoch_ms: Option<i64>) -> Option<Duration> {
    let mut wait = poll_ms.max(1);
    if let Some(deadline) = deadline_epoch_ms {
        let left = deadline - now_ms();
        if left <= 0 {
            return None;
        }
        wait = wait.min(left as u64);
    }
    Some(Duration::from_millis(wait))
}

impl Engine {
    /// The process's listener, started on first use (an app starts it at launch).
    pub async fn listener(&self) -> Arc<Listener> {
        self.listener
            .get_or_init(|| async {
                let mut config = self
                    .listen_config
                    .clone()
                    .unwrap_or_else(|| self.config.clone());
                // Named, so it can be told apart in pg_stat_activity; keepalives notice a silently
                // dropped connection in about a minute rather than at the OS's two-hour default.
                config
                    .application_name(format!(
                        "{}{}",
                        crate::engine::fleet::liveness::LISTENER_APP_PREFIX,
                        self.identity.executor_id
                    ))
                    .connect_timeout(Duration::from_secs(10))
                    .keepalives(true)
                    .keepalives_idle(Duration::from_secs(30));
                Listener::start(
                    config,
                    self.listen_tls.clone().unwrap_or_else(|| self.tls.clone()),
                    self.closed.clone(),
                    self.origin.clone(),
                    self.listen_notify,
                    self.fleet
                        .liveness_id(&self.identity.executor_id, &self.schema_q),
                )
            })
            .await
            .clone()
    }

    /// Wakes local waiters on `key` at once (used after this process writes, and to interrupt waits).
    pub async fn wake(&self, key: &str) {
        if let Some(l) = self.listener.get() {
            l.wake(key);
        }
    }

    /// What a queue notification of this engine starts with: its origin, then the separator.
    pub(crate) fn notify_prefix(&self) -> String {
        super::queue_payload_prefix(&self.origin)
    }

    /// Tells every listening process that `queue` has new work (delivered when this commits: here,
    /// at once, as a statement of its own). A lost notification only delays the run to the next poll.
    pub async fn notify_queue(&self, queue: &str) -> Result<()> {
        let payload = format!("{}{queue}", self.notify_prefix());
        // Transactions, locks: one statement, no row locks (the server serialises notifying commits).
        self.retrying(|| async {
            self.query("SELECT pg_notify($1, $2)", &[&QUEUES_CHANNEL, &payload])
                .await
        })
        .await?;
        Ok(())
    }

    /// The queues notified as enqueued onto since the last call, waiting up to `timeout_ms` for one
    /// (empty on timeout). Meant for one caller, the process's dispatcher.
    pub async fn next_queue_wakes(&self, timeout_ms: u64) -> Result<Vec<String>> {
        let listener = self.listener().await;
        let woken = listener.take_queue_wakes();
        if !woken.is_empty() {
            return Ok(woken);
        }
        tokio::select! {
            _ = listener.queue_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(timeout_ms.max(1))) => {}
            _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
        }
        Ok(listener.take_queue_wakes())
    }

    /// Hands a value this process committed to its local waiters on `key` (see `Listener::offer`).
    pub fn offer(&self, key: &str, offered: Offered) {
        if let Some(l) = self.listener.get() {
            l.offer(key, offered);
        }
    }

    /// Calls `check` until it yields a value, re-checking on every notification for `key` and at least
    /// every `poll_ms`; None once `deadline_epoch_ms` passes (one check is always made). Holds no
    /// connection between checks. A waiting workflow's check also checks its ownership (in the same
    /// query), so a cancelled or fenced-out wait ends at its next wake-up. `check` is given the value
    /// offered on `key` since the wait began, if this process committed one (it may then skip its read).
    pub(crate) async fn wait_for<T, F, Fut>(
        &self,
        key: String,
        deadline_epoch_ms: Option<i64>,
        poll_ms: u64,
        mut check: F,
    ) -> Result<Option<T>>
    where
        F: FnMut(Option<Arc<Offered>>) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let listener = self.listener().await;
        let completion = is_completion_key(&key);
        let _interest = completion.then(|| listener.presence.interest());
        let waiter = listener.register(key);
        loop {
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            // Registered before the check: a notification that lands during it still wakes us.
            notified.as_mut().enable();
            if let Some(v) = check(waiter.offered()).await? {
                return Ok(Some(v));
            }
            let Some(wait) = next_wait(listener.poll_ms(poll_ms), deadline_epoch_ms) else {
                return Ok(None);
            };
            // Completers notify only while some process announces waiters: having just announced
            // ours, read again before waiting (see `waiting_presence`).
            if completion && listener.presence.hold().await {
                continue;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_wait_polls_at_least_every_millisecond_and_stops_at_the_deadline() {
        let far = now_ms() + 3_600_000;
        assert_eq!(next_wait(0, None), Some(Duration::from_millis(1)));
        assert_eq!(next_wait(250, Some(far)), Some(Duration::from_millis(250)));
        // A poll longer than what is left is cut to the deadline.
        assert!(next_wait(u64::MAX, Some(far)).is_some_and(|d| d <= Duration::from_secs(3600)));
        assert_eq!(next_wait(250, Some(now_ms() - 1)), None);
    }
}
