//! Changes to workflows still waiting on a queue: their priority (ENQUEUED or DELAYED rows) and the
//! end of their delay (DELAYED rows). A row in any other status is left alone, silently, as the SDK
//! does: the change raced a dequeue or a completion and has nothing left to act on.

use super::db::now_ms;
use super::error::Result;
use super::status::Status;
use super::Engine;

impl Engine {
    /// Sets a waiting workflow's priority; true if a row changed.
    /// Transactions, locks: one statement; the UPDATE locks the row (a concurrent claim that locked
    /// it first wins, and the row, now PENDING, no longer matches).
    pub async fn set_workflow_priority(&self, workflow_id: &str, priority: i32) -> Result<bool> {
        let sql = format!(
            "UPDATE {}.workflow_status SET priority = $1, updated_at = $3 \
             WHERE workflow_uuid = $2 AND status IN ({}, {})",
            self.schema(),
            Status::Enqueued.sql(),
            Status::Delayed.sql()
        );
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            Ok(client
                .execute(&stmt, &[&priority, &workflow_id, &now_ms()])
                .await?
                == 1)
        })
        .await
    }

    /// Sets when a DELAYED workflow becomes ENQUEUED (epoch ms); true if a row changed.
    /// Transactions, locks: one statement; the UPDATE locks the row.
    pub async fn set_workflow_delay(&self, workflow_id: &str, until_epoch_ms: i64) -> Result<bool> {
        let sql = format!(
            "UPDATE {}.workflow_status SET delay_until_epoch_ms = $1, updated_at = $3 \
             WHERE workflow_uuid = $2 AND status = {}",
            self.schema(),
            Status::Delayed.sql()
        );
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            Ok(client
                .execute(&stmt, &[&until_epoch_ms, &workflow_id, &now_ms()])
                .await?
                == 1)
        })
        .await
    }
}
