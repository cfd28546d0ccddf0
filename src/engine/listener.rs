//! One LISTEN connection per process on the DBOS channels, and the registry of waiters keyed by the
//! notification payload (`<workflowID>::<topic or key>`). A notification is only a hint: waiters re-read
//! the table when woken and on a poll interval, so a lost notification costs latency, never correctness.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio_postgres::{AsyncMessage, Config, NoTls};

use super::Closer;

pub const NOTIFICATIONS_CHANNEL: &str = "dbos_notifications_channel";
pub const EVENTS_CHANNEL: &str = "dbos_workflow_events_channel";
pub const STREAMS_CHANNEL: &str = "dbos_streams_channel";
/// Our own channel (the SDK does not use it): the payload is `<origin>\x1f<queue>`, the notifying
/// engine's origin (the `origin` field of `Engine`) and the name of a queue just enqueued onto.
pub const QUEUES_CHANNEL: &str = "dbos_native_queues_channel";
/// Our own channel: the payload is the IDs of queued workflows that just finished, joined by
/// `COMPLETION_SEPARATOR` (see `completion_key` and `done_notices`).
pub const COMPLETIONS_CHANNEL: &str = "dbos_native_completions_channel";
/// Separates the IDs in a completion notification. A workflow ID holding this control character
/// would be split, so its waiters would learn of its end only from their poll.
pub const COMPLETION_SEPARATOR: char = '\u{1e}';
/// Our own channel: a schedule was created, changed or deleted (payload: its name). Its waiters
/// (the schedule firing) register on `SCHEDULES_KEY`, which no `<workflowID>::<key>` payload can be.
pub const SCHEDULES_CHANNEL: &str = "dbos_native_schedules_channel";
pub const SCHEDULES_KEY: &str = "\0schedules";

/// The waiters' key for a workflow's completion: it cannot collide with a `<workflowID>::<key>`
/// payload (an ID never holds a NUL character).
pub fn completion_key(workflow_id: &str) -> String {
    format!("{workflow_id}\0done")
}

/// What a notification is for, by its channel.
enum Heard {
    Queue(String),
    Completion(String),
    Key(String),
}
/// Separates the origin from the queue name in a queue notification.
const ORIGIN_SEPARATOR: char = '\u{1f}';

const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A committed value this process wrote, handed straight to the waiters that were registered on its
/// key when it committed, so that they need not read it back.
#[derive(Debug, Clone)]
pub struct Offered {
    pub value: String,
    pub serialization: Option<String>,
    /// Where a stream write put it; None for an event (the two share keys: `<workflowID>::<key>`).
    pub stream_offset: Option<i32>,
}

/// The waiters of one payload.
struct Entry {
    notify: Arc<Notify>,
    /// How many are registered: the entry goes when the last one leaves.
    count: usize,
    /// Offers made so far; a waiter takes only an offer newer than its registration.
    offers: u64,
    latest: Option<Arc<Offered>>,
}

#[derive(Default)]
struct Registry {
    waiters: HashMap<String, Entry>,
}

/// Shared between the listener task and every waiter.
pub struct Listener {
    registry: Mutex<Registry>,
    connected: AtomicBool,
    /// Queues enqueued onto (by any process) since the dispatcher last took them.
    queue_wakes: Mutex<HashSet<String>>,
    /// Signalled when `queue_wakes` gains a name (a permit is kept if nobody waits yet).
    queue_wake: Notify,
    /// This engine's origin: its own queue notifications are skipped (its enqueues woke the lane
    /// locally already; the echo would cost a second claim per enqueue).
    origin: String,
    /// Whose liveness lock the listener's session holds (`fleet::liveness`); None: a client's.
    liveness: Option<super::fleet::liveness::LivenessId>,
}

/// A registration: woken on each notification for its key (and on every reconnect).
pub struct Waiter {
    listener: Arc<Listener>,
    key: String,
    pub notify: Arc<Notify>,
    /// The entry's offer count when this waiter registered.
    seen: u64,
}

impl Waiter {
    /// The latest value offered on this key since this waiter registered, if any.
    pub fn offered(&self) -> Option<Arc<Offered>> {
        let reg = self.listener.lock();
        let entry = reg.waiters.get(&self.key)?;
        if entry.offers > self.seen {
            entry.latest.clone()
        } else {
            None
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut reg = self.listener.lock();
        if let Some(entry) = reg.waiters.get_mut(&self.key) {
            entry.count -= 1;
            if entry.count == 0 {
                reg.waiters.remove(&self.key);
            }
        }
    }
}

impl Listener {
    fn new(origin: String, liveness: Option<super::fleet::liveness::LivenessId>) -> Arc<Self> {
        Arc::new(Listener {
            origin,
            liveness,
            registry: Mutex::new(Registry::default()),
            connected: AtomicBool::new(false),
            queue_wakes: Mutex::new(HashSet::new()),
            queue_wake: Notify::new(),
        })
    }

    fn note_queue_wake(&self, payload: &str) {
        let queue = match payload.split_once(ORIGIN_SEPARATOR) {
            Some((origin, _)) if origin == self.origin => return,
            Some((_, queue)) => queue,
            // Untagged (an older build): a wake like any other.
            None => payload,
        };
        let queue = queue.to_string();
        self.queue_wakes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(queue);
        self.queue_wake.notify_one();
    }

    fn take_queue_wakes(&self) -> Vec<String> {
        self.queue_wakes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding this lock cannot leave the map inconsistent: keep going.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers interest in `key` (a notification payload).
    pub fn register(self: &Arc<Self>, key: String) -> Waiter {
        let (notify, seen) = {
            let mut reg = self.lock();
            let entry = reg.waiters.entry(key.clone()).or_insert_with(|| Entry {
                notify: Arc::new(Notify::new()),
                count: 0,
                offers: 0,
                latest: None,
            });
            entry.count += 1;
            (entry.notify.clone(), entry.offers)
        };
        Waiter {
            listener: self.clone(),
            key,
            notify,
            seen,
        }
    }

    /// Wakes the waiters of one key (a notification arrived, or this process wrote it).
    pub fn wake(&self, key: &str) {
        let notify = self.lock().waiters.get(key).map(|e| e.notify.clone());
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Hands a committed value to the waiters registered on `key` now, and wakes them.
    pub fn offer(&self, key: &str, offered: Offered) {
        let notify = {
            let mut reg = self.lock();
            let Some(entry) = reg.waiters.get_mut(key) else {
                return;
            };
            entry.offers += 1;
            entry.latest = Some(Arc::new(offered));
            entry.notify.clone()
        };
        notify.notify_waiters();
    }

    /// Wakes everybody: after a reconnect, notifications may have been missed.
    fn wake_all(&self) {
        let all: Vec<Arc<Notify>> = self
            .lock()
            .waiters
            .values()
            .map(|e| e.notify.clone())
            .collect();
        for n in all {
            n.notify_waiters();
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    pub fn waiter_count(&self) -> usize {
        self.lock().waiters.values().map(|e| e.count).sum()
    }

    /// Starts the listening task; it reconnects after errors until the engine closes.
    pub(crate) fn start(
        config: Config,
        closed: Arc<Closer>,
        origin: String,
        liveness: Option<super::fleet::liveness::LivenessId>,
    ) -> Arc<Self> {
        let listener = Listener::new(origin, liveness);
        let task_listener = listener.clone();
        tokio::spawn(async move {
            while !closed.is_closed() {
                tokio::select! {
                    _ = task_listener.listen_once(&config) => {}
                    _ = closed.cancelled() => break,
                }
                task_listener.connected.store(false, Ordering::SeqCst);
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_DELAY) => {}
                    _ = closed.cancelled() => break,
                }
            }
            task_listener.connected.store(false, Ordering::SeqCst);
        });
        listener
    }

    /// One connection's life: LISTEN, then dispatch notifications until the connection fails.
    async fn listen_once(&self, config: &Config) {
        let Ok((client, mut connection)) = config.connect(NoTls).await else {
            return;
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        let payload = n.payload().to_string();
                        let heard = match n.channel() {
                            QUEUES_CHANNEL => Heard::Queue(payload),
                            COMPLETIONS_CHANNEL => Heard::Completion(payload),
                            SCHEDULES_CHANNEL => Heard::Key(SCHEDULES_KEY.to_string()),
                            _ => Heard::Key(payload),
                        };
                        if tx.send(heard).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        // --- fleet: this session holds the executor's liveness lock until it ends (before LISTEN,
        // so a process that can wait for notifications is one the fleet sees alive).
        if let Some(id) = &self.liveness {
            super::fleet::liveness::hold(&client, id).await;
        }
        let listen = format!(
            "LISTEN {NOTIFICATIONS_CHANNEL}; LISTEN {EVENTS_CHANNEL}; LISTEN {STREAMS_CHANNEL}; \
             LISTEN {QUEUES_CHANNEL}; LISTEN {COMPLETIONS_CHANNEL}; LISTEN {SCHEDULES_CHANNEL};"
        );
        if client.batch_execute(&listen).await.is_ok() {
            self.connected.store(true, Ordering::SeqCst);
            self.wake_all();
            while let Some(heard) = rx.recv().await {
                match heard {
                    Heard::Queue(payload) => self.note_queue_wake(&payload),
                    Heard::Completion(ids) => {
                        for id in ids.split(COMPLETION_SEPARATOR) {
                            self.wake(&completion_key(id));
                        }
                    }
                    Heard::Key(key) => self.wake(&key),
                }
            }
        }
        driver.abort();
    }
}

use super::db::now_ms;
use super::error::{EngineError, Result};
use super::Engine;

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
                let mut config = self.config.clone();
                // Named, so it can be told apart in pg_stat_activity; keepalives notice a silently
                // dropped connection in about a minute rather than at the OS's two-hour default.
                config
                    .application_name(format!(
                        "{}{}",
                        super::fleet::liveness::LISTENER_APP_PREFIX,
                        self.identity.executor_id
                    ))
                    .connect_timeout(Duration::from_secs(10))
                    .keepalives(true)
                    .keepalives_idle(Duration::from_secs(30));
                Listener::start(
                    config,
                    self.closed.clone(),
                    self.origin.clone(),
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

    /// Tells every listening process that `queue` has new work (delivered when this commits: here,
    /// at once, as a statement of its own). A lost notification only delays the run to the next poll.
    pub async fn notify_queue(&self, queue: &str) -> Result<()> {
        let payload = format!("{}{ORIGIN_SEPARATOR}{queue}", self.origin);
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
        let waiter = listener.register(key);
        loop {
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            // Registered before the check: a notification that lands during it still wakes us.
            notified.as_mut().enable();
            if let Some(v) = check(waiter.offered()).await? {
                return Ok(Some(v));
            }
            let Some(wait) = next_wait(poll_ms, deadline_epoch_ms) else {
                return Ok(None);
            };
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
