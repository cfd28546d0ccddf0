//! Workflow events: setEvent's upsert, history row, checkpoint and NOTIFY in one statement, and
//! getEvent's wait for a key to exist.

use super::db::now_ms;
use super::error::{EngineError, Result};
use super::fence::{OwnCheckpoint, Rule};
use super::listener::{Offered, WaitGuard, EVENTS_CHANNEL};
use super::Engine;

/// An event value as stored.
#[derive(Debug, Clone)]
pub struct EventValue {
    pub value: String,
    pub serialization: Option<String>,
}

impl From<&Offered> for EventValue {
    fn from(o: &Offered) -> Self {
        EventValue {
            value: o.value.clone(),
            serialization: o.serialization.clone(),
        }
    }
}

pub(crate) struct Sql {
    set: String,
    get: String,
    get_guarded: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let fence = Rule::Owner { token: "$2" };
        Sql {
            // The NOTIFY goes out at commit, so readers (ours and the official SDK's) wake at once.
            // Payloads of 8000 bytes or more would make pg_notify fail: those readers poll instead.
            // `ours` (the slot holds exactly this write) means this setEvent is recorded (now, or by an
            // attempt whose reply was lost); the upserts only happen with a fresh checkpoint.
            // Transactions, locks: one statement; the status row (see `fence`), then the event's row.
            set: format!(
                "WITH {}, \
                 ev AS (INSERT INTO {s}.workflow_events (workflow_uuid, key, value, serialization) \
                   SELECT $1, $4, $5, $6 FROM ck WHERE ck.fresh ON CONFLICT (workflow_uuid, key) \
                   DO UPDATE SET value = EXCLUDED.value, serialization = EXCLUDED.serialization), \
                 hist AS (INSERT INTO {s}.workflow_events_history (workflow_uuid, function_id, key, value, serialization) \
                   SELECT $1, $3, $4, $5, $6 FROM ck WHERE ck.fresh ON CONFLICT (workflow_uuid, function_id, key) \
                   DO UPDATE SET value = EXCLUDED.value, serialization = EXCLUDED.serialization), \
                 n AS (SELECT pg_notify('{EVENTS_CHANNEL}', $1::text || '::' || $4::text) FROM ck \
                   WHERE ck.fresh AND octet_length($1::text || '::' || $4::text) < 8000) \
                 SELECT (SELECT {} FROM owner), (SELECT ours FROM ck), (SELECT count(*) FROM n)",
                fence.lock_and_record(
                    s,
                    &OwnCheckpoint {
                        workflow_id: "$1",
                        function_id: "$3",
                        name: "'DBOS.setEvent'",
                        started_at: "$7",
                        completed_at: "$8",
                        app_name: "$9",
                    }
                ),
                fence.writer("owner"),
            ),
            get: format!(
                "SELECT value, serialization FROM {s}.workflow_events WHERE workflow_uuid = $1 AND key = $2"
            ),
            // For a waiting workflow: its ownership and the event in one round trip (always one row).
            get_guarded: format!(
                "SELECT (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $3), e.value, e.serialization \
                 FROM (SELECT 1) one LEFT JOIN {s}.workflow_events e ON e.workflow_uuid = $1 AND e.key = $2"
            ),
        }
    }
}

impl Engine {
    /// setEvent from workflow code (exactly once: the upsert only happens with a fresh checkpoint).
    #[allow(clippy::too_many_arguments)]
    pub async fn set_event(
        &self,
        workflow_id: &str,
        token: &str,
        function_id: i32,
        key: &str,
        value: &str,
        serialization: Option<&str>,
        started_at: i64,
    ) -> Result<()> {
        let completed_at = now_ms();
        self.retrying(|| async {
            let row = self
                .query_one(
                    &self.sql.events.set,
                    &[
                        &workflow_id,
                        &token,
                        &function_id,
                        &key,
                        &value,
                        &serialization,
                        &started_at,
                        &completed_at,
                        &self.identity.app_name,
                    ],
                )
                .await?;
            if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
                return Err(EngineError::conflict(workflow_id));
            }
            if row.get::<_, Option<bool>>(1) != Some(true) {
                return Err(EngineError::step_taken(
                    workflow_id,
                    function_id,
                    "DBOS.setEvent",
                ));
            }
            Ok(())
        })
        .await?;
        // Committed: local getEvent calls take the value now instead of waiting for the NOTIFY and
        // reading it back.
        self.offer(
            &format!("{workflow_id}::{key}"),
            Offered {
                value: value.to_owned(),
                serialization: serialization.map(str::to_owned),
                stream_offset: None,
            },
        );
        Ok(())
    }

    /// Reads an event once.
    pub async fn read_event(&self, workflow_id: &str, key: &str) -> Result<Option<EventValue>> {
        self.retrying(|| async {
            let row = self
                .query_opt(&self.sql.events.get, &[&workflow_id, &key])
                .await?;
            Ok(row.map(|r| EventValue {
                value: r.get(0),
                serialization: r.get(1),
            }))
        })
        .await
    }

    /// Waits until the event exists (None after the deadline). `guard` makes a waiting workflow stop
    /// when it loses ownership.
    pub async fn get_event(
        &self,
        workflow_id: &str,
        key: &str,
        deadline_epoch_ms: Option<i64>,
        poll_ms: u64,
        guard: Option<WaitGuard<'_>>,
    ) -> Result<Option<EventValue>> {
        let wait_key = format!("{workflow_id}::{key}");
        let Some(guard) = guard else {
            return self
                .wait_for(wait_key, deadline_epoch_ms, poll_ms, |offered| async move {
                    match offered {
                        Some(o) if o.stream_offset.is_none() => Ok(Some(EventValue::from(&*o))),
                        _ => self.read_event(workflow_id, key).await,
                    }
                })
                .await;
        };
        // A waiting workflow still reads: the same query checks that it owns itself.
        self.wait_for(wait_key, deadline_epoch_ms, poll_ms, |_| {
            self.retrying(|| async {
                let row = self
                    .query_one(
                        &self.sql.events.get_guarded,
                        &[&workflow_id, &key, &guard.workflow_id],
                    )
                    .await?;
                if row.get::<_, Option<String>>(0).as_deref() != Some(guard.token) {
                    return Err(EngineError::conflict(guard.workflow_id));
                }
                Ok(row.get::<_, Option<String>>(1).map(|value| EventValue {
                    value,
                    serialization: row.get(2),
                }))
            })
        })
        .await
    }
}
