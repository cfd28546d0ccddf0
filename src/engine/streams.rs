//! Workflow streams (`streams`): appends with dense per-key offsets (exactly once from workflow code,
//! at least once from a step), the close marker, and paged reads that wait through the listener.

use super::db::now_ms;
use super::error::{EngineError, ErrorCode, Result};
use super::listener::{Offered, WaitGuard, STREAMS_CHANNEL};
use super::steps::{CHECKPOINT_COLUMNS, NOW_MS};
use super::Engine;

/// The stored close marker: a portable_json string, quotes included.
pub const CLOSE_MARKER: &str = "\"__DBOS_STREAM_CLOSED__\"";
/// The marker as older SDKs wrote it (unquoted).
pub const LEGACY_CLOSE_MARKER: &str = "__DBOS_STREAM_CLOSED__";

/// A page holds at most this many values...
pub const MAX_PAGE_VALUES: i64 = 1000;
/// ...and stops once it holds this many bytes of values (it always holds at least one).
const MAX_PAGE_BYTES: i64 = 1 << 20;
/// A duplicate offset (SQLSTATE 23505) means a concurrent writer won it: try the next one.
const MAX_OFFSET_RETRIES: usize = 100;

/// Who writes, which decides the guarantee.
pub enum StreamWriter<'a> {
    /// Workflow code: the value and its checkpoint (`name`) commit together, so a replay writes nothing.
    Workflow {
        workflow_id: &'a str,
        token: &'a str,
        function_id: i32,
        name: &'a str,
        started_at: i64,
    },
    /// A step: each attempt's writes stay (at least once); `function_id` is the step's own.
    Step {
        workflow_id: &'a str,
        token: &'a str,
        function_id: i32,
    },
}

#[derive(Debug, Clone)]
pub struct StreamValue {
    pub offset: i32,
    pub value: String,
    pub serialization: Option<String>,
}

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEnd {
    /// More values may follow: ask again from the next offset.
    More,
    /// The stream ended after these values (close marker, or the writer is terminal).
    Closed,
    /// No value arrived before the deadline.
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct StreamPage {
    pub values: Vec<StreamValue>,
    pub end: PageEnd,
}

pub(crate) struct Sql {
    write_in_workflow: String,
    write_in_step: String,
    read: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        // Next dense offset of the key; a concurrent writer taking the same one makes us retry on 23505.
        let next_offset = format!(
            "COALESCE((SELECT MAX(\"offset\") FROM {s}.streams WHERE workflow_uuid = $1 AND key = $2), -1) + 1"
        );
        let insert = format!(
            "INSERT INTO {s}.streams (workflow_uuid, key, value, \"offset\", function_id, serialization)"
        );
        // The NOTIFY is delivered at commit, so our readers and the official SDK's wake at once.
        // Payloads of 8000 bytes or more would make pg_notify fail: those readers poll instead.
        let notify = format!(
            "n AS (SELECT pg_notify('{STREAMS_CHANNEL}', $1::text || '::' || $2::text) FROM ins \
             WHERE octet_length($1::text || '::' || $2::text) < 8000)"
        );
        Sql {
            // `ours` (the slot holds exactly this write) means this write is recorded (now, or by an
            // attempt whose reply was lost); the value is appended only with a fresh checkpoint.
            write_in_workflow: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR NO KEY UPDATE), \
                 ck AS (INSERT INTO {s}.operation_outputs ({CHECKPOINT_COLUMNS}) \
                   SELECT $1, $5, NULL, NULL, $7, NULL, $8, $9, 'portable_json', $10, {NOW_MS} \
                   FROM owner WHERE owner.owner_xid = $6 \
                   ON CONFLICT (workflow_uuid, function_id) \
                   DO UPDATE SET completed_at_epoch_ms = operation_outputs.completed_at_epoch_ms \
                   RETURNING (xmax = 0) AS fresh, (function_name = $7 AND output IS NULL AND error IS NULL \
                     AND started_at_epoch_ms = $8 AND completed_at_epoch_ms = $9) AS ours), \
                 ins AS ({insert} SELECT $1, $2, $3, {next_offset}, $5, $4 FROM ck WHERE ck.fresh RETURNING \"offset\"), \
                 {notify} \
                 SELECT (SELECT owner_xid FROM owner), (SELECT ours FROM ck), (SELECT count(*) FROM n), \
                   (SELECT \"offset\" FROM ins)"
            ),
            write_in_step: format!(
                "WITH owner AS (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $1 FOR NO KEY UPDATE), \
                 ins AS ({insert} SELECT $1, $2, $3, {next_offset}, $5, $4 FROM owner \
                   WHERE owner.owner_xid = $6 RETURNING \"offset\"), \
                 {notify} \
                 SELECT (SELECT owner_xid FROM owner), (SELECT count(*) FROM n), (SELECT \"offset\" FROM ins)"
            ),
            // The writer's status and the values come from one snapshot: a terminal status means every
            // value it wrote is visible here. No row at all: the workflow does not exist.
            // $6: a waiting workflow's ID, whose ownership comes back too (NULL for other readers).
            read: format!(
                "SELECT ws.status, v.\"offset\", v.value, v.serialization, \
                   (SELECT owner_xid FROM {s}.workflow_status WHERE workflow_uuid = $6) \
                 FROM {s}.workflow_status ws \
                 LEFT JOIN LATERAL (SELECT \"offset\", value, serialization, \
                     sum(octet_length(value)) OVER (ORDER BY \"offset\") - octet_length(value) AS before \
                   FROM (SELECT \"offset\", value, serialization FROM {s}.streams \
                     WHERE workflow_uuid = $1 AND key = $2 AND \"offset\" >= $3 \
                     ORDER BY \"offset\" LIMIT $4) page) v ON v.before < $5 \
                 WHERE ws.workflow_uuid = $1 ORDER BY v.\"offset\""
            ),
        }
    }
}

fn is_duplicate_offset(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .map(|d| d.code().code() == "23505" && d.constraint() == Some("streams_pkey"))
        .unwrap_or(false)
}

/// Active writers may still append; any other status ends the stream after its last value.
fn writer_active(status: &str) -> bool {
    matches!(status, "PENDING" | "ENQUEUED" | "DELAYED")
}

pub fn is_close_marker(value: &str) -> bool {
    value == CLOSE_MARKER || value == LEGACY_CLOSE_MARKER
}

/// What one write attempt found.
enum Attempt {
    /// Appended (at this offset, unless an earlier attempt whose reply was lost did it).
    Written(Option<i32>),
    /// This execution no longer owns the workflow.
    Fenced,
    /// The checkpoint slot holds another execution's record.
    SlotTaken,
    /// A concurrent writer took the offset: try again.
    OffsetTaken,
}

/// One read: the values from `from` on (dense, up to the first gap or close marker) and whether the
/// writer is still active; None if the workflow does not exist.
struct Snapshot {
    values: Vec<StreamValue>,
    closed: bool,
    active: bool,
}

impl Engine {
    /// Appends `value` to the stream `key` of the writer's workflow. Fenced: a run that lost ownership
    /// gets `WorkflowConflict` and writes nothing.
    pub async fn write_stream(
        &self,
        writer: &StreamWriter<'_>,
        key: &str,
        value: &str,
        serialization: Option<&str>,
    ) -> Result<()> {
        let (workflow_id, function_id, name) = match writer {
            StreamWriter::Workflow {
                workflow_id,
                function_id,
                name,
                ..
            } => (*workflow_id, *function_id, *name),
            StreamWriter::Step {
                workflow_id,
                function_id,
                ..
            } => (*workflow_id, *function_id, "step"),
        };
        let completed_at = now_ms();
        for _ in 0..MAX_OFFSET_RETRIES {
            let attempt = self
                .retrying(|| self.try_write_stream(writer, key, value, serialization, completed_at))
                .await?;
            match attempt {
                Attempt::OffsetTaken => continue,
                Attempt::Fenced => return Err(EngineError::conflict(workflow_id)),
                Attempt::SlotTaken => {
                    return Err(EngineError::new(
                        ErrorCode::StepNondeterminism,
                        format!("Workflow {workflow_id}: step {function_id} ({name}) was already recorded by another execution"),
                    ))
                }
                Attempt::Written(None) => {
                        self.wake(&format!("{workflow_id}::{key}")).await;
                        return Ok(());
                }
                Attempt::Written(Some(offset)) => {
                    // Local readers need not wait for the NOTIFY to come back round, nor read back
                    // the value they were waiting for.
                    self.offer(
                        &format!("{workflow_id}::{key}"),
                        Offered {
                            value: value.to_owned(),
                            serialization: serialization.map(str::to_owned),
                            stream_offset: Some(offset),
                        },
                    );
                    return Ok(());
                }
            }
        }
        Err(EngineError::new(
            ErrorCode::Database,
            format!("Workflow {workflow_id}: no free offset on stream {key} after {MAX_OFFSET_RETRIES} attempts"),
        ))
    }

    async fn try_write_stream(
        &self,
        writer: &StreamWriter<'_>,
        key: &str,
        value: &str,
        serialization: Option<&str>,
        completed_at: i64,
    ) -> Result<Attempt> {
        type Param<'p> = &'p (dyn tokio_postgres::types::ToSql + Sync);
        let (sql, token, params): (&str, &str, Vec<Param>) = match writer {
            StreamWriter::Workflow {
                workflow_id,
                token,
                function_id,
                name,
                started_at,
            } => (
                &self.sql.streams.write_in_workflow,
                token,
                vec![
                    workflow_id,
                    &key,
                    &value,
                    &serialization,
                    function_id,
                    token,
                    name,
                    started_at,
                    &completed_at,
                    &self.identity.app_name,
                ],
            ),
            StreamWriter::Step {
                workflow_id,
                token,
                function_id,
            } => (
                &self.sql.streams.write_in_step,
                token,
                vec![
                    workflow_id,
                    &key,
                    &value,
                    &serialization,
                    function_id,
                    token,
                ],
            ),
        };
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        let result = client.query_one(&stmt, &params).await;
        let row = match result {
            Ok(row) => row,
            Err(e) if is_duplicate_offset(&e) => return Ok(Attempt::OffsetTaken),
            Err(e) => return Err(e.into()),
        };
        if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
            return Ok(Attempt::Fenced);
        }
        // The step statement has no checkpoint: its second column is the NOTIFY count.
        let in_workflow = matches!(writer, StreamWriter::Workflow { .. });
        if in_workflow && row.get::<_, Option<bool>>(1) != Some(true) {
            return Ok(Attempt::SlotTaken);
        }
        let offset: Option<i32> = row.get(if in_workflow { 3 } else { 2 });
        Ok(Attempt::Written(offset))
    }

    async fn read_snapshot(
        &self,
        workflow_id: &str,
        key: &str,
        from: i32,
        limit: i64,
        guard: Option<&WaitGuard<'_>>,
    ) -> Result<Option<Snapshot>> {
        let guard_id = guard.map(|g| g.workflow_id);
        let rows = self
            .retrying(|| async {
                let client = self.client().await?;
                let stmt = client.prepare_cached(&self.sql.streams.read).await?;
                Ok(client
                    .query(
                        &stmt,
                        &[
                            &workflow_id,
                            &key,
                            &from,
                            &limit,
                            &MAX_PAGE_BYTES,
                            &guard_id,
                        ],
                    )
                    .await?)
            })
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        if let Some(g) = guard {
            if first.get::<_, Option<String>>(4).as_deref() != Some(g.token) {
                return Err(EngineError::conflict(g.workflow_id));
            }
        }
        let status: Option<String> = first.get(0);
        let mut snap = Snapshot {
            values: Vec::with_capacity(rows.len()),
            closed: false,
            active: status.as_deref().map(writer_active).unwrap_or(true),
        };
        for (expected, row) in (from..).zip(rows.iter()) {
            let Some(offset) = row.get::<_, Option<i32>>(1) else {
                break;
            };
            // Offsets are dense; a gap (a row deleted by hand) is read as "not written yet".
            if offset != expected {
                break;
            }
            let value: String = row.get(2);
            if is_close_marker(&value) {
                snap.closed = true;
                break;
            }
            snap.values.push(StreamValue {
                offset,
                value,
                serialization: row.get(3),
            });
        }
        Ok(Some(snap))
    }

    /// Reads up to `limit` values of `key` from offset `from`, waiting (without holding a connection)
    /// until at least one is there, the stream ends, or `deadline_epoch_ms` passes. A missing workflow
    /// is `NonExistentWorkflow`. `guard` stops a waiting workflow that loses ownership.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_stream(
        &self,
        workflow_id: &str,
        key: &str,
        from: i32,
        limit: i64,
        deadline_epoch_ms: Option<i64>,
        poll_ms: u64,
        guard: Option<WaitGuard<'_>>,
    ) -> Result<StreamPage> {
        if from < 0 {
            return Err(EngineError::invalid(
                "offset must be a non-negative integer",
            ));
        }
        let limit = limit.clamp(1, MAX_PAGE_VALUES);
        let wait_key = format!("{workflow_id}::{key}");
        let guard = &guard;
        let page = self
            .wait_for(wait_key, deadline_epoch_ms, poll_ms, |offered| async move {
                // The value we wait for, written by this process: no need to read it back. A waiting
                // workflow still reads, as that read also checks its ownership.
                if let Some(o) =
                    offered.filter(|o| o.stream_offset == Some(from) && guard.is_none())
                {
                    if is_close_marker(&o.value) {
                        return Ok(Some(StreamPage {
                            values: Vec::new(),
                            end: PageEnd::Closed,
                        }));
                    }
                    return Ok(Some(StreamPage {
                        values: vec![StreamValue {
                            offset: from,
                            value: o.value.clone(),
                            serialization: o.serialization.clone(),
                        }],
                        end: PageEnd::More,
                    }));
                }
                let Some(snap) = self
                    .read_snapshot(workflow_id, key, from, limit, guard.as_ref())
                    .await?
                else {
                    return Err(EngineError::new(
                        ErrorCode::NonExistentWorkflow,
                        format!("Workflow {workflow_id} does not exist"),
                    ));
                };
                if snap.closed {
                    return Ok(Some(StreamPage {
                        values: snap.values,
                        end: PageEnd::Closed,
                    }));
                }
                if !snap.values.is_empty() {
                    return Ok(Some(StreamPage {
                        values: snap.values,
                        end: PageEnd::More,
                    }));
                }
                if snap.active {
                    return Ok(None);
                }
                // The writer is done: one more read catches a value committed just before its status
                // changed by a writer that does not fence (an older SDK); then the stream has ended.
                let last = self
                    .read_snapshot(workflow_id, key, from, limit, guard.as_ref())
                    .await?;
                let values = last.map(|s| s.values).unwrap_or_default();
                Ok(Some(StreamPage {
                    values,
                    end: PageEnd::Closed,
                }))
            })
            .await?;
        Ok(page.unwrap_or(StreamPage {
            values: Vec::new(),
            end: PageEnd::TimedOut,
        }))
    }
}
