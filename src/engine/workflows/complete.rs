//! Workflow completions: the outcome is written only while this execution still owns the row
//! (alone or many at once); its SQL pieces are `fence::complete_set`, `completes` and `save_output`.

use crate::engine::batch::Batched;
use crate::engine::completion::{Completion, CompletionColumns};
use crate::engine::db::now_ms;
use crate::engine::error::Result;
use crate::engine::fence::{complete_set, completes, save_output};
use crate::engine::Engine;

pub(crate) struct Sql {
    one: String,
    many: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Sql {
            // Transactions, locks: one statement; the UPDATE locks the status row (FOR NO KEY UPDATE
            // strength) and, finding it no longer ours, writes nothing. A queued workflow's
            // completion is notified after it commits (`done_notices`).
            one: format!(
                "WITH upd AS (UPDATE {s}.workflow_status ws SET {} \
                   WHERE ws.workflow_uuid = $1 AND {} RETURNING ws.workflow_uuid, ws.queue_name), \
                 outp AS ({}) \
                 SELECT count(*), bool_or(queue_name IS NOT NULL) FROM upd",
                complete_set("$2", "$4"),
                completes("ws", "$3"),
                save_output(s, "SELECT workflow_uuid, $5, $6 FROM upd"),
            ),
            // The same for many workflows; each row is locked as the UPDATE reaches it.
            many: format!(
                "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                   WITH ORDINALITY AS u(id, status, token, output, error, ord)), \
                 upd AS (UPDATE {s}.workflow_status ws SET {} FROM input i \
                   WHERE ws.workflow_uuid = i.id AND {} \
                   RETURNING ws.workflow_uuid, ws.queue_name), \
                 outp AS ({}) \
                 SELECT (upd.workflow_uuid IS NOT NULL), (upd.queue_name IS NOT NULL) FROM input i LEFT JOIN upd ON upd.workflow_uuid = i.id \
                 ORDER BY i.ord",
                complete_set("i.status", "$6"),
                completes("ws", "i.token"),
                save_output(
                    s,
                    "SELECT i.id, i.output, i.error FROM input i JOIN upd ON upd.workflow_uuid = i.id"
                ),
            ),
        }
    }
}

impl Engine {
    /// Records the outcome if this execution still owns the row. Returns false when it does not
    /// (cancelled, recovered elsewhere, already finished): the caller then adopts the stored outcome.
    /// Concurrent completions share a statement.
    pub async fn complete_workflow(
        &self,
        workflow_id: &str,
        token: &str,
        status: &str,
        output: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool> {
        let done = Completion::new(workflow_id, token, status, output, error);
        self.groups.completions.submit(self, done).await
    }
}

impl Batched<Completion, bool> for Engine {
    async fn one(&self, c: &Completion) -> Result<bool> {
        // A retry after an unacknowledged commit changes nothing and returns false: the caller then
        // adopts the stored outcome, which is this one.
        let now = now_ms();
        self.retrying(|| async {
            let row = self
                .query_one(
                    &self.sql.workflows.complete.one,
                    &[
                        &c.workflow_id,
                        &c.status,
                        &c.token,
                        &now,
                        &c.output,
                        &c.error,
                    ],
                )
                .await?;
            let won = row.get::<_, i64>(0) == 1;
            if won && row.get::<_, Option<bool>>(1) == Some(true) {
                self.done_notices.send([c.workflow_id.clone()]);
            }
            Ok(won)
        })
        .await
    }

    async fn many(&self, items: &[Completion]) -> Result<Vec<Result<bool>>> {
        let done = CompletionColumns::of(items);
        let now = now_ms();
        let mut params = done.params().to_vec();
        params.push(&now);
        let rows = self
            .query(&self.sql.workflows.complete.many, &params)
            .await?;
        self.done_notices.send(
            rows.iter()
                .zip(items)
                .filter(|(r, _)| r.get::<_, bool>(0) && r.get::<_, Option<bool>>(1) == Some(true))
                .map(|(_, c)| c.workflow_id.clone()),
        );
        Ok(rows.iter().map(|r| Ok(r.get::<_, bool>(0))).collect())
    }
}
