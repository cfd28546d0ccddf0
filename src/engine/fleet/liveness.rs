//! Liveness from Postgres itself, not from clocks: each process holds a session-level advisory lock
//! keyed by its executor ID on its listener connection, taken right after that connection opens
//! (`listener::listen_once`). Postgres releases it when the session ends (the process exited, was
//! killed, or its connection was cut), so "no session holds the key" means "no live process of this
//! executor is connected".
//!
//! The key is two ints: `LIVENESS_SPACE`, a namespace only dbos-native uses, and a 32-bit hash of the
//! executor ID. Two executor IDs may share a hash. A collision can only delay a takeover, never cause a
//! wrong one: a taker treats a held key as "alive", so a live executor makes every executor sharing
//! its key look alive; and which executors are ours is not read from keys but from the registry.
//!
//! The registry: with its lock, the listener records its executor ID as ours in the SDK's key-value
//! table of event receivers, `event_dispatch_kv`, under service `REGISTRY_SERVICE` (the SDK reads only
//! its own services' rows; no table is added). An executor never registered there (an official-SDK
//! process) is never taken over. A takeover deletes the row once the executor has no PENDING workflow.

use std::time::Duration;

use tokio_postgres::Client;

/// The advisory-lock namespace of liveness keys (`pg_locks.classid`), ASCII "dbnl". The SDK takes no
/// two-int advisory locks; our other keys (queues, migrations) use other forms or spaces.
pub const LIVENESS_SPACE: i32 = 0x6462_6e6c;

/// The listener connection's `application_name` is this prefix and the executor ID.
pub const LISTENER_APP_PREFIX: &str = "dbos_native_listener_";

/// The registry's rows in `event_dispatch_kv`: `service_name`, `workflow_fn_name`; `key` is the executor ID.
pub const REGISTRY_SERVICE: &str = "dbos-native";
pub const REGISTRY_FN: &str = "liveness";

/// Whose liveness a listener publishes, and the (quoted) schema of the registry.
#[derive(Debug, Clone)]
pub struct LivenessId {
    pub executor_id: String,
    pub schema_q: String,
}

/// How long a reconnecting listener waits for its key: a taker holds it for the length of one
/// takeover transaction (milliseconds); a longer hold is another live executor sharing the hash.
const HOLD_WAIT: Duration = Duration::from_secs(5);

/// The second int of an executor's liveness key: 32-bit FNV-1a of its ID (stable across builds and
/// platforms, which every process of a fleet needs; Postgres's `hashtext` is not promised to be).
pub fn liveness_key(executor_id: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in executor_id.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// The key as `pg_locks.objid` shows it (an unsigned oid), widened to bigint.
pub fn liveness_objid(executor_id: &str) -> i64 {
    i64::from(u32::from_ne_bytes(liveness_key(executor_id).to_ne_bytes()))
}

/// Takes the executor's liveness lock on the listener's session, then registers the executor as ours;
/// false if either failed. Without the lock (another session held the key for `HOLD_WAIT`), the
/// process runs on, seen as alive only while that session holds the key (a collision); the next
/// reconnect tries again.
///
/// Transactions, locks: one transaction whose `lock_timeout` bounds the wait; the lock it takes is
/// session-level (`pg_advisory_lock`), so it outlives the transaction and is held until the session
/// ends. Nothing else on this connection takes or releases it. Then one autocommit upsert of the
/// registry row (its row lock, for that statement).
pub(crate) async fn hold(client: &Client, id: &LivenessId) -> bool {
    // Both values are integers we computed: nothing from outside is spliced into the statement.
    let take = format!(
        "BEGIN; SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_lock({LIVENESS_SPACE}, {}); COMMIT;",
        HOLD_WAIT.as_millis(),
        liveness_key(&id.executor_id)
    );
    if client.batch_execute(&take).await.is_err() {
        // The wait timed out inside the transaction: end it so that LISTEN can run on this session.
        let _ = client.batch_execute("ROLLBACK").await;
        return false;
    }
    let register = format!(
        "INSERT INTO {}.event_dispatch_kv (service_name, workflow_fn_name, key, update_time) \
         VALUES ('{REGISTRY_SERVICE}', '{REGISTRY_FN}', $1, EXTRACT(EPOCH FROM now())) \
         ON CONFLICT (service_name, workflow_fn_name, key) DO UPDATE SET update_time = EXCLUDED.update_time",
        id.schema_q
    );
    client.execute(&register, &[&id.executor_id]).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fnv1a_and_objids_are_the_same_bits_unsigned() {
        // FNV-1a 32 test vectors: "" and "a".
        assert_eq!(liveness_objid(""), 0x811c_9dc5);
        assert_eq!(liveness_objid("a"), 0xe40c_292c);
        assert!(liveness_key("a") < 0);
        assert_ne!(liveness_key("worker-1"), liveness_key("worker-2"));
    }
}
