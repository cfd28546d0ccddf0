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

use super::conn::StatementMode;
use super::listener::QUEUES_CHANNEL;
use super::notices::{Kind, Notices};
use super::Closer;

pub(crate) struct QueueNotices(Notices);

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
        let kind = Kind {
            // Transactions, locks: one statement, autocommit, no row locks.
            sql: format!(
                "SELECT count(pg_notify('{QUEUES_CHANNEL}', $2::text || q)) FROM unnest($1::text[]) AS q"
            ),
            constants: vec![prefix],
            // Every queue pending, each once.
            max_items: usize::MAX,
            payloads: |queues: BTreeSet<String>| queues.into_iter().collect(),
        };
        QueueNotices(Notices::start(kind, pool, statements, closed, runtime))
    }

    /// Notifies that rows were enqueued onto `queue` (their inserts have committed).
    pub(crate) fn send(&self, queue: &str) {
        self.0.send(queue.to_string());
    }
}
