//! The recorded operations of one workflow (`listWorkflowSteps`): its `operation_outputs` rows in
//! function order, or None if the workflow has no status row.

use crate::engine::error::Result;
use crate::engine::Engine;

/// One row of `operation_outputs` as listed (payloads None unless asked for).
#[derive(Debug, Clone)]
pub struct StepRow {
    pub function_id: i32,
    pub name: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub child_workflow_id: Option<String>,
    pub serialization: Option<String>,
    pub started_at_epoch_ms: Option<i64>,
    pub completed_at_epoch_ms: Option<i64>,
}

/// The listing statement. One statement answers both "does the workflow exist" and "its steps": no
/// row when there is no status row, one all-NULL row when it exists without steps. LIMIT NULL and
/// OFFSET NULL mean none, so the unset options need no second text. `$4` false skips the payloads.
fn statement(s: &str) -> String {
    format!(
        "SELECT o.function_id, o.function_name, \
           CASE WHEN $4 THEN o.output END, CASE WHEN $4 THEN o.error END, \
           o.child_workflow_id, o.serialization, o.started_at_epoch_ms, o.completed_at_epoch_ms \
         FROM {s}.workflow_status ws \
         LEFT JOIN LATERAL (SELECT * FROM {s}.operation_outputs op WHERE op.workflow_uuid = ws.workflow_uuid \
           ORDER BY op.function_id LIMIT $2 OFFSET $3) o ON true \
         WHERE ws.workflow_uuid = $1 \
         ORDER BY o.function_id"
    )
}

impl Engine {
    /// The workflow's recorded operations in function order (`limit`/`offset` page them), or None if
    /// there is no such workflow.
    /// Transactions, locks: one autocommit SELECT (a snapshot read, no row locks).
    pub async fn list_workflow_steps(
        &self,
        workflow_id: &str,
        limit: Option<i64>,
        offset: Option<i64>,
        load_output: bool,
    ) -> Result<Option<Vec<StepRow>>> {
        let sql = statement(self.schema());
        let rows = self
            .retrying(|| async {
                self.query(&sql, &[&workflow_id, &limit, &offset, &load_output])
                    .await
            })
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.iter()
                .filter_map(|r| {
                    // The all-NULL row of a workflow without steps (or past the page) lists nothing.
                    let function_id: Option<i32> = r.get(0);
                    Some(StepRow {
                        function_id: function_id?,
                        name: r.get::<_, Option<String>>(1).unwrap_or_default(),
                        output: r.get(2),
                        error: r.get(3),
                        child_workflow_id: r.get(4),
                        serialization: r.get(5),
                        started_at_epoch_ms: r.get(6),
                        completed_at_epoch_ms: r.get(7),
                    })
                })
                .collect(),
        ))
    }
}
