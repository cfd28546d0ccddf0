//! Completion notices: the IDs of queued workflows that just finished, NOTIFYed on our completions
//! channel (`listener::COMPLETIONS_CHANNEL`) by a task of their own, after the completions committed,
//! many IDs to a notification (joined by `COMPLETION_SEPARATOR`, up to `PAYLOAD_BYTES`): every
//! notification is queued by Postgres, then signalled to, read and parsed by every listening process.
//!
//! Not in the completion's own transaction: Postgres serializes every committing transaction that has
//! notified on one cluster-wide lock, held through its commit's flush, so a NOTIFY there took the
//! completions (and everything else that notifies) out of group commit: 14% of the throughput of 32
//! clients enqueuing, with fsync on. Here all the notices pending when one transaction starts share it.
//!
//! Sent only while some process announces completion waiters (`waiting_presence`): most completions
//! have none, and then cost no notifying transaction at all.
//!
//! Best effort, as notifications always are (a listener reconnecting misses some): a notice lost to a
//! failed statement or a crash right after the commit leaves its waiters to their poll.

use std::sync::Arc;

use deadpool_postgres::Pool;

use super::conn::StatementMode;
use super::listener::{COMPLETIONS_CHANNEL, COMPLETION_SEPARATOR};
use super::notices::{Kind, Notices};
use super::waiting_presence::{KEY_NAME, KEY_SPACE};
use super::Closer;

/// At most this many IDs per notifying transaction.
const MAX_PER_TRANSACTION: usize = 1000;
/// A notification's IDs stop at this many bytes (a payload may hold 8,000; an ID longer than this
/// goes alone).
const PAYLOAD_BYTES: usize = 4000;

/// The IDs as notification payloads: joined by the separator, each payload at most `PAYLOAD_BYTES`
/// unless one ID alone is longer.
fn payloads(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        match out.last_mut() {
            Some(p) if p.len() + 1 + id.len() <= PAYLOAD_BYTES => {
                p.push(COMPLETION_SEPARATOR);
                p.push_str(id);
            }
            _ => out.push(id.clone()),
        }
    }
    out
}

pub(crate) struct DoneNotices(Notices);

impl DoneNotices {
    /// Starts the notifying task on `runtime`; it ends with the engine (the sender's drop or close).
    pub(crate) fn start(
        pool: Pool,
        statements: Arc<StatementMode>,
        closed: Arc<Closer>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let kind = Kind {
            // Transactions, locks: one statement, autocommit. The exclusive transaction-level try
            // of the waiters' lock succeeds only when no process announces completion waiters; the
            // notices are then skipped (the transaction writes nothing, so it commits without a
            // flush), else sent (see `waiting_presence`).
            sql: format!(
                "SELECT CASE WHEN pg_try_advisory_xact_lock(hashtext($2), hashtext($3)) THEN 0 \
                   ELSE (SELECT count(pg_notify('{COMPLETIONS_CHANNEL}', p)) FROM unnest($1::text[]) AS p) END"
            ),
            constants: vec![KEY_SPACE.to_string(), KEY_NAME.to_string()],
            max_items: MAX_PER_TRANSACTION,
            // In the order they finished.
            payloads: |ids: Vec<String>| payloads(&ids),
        };
        DoneNotices(Notices::start(kind, pool, statements, closed, runtime))
    }

    /// Notifies that these queued workflows finished (their completions have committed).
    pub(crate) fn send(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            self.0.send(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_join_ids_up_to_the_limit() {
        let ids: Vec<String> = (0..300).map(|i| format!("workflow-{i:04}")).collect();
        let p = payloads(&ids);
        assert!(p.len() > 1 && p.iter().all(|x| x.len() <= PAYLOAD_BYTES));
        let back: Vec<&str> = p
            .iter()
            .flat_map(|x| x.split(COMPLETION_SEPARATOR))
            .collect();
        assert_eq!(back, ids.iter().map(String::as_str).collect::<Vec<_>>());
        let long = "x".repeat(PAYLOAD_BYTES + 10);
        assert_eq!(
            payloads(&[long.clone(), "a".into()]),
            vec![long, "a".to_string()]
        );
    }
}
