//! Whether anyone waits for queued workflows' completions, so that completers notify only then.
//!
//! A completion notice (`done_notices`) is a transaction of its own that Postgres serializes with
//! every other notifying commit, and every listening process reads and parses it. Most completions
//! have nobody waiting in another process (the workflow's own process wakes its local waiters; the
//! official SDK's clients poll), so each process that has completion waiters says so by holding a
//! shared session-level advisory lock, `KEY`, on its listener connection: Postgres drops it with the
//! session, so a dead process never keeps notices coming. A completer's notice statement tries the
//! lock exclusively for its own transaction and notifies only when that fails (a holder exists, or
//! another completer holds it that instant: a notice too many, never one too few).
//!
//! No completion is missed: a waiter reads the row only after its process holds the lock (`Presence::
//! hold`, then the waiter re-reads). A completion that committed before the lock was taken is seen
//! by that read; one whose notice statement ran after it fails to take the lock and notifies; the
//! notice statement that runs while the waiter takes the lock holds it exclusively, so the waiter's
//! lock waits for that statement to end, after the completion committed, and the read sees it.
//! When the listener reconnects, the lock is taken again before the waiters are woken to re-read.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio_postgres::Client;

/// The lock's two keys, `hashtext` of these (the database's own hash, so every process and version
/// agrees on them).
pub const KEY_SPACE: &str = "dbos_native";
pub const KEY_NAME: &str = "completion waiters";

/// How long the lock stays after the last waiter leaves: waits come and go in bursts, and taking
/// it costs a round trip on the listener connection.
const LINGER: Duration = Duration::from_secs(2);

/// The process's completion waiters and the lock that announces them.
#[derive(Default)]
pub struct Presence {
    waiters: AtomicUsize,
    /// The lock is held on the current listener connection.
    held: AtomicBool,
    /// The current listener connection (None while disconnected). Weak: the listener owns it, and
    /// dropping the listener's task (at close) must close it.
    client: Mutex<Option<Weak<Client>>>,
    /// Serializes taking and releasing the lock.
    turn: tokio::sync::Mutex<()>,
}

/// One waiter's interest; the lock is released (after `LINGER`) once none is left.
pub struct Interest {
    presence: Arc<Presence>,
}

impl Drop for Interest {
    fn drop(&mut self) {
        if self.presence.waiters.fetch_sub(1, Ordering::SeqCst) == 1 {
            let presence = self.presence.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    tokio::time::sleep(LINGER).await;
                    presence.release_if_unused().await;
                });
            }
        }
    }
}

fn client_slot(p: &Presence) -> std::sync::MutexGuard<'_, Option<Weak<Client>>> {
    p.client
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The listener connection, if it is still up.
fn current_client(p: &Presence) -> Option<Arc<Client>> {
    client_slot(p).as_ref().and_then(Weak::upgrade)
}

impl Presence {
    /// Counts a completion waiter until the returned guard drops.
    pub fn interest(self: &Arc<Self>) -> Interest {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        Interest {
            presence: self.clone(),
        }
    }

    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    /// Takes the lock if it is not held and the listener is connected. Returns true when this call
    /// took it: the caller must then re-read before waiting (see the module's comment). Without a
    /// connection it does nothing: the waiters poll, and the reconnect takes the lock for them.
    pub async fn hold(&self) -> bool {
        if self.is_held() {
            return false;
        }
        let _turn = self.turn.lock().await;
        if self.is_held() {
            return false;
        }
        let Some(client) = current_client(self) else {
            return false;
        };
        // Transactions, locks: autocommit; a session-level shared advisory lock, held until released
        // or the session ends. Waits only while a completer's notice statement holds it exclusively.
        let taken = client
            .execute(
                "SELECT pg_advisory_lock_shared(hashtext($1), hashtext($2))",
                &[&KEY_SPACE, &KEY_NAME],
            )
            .await
            .is_ok();
        self.held.store(taken, Ordering::SeqCst);
        taken
    }

    async fn release_if_unused(&self) {
        let _turn = self.turn.lock().await;
        if self.waiters.load(Ordering::SeqCst) > 0 || !self.is_held() {
            return;
        }
        let Some(client) = current_client(self) else {
            return;
        };
        let released = client
            .execute(
                "SELECT pg_advisory_unlock_shared(hashtext($1), hashtext($2))",
                &[&KEY_SPACE, &KEY_NAME],
            )
            .await
            .is_ok();
        if released {
            self.held.store(false, Ordering::SeqCst);
        }
    }

    /// A listener connection is up: takes the lock on it now if anyone waits (before the waiters
    /// are woken to re-read, which the caller does next).
    pub async fn connected(&self, client: &Arc<Client>) {
        *client_slot(self) = Some(Arc::downgrade(client));
        self.held.store(false, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.hold().await;
        }
    }

    /// The listener connection is gone, and the lock with its session.
    pub fn disconnected(&self) {
        *client_slot(self) = None;
        self.held.store(false, Ordering::SeqCst);
    }
}
