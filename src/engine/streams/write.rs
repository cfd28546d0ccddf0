//! Stream writes: appends with dense per-key offsets (exactly once from workflow code, whose value
//! and checkpoint commit together; at least once from a step), alone or queued behind their workflow.

use crate::engine::batch::{column, Batched};
use crate::engine::db::{now_ms, Param};
use crate::engine::error::{EngineError, Result};
use crate::engine::fence::{
    insert_checkpoint, lock_many, same_checkpoint, OwnCheckpoint, Rule, NOW_MS,
};
use crate::engine::listener::{Offered, STREAMS_CHANNEL};
use crate::engine::Engine;

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

/// A write of workflow code queued behind its workflow (see `behind`).
pub(crate) struct StreamWrite {
    pub(crate) workflow_id: String,
    pub(crate) token: String,
    pub(crate) function_id: i32,
    pub(crate) name: String,
    pub(crate) started_at: i64,
    pub(crate) completed_at: i64,
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) serialization: Option<String>,
}

impl StreamWrite {
    fn writer(&self) -> StreamWriter<'_> {
        StreamWriter::Workflow {
            workflow_id: &self.workflow_id,
            token: &self.token,
            function_id: self.function_id,
            name: &self.name,
            started_at: self.started_at,
        }
    }
}

pub(crate) struct Sql {
    in_workflow: String,
    many_in_workflow: String,
    in_step: String,
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
        // Workflow code's writes are checkpoints, which a cancel keeps when they finished before it.
        let one = Rule::KeepsBeforeCancel {
            token: "$6",
            completed_at: "$9::int8",
        };
        let each = Rule::KeepsBeforeCancel {
            token: "i.token",
            completed_at: "i.completed_at",
        };
        let in_step = Rule::Owner { token: "$6" };
        Sql {
            // `ours` (the slot holds exactly this write) means this write is recorded (now, or by an
            // attempt whose reply was lost); the value is appended only with a fresh checkpoint.
            // Transactions, locks: one statement; the status row (see `fence`), then the new offset
            // (a concurrent writer of the key that takes it too fails on 23505 and retries).
            in_workflow: format!(
                "WITH {}, \
                 ins AS ({insert} SELECT $1, $2, $3, {next_offset}, $5, $4 FROM ck WHERE ck.fresh RETURNING \"offset\"), \
                 {notify} \
                 SELECT (SELECT {} FROM owner), (SELECT ours FROM ck), (SELECT count(*) FROM n), \
                   (SELECT \"offset\" FROM ins)",
                one.lock_and_record(
                    s,
                    &OwnCheckpoint {
                        workflow_id: "$1",
                        function_id: "$5",
                        name: "$7",
                        started_at: "$8",
                        completed_at: "$9",
                        app_name: "$10",
                    }
                ),
                one.writer("owner"),
            ),
            // The same for many writes of workflow code (of one or many workflows, queued behind
            // them), in queue order: each key's new values take the next offsets in that order.
            // Transactions, locks: one statement; the status rows of all its workflows in key order
            // (see `fence`).
            many_in_workflow: format!(
                "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], \
                   $6::text[], $7::text[], $8::int8[], $9::int8[]) WITH ORDINALITY \
                   AS u(workflow_uuid, key, value, serialization, function_id, token, function_name, \
                   started_at, completed_at, ord)), \
                 {}, \
                 ck AS ({}), \
                 fresh AS (SELECT i.* FROM input i JOIN ck ON ck.workflow_uuid = i.workflow_uuid \
                   AND ck.function_id = i.function_id WHERE ck.fresh), \
                 keys AS (SELECT DISTINCT workflow_uuid, key FROM fresh), \
                 base AS (SELECT k.workflow_uuid, k.key, COALESCE((SELECT MAX(\"offset\") FROM {s}.streams st \
                   WHERE st.workflow_uuid = k.workflow_uuid AND st.key = k.key), -1) AS last FROM keys k), \
                 ins AS ({insert} SELECT f.workflow_uuid, f.key, f.value, \
                     b.last + row_number() OVER (PARTITION BY f.workflow_uuid, f.key ORDER BY f.ord), \
                     f.function_id, f.serialization \
                   FROM fresh f JOIN base b ON b.workflow_uuid = f.workflow_uuid AND b.key = f.key \
                   RETURNING workflow_uuid, function_id, \"offset\"), \
                 n AS (SELECT pg_notify('{STREAMS_CHANNEL}', k.workflow_uuid || '::' || k.key) FROM keys k \
                   WHERE octet_length(k.workflow_uuid || '::' || k.key) < 8000) \
                 SELECT {}, {} AS ours, ins.\"offset\", (SELECT count(*) FROM n) \
                 FROM input i LEFT JOIN owner o ON o.workflow_uuid = i.workflow_uuid \
                 LEFT JOIN ck ON ck.workflow_uuid = i.workflow_uuid AND ck.function_id = i.function_id \
                 LEFT JOIN ins ON ins.workflow_uuid = i.workflow_uuid AND ins.function_id = i.function_id \
                 ORDER BY i.ord",
                lock_many(s, "SELECT workflow_uuid FROM input"),
                insert_checkpoint(
                    s,
                    &format!(
                        "SELECT i.workflow_uuid, i.function_id, NULL, NULL, i.function_name, NULL, i.started_at, \
                         i.completed_at, 'portable_json', $10, {NOW_MS} \
                         FROM input i JOIN owner o ON o.workflow_uuid = i.workflow_uuid AND {}",
                        each.admits("o")
                    ),
                    "workflow_uuid, function_id, (xmax = 0) AS fresh, function_name, output, error, \
                     started_at_epoch_ms, completed_at_epoch_ms"
                ),
                each.writer("o"),
                same_checkpoint(
                    "ck.",
                    "i.function_name",
                    "NULL",
                    "NULL",
                    "i.started_at",
                    "i.completed_at"
                ),
            ),
            // A step's write is no checkpoint: only the live owner may append.
            // Transactions, locks: one statement; the status row (see `fence`), then the new offset.
            in_step: format!(
                "WITH {}, \
                 ins AS ({insert} SELECT $1, $2, $3, {next_offset}, $5, $4 FROM owner \
                   WHERE {} RETURNING \"offset\"), \
                 {notify} \
                 SELECT (SELECT {} FROM owner), (SELECT count(*) FROM n), (SELECT \"offset\" FROM ins)",
                in_step.lock(s, "$1"),
                in_step.admits("owner"),
                in_step.writer("owner"),
            ),
        }
    }
}

fn no_free_offset(workflow_id: &str, key: &str) -> EngineError {
    EngineError::Database {
        message: format!("Workflow {workflow_id}: no free offset on stream {key} after {MAX_OFFSET_RETRIES} attempts"),
        sqlstate: None,
    }
}

fn is_duplicate_offset(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .map(|d| d.code().code() == "23505" && d.constraint() == Some("streams_pkey"))
        .unwrap_or(false)
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
        self.write_stream_at(writer, key, value, serialization, now_ms())
            .await
    }

    /// `write_stream` with the completion time its checkpoint records (an attempt that may have
    /// committed is recognised as ours only with the same one).
    async fn write_stream_at(
        &self,
        writer: &StreamWriter<'_>,
        key: &str,
        value: &str,
        serialization: Option<&str>,
        completed_at: i64,
    ) -> Result<()> {
        let (StreamWriter::Workflow {
            workflow_id,
            token,
            function_id,
            ..
        }
        | StreamWriter::Step {
            workflow_id,
            token,
            function_id,
        }) = writer;
        // $1..$6, the value and its writer, are common to both statements; $7..$10 is the checkpoint.
        let mut params: Vec<Param> = vec![
            workflow_id,
            &key,
            &value,
            &serialization,
            function_id,
            token,
        ];
        let (sql, name) = match writer {
            StreamWriter::Workflow {
                name, started_at, ..
            } => {
                params.extend([
                    name as Param,
                    started_at,
                    &completed_at,
                    &self.identity.app_name,
                ]);
                (&self.sql.streams.write.in_workflow, *name)
            }
            StreamWriter::Step { .. } => (&self.sql.streams.write.in_step, "step"),
        };
        let in_workflow = matches!(writer, StreamWriter::Workflow { .. });
        for _ in 0..MAX_OFFSET_RETRIES {
            let attempt = self
                .retrying(|| self.try_write_stream(sql, &params, token, in_workflow))
                .await?;
            if let Attempt::OffsetTaken = attempt {
                continue;
            }
            return self.settle_attempt(
                attempt,
                workflow_id,
                *function_id,
                name,
                key,
                value,
                serialization,
            );
        }
        Err(no_free_offset(workflow_id, key))
    }

    /// What a write attempt means for its caller; a written value goes to local readers at once (they
    /// need not wait for the NOTIFY to come back round, nor read back the value they waited for).
    #[allow(clippy::too_many_arguments)]
    fn settle_attempt(
        &self,
        attempt: Attempt,
        workflow_id: &str,
        function_id: i32,
        name: &str,
        key: &str,
        value: &str,
        serialization: Option<&str>,
    ) -> Result<()> {
        match attempt {
            Attempt::Fenced => Err(EngineError::conflict(workflow_id)),
            Attempt::SlotTaken => Err(EngineError::step_taken(workflow_id, function_id, name)),
            Attempt::OffsetTaken => Err(no_free_offset(workflow_id, key)),
            Attempt::Written(None) => {
                if let Some(l) = self.listener.get() {
                    l.wake(&format!("{workflow_id}::{key}"));
                }
                Ok(())
            }
            Attempt::Written(Some(offset)) => {
                self.offer(
                    &format!("{workflow_id}::{key}"),
                    Offered {
                        value: value.to_owned(),
                        serialization: serialization.map(str::to_owned),
                        stream_offset: Some(offset),
                    },
                );
                Ok(())
            }
        }
    }

    /// One try of a write's statement (`sql`, with `params`) by the execution holding `token`.
    async fn try_write_stream(
        &self,
        sql: &str,
        params: &[Param<'_>],
        token: &str,
        in_workflow: bool,
    ) -> Result<Attempt> {
        let (client, stmt) = self.prepared(sql).await?;
        let result = client.query_one(&stmt, params).await;
        let row = match result {
            Ok(row) => row,
            Err(e) if is_duplicate_offset(&e) => return Ok(Attempt::OffsetTaken),
            Err(e) => return Err(e.into()),
        };
        if row.get::<_, Option<String>>(0).as_deref() != Some(token) {
            return Ok(Attempt::Fenced);
        }
        // The step statement has no checkpoint: its second column is the NOTIFY count.
        if in_workflow && row.get::<_, Option<bool>>(1) != Some(true) {
            return Ok(Attempt::SlotTaken);
        }
        let offset: Option<i32> = row.get(if in_workflow { 3 } else { 2 });
        Ok(Attempt::Written(offset))
    }
}

/// Writes of workflow code queued behind their workflows (see `behind`): a run of them in one
/// statement, or one by one (offset retries included) if that fails, e.g. when a concurrent step
/// writer took an offset.
impl Batched<StreamWrite, ()> for Engine {
    async fn one(&self, w: &StreamWrite) -> Result<()> {
        self.write_stream_at(
            &w.writer(),
            &w.key,
            &w.value,
            w.serialization.as_deref(),
            w.completed_at,
        )
        .await
    }

    async fn many(&self, items: &[StreamWrite]) -> Result<Vec<Result<()>>> {
        let ids = column(items, |w| w.workflow_id.as_str());
        let keys = column(items, |w| w.key.as_str());
        let values = column(items, |w| w.value.as_str());
        let formats = column(items, |w| w.serialization.as_deref());
        let fids = column(items, |w| w.function_id);
        let tokens = column(items, |w| w.token.as_str());
        let names = column(items, |w| w.name.as_str());
        let started = column(items, |w| w.started_at);
        let completed = column(items, |w| w.completed_at);
        let rows = self
            .query(
                &self.sql.streams.write.many_in_workflow,
                &[
                    &ids,
                    &keys,
                    &values,
                    &formats,
                    &fids,
                    &tokens,
                    &names,
                    &started,
                    &completed,
                    &self.identity.app_name,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .zip(items)
            .map(|(row, w)| {
                let attempt =
                    if row.get::<_, Option<String>>(0).as_deref() != Some(w.token.as_str()) {
                        Attempt::Fenced
                    } else if row.get::<_, Option<bool>>(1) != Some(true) {
                        Attempt::SlotTaken
                    } else {
                        Attempt::Written(row.get(2))
                    };
                self.settle_attempt(
                    attempt,
                    &w.workflow_id,
                    w.function_id,
                    &w.name,
                    &w.key,
                    &w.value,
                    w.serialization.as_deref(),
                )
            })
            .collect())
    }
}
