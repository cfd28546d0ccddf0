//! The self-healing fleet: a live process takes over the PENDING workflows of a dbos-native executor
//! that died for good (autoscaling, spot instances, rolling deploys give the replacement a new executor
//! ID, so recovery at launch never sees them).
//!
//! The rule, checked by every process about once a second (`take_over_dead_executors`):
//! - an executor is *ours* once this process has seen a session holding its liveness key
//!   (`liveness`) under its listener's name; an executor never seen so (an official-SDK process, a
//!   dbos-native process that died before this one started) is never touched;
//! - it is *dead* once no session holds its key; this process notes when it first saw that, on its own
//!   monotonic clock (no clocks are compared across hosts);
//! - once it has been dead for the grace period, the first process to get its key as a transaction
//!   lock (which also proves no session holds it) puts its PENDING rows of this application and
//!   version back on their queues, as the SDK's recovery does (`takeover` below). Dispatch then claims
//!   them, on any live process of the version, and runs each from its checkpoints as recovery does.
//!
//! Bound: a takeover happens within grace + about two scans (one to notice the key free, one to act)
//! after Postgres ended the dead process's session. A killed process's session ends at once (the
//! kernel closes its socket); a vanished host's ends when the server's TCP keepalive gives up
//! (`tcp_keepalives_*` on the server). The grace rides out a listener reconnect (one second).
//!
//! Fencing: a process that is cut off but still running loses its key; once it is taken over, the
//! claims give its workflows new owners (`owner_xid`), so its executions' further writes are refused
//! (`fence`) and each of them stops and adopts the new owner's outcome.
pub mod liveness;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::db::now_ms;
use super::error::Result;
use super::recovery::INTERNAL_QUEUE;
use super::status::Status;
use super::Engine;
use liveness::{liveness_key, liveness_objid, LISTENER_APP_PREFIX, LIVENESS_SPACE};

/// What one takeover moved: the dead executor, its workflows put back on a queue, and those queues.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub executor_id: String,
    pub workflow_ids: Vec<String>,
    pub queues: Vec<String>,
}

/// The executors this process has seen as ours, each with when it first saw it dead (None: alive).
pub struct Fleet {
    seen: Mutex<HashMap<String, Option<Instant>>>,
    /// Whether this engine is an executor that publishes its liveness (an app, not a client).
    publishes: bool,
}

impl Fleet {
    pub(crate) fn new(publishes: bool) -> Self {
        Fleet {
            seen: Mutex::default(),
            publishes,
        }
    }

    /// The executor whose liveness the listener's session holds; None for a client (several
    /// clients share one executor ID, and none runs workflows).
    pub(crate) fn liveness_id(&self, executor_id: &str) -> Option<String> {
        self.publishes.then(|| executor_id.to_string())
    }

    /// Records one look at the liveness keys (`(application_name, objid)` of each session holding
    /// one) and returns the executors dead for at least `grace`, never `me`.
    fn observe(&self, holders: &[(Option<String>, i64)], me: &str, grace: Duration) -> Vec<String> {
        let held: HashSet<i64> = holders.iter().map(|(_, objid)| *objid).collect();
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (name, objid) in holders {
            let Some(id) = name
                .as_deref()
                .and_then(|n| n.strip_prefix(LISTENER_APP_PREFIX))
            else {
                continue;
            };
            // The name and the key must agree: a truncated name, or a session holding another key,
            // identifies nobody.
            if id != me && liveness_objid(id) == *objid {
                seen.insert(id.to_string(), None);
            }
        }
        let mut due = Vec::new();
        for (id, dead_since) in seen.iter_mut() {
            if held.contains(&liveness_objid(id)) {
                *dead_since = None;
            } else if now.duration_since(*dead_since.get_or_insert(now)) >= grace {
                due.push(id.clone());
            }
        }
        due
    }

    fn forget(&self, executor_id: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(executor_id);
    }
}

impl Engine {
    /// One look at the fleet: takes over every executor of ours dead for at least `grace` (see the
    /// module's rule). Returns what it moved; the caller wakes the queues.
    pub async fn take_over_dead_executors(&self, grace: Duration) -> Result<Vec<TakenOver>> {
        let holders = self.liveness_holders().await?;
        let due = self
            .fleet
            .observe(&holders, &self.identity.executor_id, grace);
        let mut moved = Vec::new();
        for id in due {
            if let Some(t) = self.take_over(&id).await? {
                self.fleet.forget(&id);
                moved.push(t);
            }
        }
        Ok(moved)
    }

    /// The sessions holding a liveness key in this database, with their `application_name`.
    /// Transactions, locks: one autocommit SELECT of the lock and activity views, no locks taken.
    async fn liveness_holders(&self) -> Result<Vec<(Option<String>, i64)>> {
        let sql = "SELECT a.application_name, l.objid::bigint FROM pg_locks l \
                   LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
                   WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objsubid = 2 AND l.granted \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";
        let space = i64::from(LIVENESS_SPACE);
        self.retrying(|| async {
            let rows = self.query(sql, &[&space]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
        .await
    }

    /// Puts a dead executor's PENDING workflows of this application and version back on their queues
    /// (direct starts on the internal queue), exactly as the SDK's recovery re-enqueues them. None if
    /// its key is held (it came back, or another process is taking it over now).
    ///
    /// Transactions, locks: one READ COMMITTED transaction. `pg_try_advisory_xact_lock` on the
    /// executor's liveness key, held to commit: it fails while any session holds the key, so it both
    /// proves the executor dead and makes this the only taker; a process of that executor that
    /// reconnects meanwhile waits for it (`liveness::hold`). The UPDATE then locks each row it moves.
    /// Safe to retry: a retry finds the moved rows ENQUEUED and moves nothing.
    async fn take_over(&self, executor_id: &str) -> Result<Option<TakenOver>> {
        let s = &self.schema_q;
        let (pending, enqueued) = (Status::Pending.sql(), Status::Enqueued.sql());
        // $1 dead executor, $2 version, $3 names, $4 now
        let requeue = format!(
            "UPDATE {s}.workflow_status SET status = {enqueued}, owner_xid = NULL, started_at_epoch_ms = NULL, \
               updated_at = $4, queue_name = COALESCE(queue_name, '{INTERNAL_QUEUE}') \
             WHERE status = {pending} AND executor_id = $1 AND application_version = $2 \
               AND (application_name = ANY($3) OR application_name IS NULL) \
             RETURNING workflow_uuid, queue_name"
        );
        let names = vec![self.identity.app_name.clone()];
        let key = liveness_key(executor_id);
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let got: bool = tx
                .query_one(
                    "SELECT pg_try_advisory_xact_lock($1, $2)",
                    &[&LIVENESS_SPACE, &key],
                )
                .await?
                .get(0);
            if !got {
                return Ok(None);
            }
            let rows = tx
                .query(
                    &requeue,
                    &[&executor_id, &self.identity.app_version, &names, &now_ms()],
                )
                .await?;
            tx.commit().await?;
            let mut queues: Vec<String> = rows.iter().filter_map(|r| r.get(1)).collect();
            queues.sort();
            queues.dedup();
            Ok(Some(TakenOver {
                executor_id: executor_id.to_string(),
                workflow_ids: rows.iter().map(|r| r.get(0)).collect(),
                queues,
            }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(id: &str) -> (Option<String>, i64) {
        (
            Some(format!("{LISTENER_APP_PREFIX}{id}")),
            liveness_objid(id),
        )
    }

    #[test]
    fn only_executors_seen_holding_their_key_are_taken_and_only_after_the_grace() {
        let fleet = Fleet::new(true);
        let zero = Duration::ZERO;
        // A pool connection's name or a name that does not match its key identifies nobody.
        let stray = (Some("dbos_native_x_v1".to_string()), liveness_objid("x"));
        let wrong = (Some(format!("{LISTENER_APP_PREFIX}y")), liveness_objid("z"));
        assert!(fleet
            .observe(&[listener("a"), listener("me"), stray, wrong], "me", zero)
            .is_empty());
        // "a" is gone: due at once with no grace, never with a long one; "me", "x", "y" never.
        assert!(fleet.observe(&[], "me", Duration::from_secs(60)).is_empty());
        assert_eq!(fleet.observe(&[], "me", zero), vec!["a".to_string()]);
        // Back (or a collision holds its key): alive again.
        assert!(fleet
            .observe(&[(None, liveness_objid("a"))], "me", zero)
            .is_empty());
        fleet.forget("a");
        assert!(fleet.observe(&[], "me", zero).is_empty());
    }
}
