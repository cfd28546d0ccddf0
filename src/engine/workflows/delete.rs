//! Deleting workflows (`deleteWorkflows`): their status rows (the events, messages and streams go
//! with them by foreign key) and the payload tables the SDK deletes explicitly (no foreign key there).

use crate::engine::error::Result;
use crate::engine::Engine;

/// One statement, so a deletion is whole or nothing. `tree` is the listed IDs plus, when $2, every
/// descendant by parent_workflow_id (as the SDK's breadth-first walk finds them).
fn statement(s: &str) -> String {
    format!(
        "WITH RECURSIVE tree(id) AS (SELECT unnest($1::text[]) \
           UNION SELECT ws.workflow_uuid FROM {s}.workflow_status ws JOIN tree ON ws.parent_workflow_id = tree.id \
           WHERE $2), \
         inputs AS (DELETE FROM {s}.workflow_input WHERE workflow_uuid IN (SELECT id FROM tree)), \
         outputs AS (DELETE FROM {s}.workflow_output WHERE workflow_uuid IN (SELECT id FROM tree)), \
         ops AS (DELETE FROM {s}.operation_outputs WHERE workflow_uuid IN (SELECT id FROM tree)) \
         DELETE FROM {s}.workflow_status WHERE workflow_uuid IN (SELECT id FROM tree)"
    )
}

impl Engine {
    /// Deletes the workflows (and with `children` their descendants); unknown IDs are ignored.
    /// This process's writes still queued for a listed workflow go first, so none lands after.
    /// Transactions, locks: one autocommit statement; it row-locks and deletes the status rows
    /// (waiting for a writer that holds one), the cascades lock the rows that reference them.
    pub async fn delete_workflows(&self, ids: &[String], children: bool) -> Result<u64> {
        for id in ids {
            self.written(id).await;
        }
        let sql = statement(self.schema());
        self.retrying(|| async {
            let (client, stmt) = self.prepared(&sql).await?;
            Ok(client.execute(&stmt, &[&ids, &children]).await?)
        })
        .await
    }
}
