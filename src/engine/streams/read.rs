//! Stream reads: a page of values from an offset, read in one snapshot with the writer's status, and
//! the wait (through the listener) until a value is there or the stream has ended.

use super::is_close_marker;
use crate::engine::error::{EngineError, Result};
use crate::engine::listener::WaitGuard;
use crate::engine::status::Status;
use crate::engine::Engine;

/// A page holds at most this many values...
pub const MAX_PAGE_VALUES: i64 = 1000;
/// ...and stops once it holds this many bytes of values (it always holds at least one).
const MAX_PAGE_BYTES: i64 = 1 << 20;

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
    page: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Sql {
            // The writer's status and the values come from one snapshot: a terminal status means every
            // value it wrote is visible here. No row at all: the workflow does not exist.
            // $6: a waiting workflow's ID, whose ownership comes back too (NULL for other readers).
            page: format!(
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

/// Active writers may still append; any other status ends the stream after its last value.
fn writer_active(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::is_active)
}

/// One read: the values from `from` on (dense, up to the first gap or close marker) and whether the
/// writer is still active; None if the workflow does not exist.
struct Snapshot {
    values: Vec<StreamValue>,
    closed: bool,
    active: bool,
}

impl Engine {
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
                self.query(
                    &self.sql.streams.read.page,
                    &[
                        &workflow_id,
                        &key,
                        &from,
                        &limit,
                        &MAX_PAGE_BYTES,
                        &guard_id,
                    ],
                )
                .await
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
                    return Err(EngineError::NoSuchWorkflow {
                        workflow_id: workflow_id.to_string(),
                    });
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
