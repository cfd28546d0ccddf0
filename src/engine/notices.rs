//! A task that NOTIFYs after commit: items sent to it (their writes have committed) wait in a
//! channel, and every item pending when one notifying transaction starts shares it, one statement
//! in autocommit. Serves `queue_notices` and `done_notices`, which say why their notices are not in
//! the writes' own transactions.
//!
//! Best effort, as notifications always are: a notice lost to a failed statement or a crash right
//! after the commit leaves its listeners to their poll.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::conn::{Conn, StatementMode};
use super::db::Param;
use super::Closer;

/// One kind of notice: its statement and how a transaction's items become its payloads.
pub(crate) struct Kind<B> {
    /// One statement, autocommit: `$1` the payloads (`text[]`), then `constants` in order.
    pub(crate) sql: String,
    pub(crate) constants: Vec<String>,
    /// At most this many items per notifying transaction.
    pub(crate) max_items: usize,
    /// The items one transaction takes, gathered into `B`, as its payloads.
    pub(crate) payloads: fn(B) -> Vec<String>,
}

pub(crate) struct Notices {
    tx: mpsc::UnboundedSender<String>,
}

impl Notices {
    /// Starts the notifying task on `runtime`; it ends with the engine (the sender's drop or close).
    pub(crate) fn start<B>(
        kind: Kind<B>,
        pool: Pool,
        statements: Arc<StatementMode>,
        closed: Arc<Closer>,
        runtime: &tokio::runtime::Handle,
    ) -> Self
    where
        B: Default + Extend<String> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        runtime.spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut items = B::default();
                items.extend([first]);
                let mut taken = 1;
                while taken < kind.max_items {
                    match rx.try_recv() {
                        Ok(item) => items.extend([item]),
                        Err(_) => break,
                    }
                    taken += 1;
                }
                if closed.is_closed() {
                    break;
                }
                let payloads = (kind.payloads)(items);
                let mut params: Vec<Param> = vec![&payloads];
                params.extend(kind.constants.iter().map(|c| c as Param));
                if let Ok(client) = pool.get().await {
                    let client = Conn::new(client, statements.clone());
                    if let Ok(stmt) = client.prepare_cached(&kind.sql).await {
                        // Best effort (see the module's comment).
                        let _ = client.execute(&stmt, &params).await;
                    }
                }
            }
        });
        Notices { tx }
    }

    /// Hands the task an item whose write has committed.
    pub(crate) fn send(&self, item: String) {
        // Fails only once the task has ended with the engine: nothing is listening for it then.
        let _ = self.tx.send(item);
    }
}
