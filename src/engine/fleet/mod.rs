//! The self-healing fleet: a live process takes over the PENDING workflows of a dbos-native executor
//! that died for good (autoscaling, spot instances, rolling deploys give the replacement a new executor
//! ID, so recovery at launch never sees them).
//!
//! The rule, checked by every process about once a second (`take_over_dead_executors`):
//! - an executor is *ours* once it is in the registry (`liveness`): our processes register their
//!   executor ID whenever their listener takes its liveness lock; an executor never registered (an
//!   official-SDK process) is never touched;
//! - it is *dead* once no session holds its key; this process notes when it first saw that, on its own
//!   monotonic clock (no clocks are compared across hosts);
//! - once it has been dead for the grace period, the first process to get its key as a transaction
//!   lock (which also proves no session holds it) puts its PENDING rows of this application and
//!   version back on their queues, as the SDK's recovery does (`take_over` below), and drops it from
//!   the registry if it has no PENDING row left. Dispatch then claims them, on any live process of the
//!   version, and runs each from its checkpoints as recovery does.
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
use liveness::{
    liveness_key, liveness_objid, LivenessId, LIVENESS_SPACE, REGISTRY_FN, REGISTRY_SERVICE,
};

/// What one takeover moved: the dead executor, its workflows put back on a queue, and those queues.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub executor_id: String,
    pub workflow_ids: Vec<String>,
    pub queues: Vec<String>,
}

/// The registered executors this process has seen dead, each with when it first saw that.
pub struct Fleet {
    dead_since: Mutex<HashMap<String, Instant>>,
    /// Whether this engine is an executor that publishes its liveness (an app, not a client).
    publishes: bool,
}

impl Fleet {
    pub(crate) fn new(publishes: bool) -> Self {
        Fleet {
            dead_since: Mutex::default(),
            publishes,
        }
    }

    /// The executor whose liveness the listener's session holds; None for a client (several
    /// clients share one executor ID, and none runs workflows).
    pub(crate) fn liveness_id(&self, executor_id: &str, schema_q: &str) -> Option<LivenessId> {
        self.publishes.then(|| LivenessId {
            executor_id: executor_id.to_string(),
            schema_q: schema_q.to_string(),
        })
    }

    /// Records one look at the registry and at the held keys (`pg_locks.objid`s) and returns the
    /// registered executors dead for at least `grace`, never `me`.
    fn observe(
        &self,
        registered: &[String],
        held: &HashSet<i64>,
        me: &str,
        grace: Duration,
    ) -> Vec<String> {
        let now = Instant::now();
        let mut dead_since = self.dead_since.lock().unwrap_or_else(|p| p.into_inner());
        dead_since.retain(|id, _| registered.contains(id));
        let mut due = Vec::new();
        for id in registered {
            if id == me || held.contains(&liveness_objid(id)) {
                dead_since.remove(id);
            } else if now.duration_since(*dead_since.entry(id.clone()).or_insert(now)) >= grace {
                due.push(id.clone());
            }
        }
        due
    }

    fn forget(&self, executor_id: &str) {
        self.dead_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(executor_id);
    }
}

impl Engine {
    /// One look at the fleet: takes over every executor of ours dead for at least `grace` (see the
    /// module's rule). Returns the takeovers that moved workflows; the caller wakes their queues.
    pub async fn take_over_dead_executors(&self, grace: Duration) -> Result<Vec<TakenOver>> {
        let (registered, held) = self.fleet_view().await?;
        let due = self
            .fleet
            .observe(&registered, &held, &self.identity.executor_id, grace);
        let mut moved = Vec::new();
        for id in due {
            if let Some(t) = self.take_over(&id).await? {
                self.fleet.forget(&id);
                if !t.workflow_ids.is_empty() {
                    moved.push(t);
                }
            }
        }
        Ok(moved)
    }

    /// The registered executors, and the liveness keys held in this database (`pg_locks.objid`).
    /// Transactions, locks: two autocommit SELECTs (the registry, the lock view), no locks taken.
    async fn fleet_view(&self) -> Result<(Vec<String>, HashSet<i64>)> {
        let registry = format!(
            "SELECT key FROM {}.event_dispatch_kv WHERE service_name = '{REGISTRY_SERVICE}' AND workflow_fn_name = '{REGISTRY_FN}'",
            self.schema_q
        );
        let held = "SELECT l.objid::bigint FROM pg_locks l \
                    WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objsubid = 2 AND l.granted \
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";
        let space = i64::from(LIVENESS_SPACE);
        self.retrying(|| async {
            let registered = self.query(&registry, &[]).await?;
            let keys = self.query(held, &[&space]).await?;
            Ok((
                registered.iter().map(|r| r.get(0)).collect(),
                keys.iter().map(|r| r.get(0)).collect(),
            ))
        })
        .await
    }

    /// Puts a dead executor's PENDING workflows of this application and version back on their queues
    /// (direct starts on the internal queue), exactly as the SDK's recovery re-enqueues them. None if
    /// its key is held (it came back, or another process is taking it over now). It leaves the registry
    /// once it has no PENDING workflow (of any version or application).
    ///
    /// Transactions, locks: one READ COMMITTED transaction. `pg_try_advisory_xact_lock` on the
    /// executor's liveness key, held to commit: it fails while any session holds the key, so it both
    /// proves the executor dead and makes this the only taker; a process of that executor that
    /// reconnects meanwhile waits for it (`liveness::hold`). The UPDATE then locks each row it moves;
    /// the DELETE, the registry row.
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
        let unregister = format!(
            "DELETE FROM {s}.event_dispatch_kv WHERE service_name = '{REGISTRY_SERVICE}' AND workflow_fn_name = '{REGISTRY_FN}' \
               AND key = $1 AND NOT EXISTS (SELECT 1 FROM {s}.workflow_status WHERE executor_id = $1 AND status = {pending})"
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
            tx.execute(&unregister, &[&executor_id]).await?;
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

    #[test]
    fn only_registered_executors_whose_key_is_free_are_due_and_only_after_the_grace() {
        let fleet = Fleet::new(true);
        let zero = Duration::ZERO;
        let registered = vec!["a".to_string(), "me".to_string()];
        let held_a: HashSet<i64> = [liveness_objid("a")].into();
        let none = HashSet::new();
        // Alive, or me: never due.
        assert!(fleet.observe(&registered, &held_a, "me", zero).is_empty());
        // "a" is gone: due at once with no grace, never with a long one.
        assert!(fleet
            .observe(&registered, &none, "me", Duration::from_secs(60))
            .is_empty());
        assert_eq!(
            fleet.observe(&registered, &none, "me", zero),
            vec!["a".to_string()]
        );
        // Back (or a collision holds its key): alive again; out of the registry: forgotten.
        assert!(fleet.observe(&registered, &held_a, "me", zero).is_empty());
        assert!(fleet
            .observe(&["me".to_string()], &none, "me", zero)
            .is_empty());
        assert!(fleet
            .dead_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty());
    }
}
