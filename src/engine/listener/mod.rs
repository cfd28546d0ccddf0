//! One LISTEN connection per process on the DBOS channels, and the registry of waiters keyed by the
//! notification payload (`<workflowID>::<topic or key>`). A notification is only a hint: waiters re-read
//! the table when woken and on a poll interval, so a lost notification costs latency, never correctness.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio_postgres::{AsyncMessage, Config};

use super::tls::Tls;
use super::waiting_presence::Presence;
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
    format!("{workflow_id}{COMPLETION_SUFFIX}")
}
const COMPLETION_SUFFIX: &str = "\0done";

fn is_completion_key(key: &str) -> bool {
    key.ends_with(COMPLETION_SUFFIX)
}

/// What a notification is for, by its channel.
enum Heard {
    Queue(String),
    Completion(String),
    Key(String),
}
/// Separates the origin from the queue name in a queue notification.
const ORIGIN_SEPARATOR: char = '\u{1f}';

/// What a queue notification of the engine of this origin starts with.
pub(crate) fn queue_payload_prefix(origin: &str) -> String {
    format!("{origin}{ORIGIN_SEPARATOR}")
}

const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Polling mode (`useListenNotify: false`, or transaction pooling without a listen URL): nothing
/// LISTENs, so every wait re-reads at least this often (the SDK polls recv and getEvent every 10 s,
/// results and streams every second)...
pub const POLLING_MODE_POLL_MS: u64 = 200;
/// ...stretched by this much per registered waiter, so that a process with many waits makes at most
/// about 1,000 wait checks a second; never beyond the wait's own `pollingIntervalMs`.
const POLLING_MODE_MS_PER_WAITER: u64 = 1;

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
    /// Whether this process has completion waiters, told to the completers (`waiting_presence`).
    pub presence: Arc<Presence>,
    /// False in polling mode: the connection is opened and kept, but LISTENs to nothing.
    listens: bool,
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
    fn new(
        origin: String,
        listens: bool,
        liveness: Option<super::fleet::liveness::LivenessId>,
    ) -> Arc<Self> {
        Arc::new(Listener {
            origin,
            presence: Arc::default(),
            listens,
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

    /// Whether waits are woken by notifications (false: polling mode).
    pub fn listens(&self) -> bool {
        self.listens
    }

    /// How often a wait asking for `requested_ms` re-reads: as asked when notifications wake it; in
    /// polling mode at most every `POLLING_MODE_POLL_MS` (more with many waiters, see above).
    pub fn poll_ms(&self, requested_ms: u64) -> u64 {
        if self.listens {
            return requested_ms;
        }
        let per_waiter = (self.waiter_count() as u64).saturating_mul(POLLING_MODE_MS_PER_WAITER);
        requested_ms.min(POLLING_MODE_POLL_MS.max(per_waiter))
    }

    /// Starts the listening task; it reconnects after errors until the engine closes.
    pub(crate) fn start(
        config: Config,
        tls: Tls,
        closed: Arc<Closer>,
        origin: String,
        listens: bool,
        liveness: Option<super::fleet::liveness::LivenessId>,
    ) -> Arc<Self> {
        let listener = Listener::new(origin, listens, liveness);
        let task_listener = listener.clone();
        tokio::spawn(async move {
            while !closed.is_closed() {
                tokio::select! {
                    _ = task_listener.listen_once(&config, &tls) => {}
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

    /// One connection's life: LISTEN (not in polling mode), then dispatch notifications until the
    /// connection fails.
    async fn listen_once(&self, config: &Config, tls: &Tls) {
        let Ok((client, mut connection)) = config.connect(tls.clone()).await else {
            return;
        };
        let client = Arc::new(client);
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
        // Polling mode: the connection is kept (its session outlives this block) but hears nothing.
        let listening = !self.listens || client.batch_execute(&listen).await.is_ok();
        if listening {
            // Before the wake: the waiters' re-reads must come after the lock is held again. Not in
            // polling mode, where this process hears no notice anyway (and behind a transaction
            // pooler, a session lock would not be one).
            if self.listens {
                self.presence.connected(&client).await;
            }
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
        self.presence.disconnected();
        driver.abort();
    }
}

mod waits;
pub(crate) use waits::next_wait;
pub use waits::WaitGuard;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_mode_caps_a_wait_s_poll_and_stretches_it_with_many_waiters() {
        let listening = Listener::new("o".to_string(), true, None);
        assert_eq!(listening.poll_ms(10_000), 10_000);
        let polling = Listener::new("o".to_string(), false, None);
        assert_eq!(polling.poll_ms(10_000), POLLING_MODE_POLL_MS);
        assert_eq!(polling.poll_ms(50), 50);
        let waiters: Vec<Waiter> = (0..500)
            .map(|i| polling.register(format!("k{i}")))
            .collect();
        assert_eq!(polling.poll_ms(10_000), 500);
        drop(waiters);
        assert_eq!(polling.poll_ms(10_000), POLLING_MODE_POLL_MS);
    }
}
