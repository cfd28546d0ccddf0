//! A client's enqueue notifications: the queues just enqueued onto, NOTIFYed on our queues channel
//! (`listener::QUEUES_CHANNEL`) by a task of their own after the enqueues committed, every queue
//! pending when one notifying transaction starts sharing it.
//!
//! Not in the enqueue's own statement: Postgres serializes every committing transaction that has
//! notified on one cluster-wide lock, held through its commit's flush, so notifying enqueues
//! committed one after another instead of in group commit, and a caller waited for that; and not
//! awaited by the caller either (its row is committed; the notification only saves the dispatchers'
//! poll). Best effort, as notifications always are: one lost to a failed statement or a crash right
//! after the commit leaves the rows to the queue's poll.

use std::collections::BTreeSet;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::conn::{Conn, StatementMode};
use super::listener::QUEUES_CHANNEL;
use super::Closer;

pub(crate) struct QueueNotices {
    tx: mpsc::UnboundedSender<String>,
}

impl QueueNotices {
    /// Starts the notifying task on `runtime`; it ends with the engine. `prefix` starts every
    /// payload (the engine's origin, so that its own listener skips the echo).
    pub(crate) fn start(
        pool: Pool,
        statements: Arc<StatementMode>,
        closed: Arc<Closer>,
        prefix: String,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        runtime.spawn(async move {
            // Transactions, locks: one statement, autocommit, no row locks.
            let sql = format!(
                "SELECT count(pg_notify('{QUEUES_CHANNEL}', $1::text || q)) FROM unnest($2::text[]) AS q"
            );
            while let Some(first) = rx.recv().await {
                let mut queues = BTreeSet::from([first]);
                while let Ok(q) = rx.try_recv() {
                    queues.insert(q);
                }
                if closed.is_closed() {
                    break;
                }
                let queues: Vec<String> = queues.into_iter().collect();
                if let Ok(client) = pool.get().await {
                    let client = Conn::new(client, statements.clone());
                    if let Ok(stmt) = client.prepare_cached(&sql).await {
                        let _ = client.execute(&stmt, &[&prefix, &queues]).await;
                    }
                }
            }
        });
        QueueNotices { tx }
    }

    /// Notifies that rows were enqueued onto `queue` (their inserts have committed).
    pub(crate) fn send(&self, queue: &str) {
        // Fails only once the task has ended with the engine.
        let _ = self.tx.send(queue.to_string());
    }
}
