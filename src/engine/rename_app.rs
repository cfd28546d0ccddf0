//! Re-owning an application's rows (`DBOSClient.renameApplication`), as the DBOS SDK 5.3.0 does it:
//! the queues, schedules, versions and in-flight workflows move in one transaction (a half-moved
//! application would dequeue work whose version row it cannot see), then the terminal workflows and
//! the steps move in key ranges of `batch_size` (they scope only observability and GC, so they may
//! lag; a re-run resumes).

use crate::engine::db::Param;
use crate::engine::error::{EngineError, Result};
use crate::engine::status::Status;
use crate::engine::Engine;

/// Rows a rename moved, by table (the SDK's `ApplicationRowCounts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenameCounts {
    pub queues: i64,
    pub schedules: i64,
    pub versions: i64,
    pub workflows: i64,
    pub steps: i64,
}

/// The rows a rename moves: `old`'s ($2), unclaimed ones (when `adopt`), or both. $1 is the new name.
fn source(old: Option<&str>, adopt: bool) -> String {
    let mut clauses = Vec::new();
    if old.is_some() {
        clauses.push("application_name = $2");
    }
    if adopt {
        clauses.push("application_name IS NULL");
    }
    format!("({})", clauses.join(" OR "))
}

impl Engine {
    /// Gives `new_name` the rows of `old_name` and, with `adopt_unclaimed`, the rows no application
    /// owns. `batch_size` None moves the terminal rows in one statement per table. Fails with
    /// InvalidArgument (the SDK's DBOSError and wording), before writing anything, on an empty old
    /// name, nothing to move, the same name twice or a batch size below 1.
    /// Transactions, locks: one READ COMMITTED transaction updates (and row-locks) the matching
    /// queues, workflow_schedules, application_versions and PENDING/ENQUEUED/DELAYED workflow rows;
    /// then each batch is one autocommit UPDATE that row-locks its range of terminal workflow rows
    /// (or step rows). Each range's bound is read by an unlocked SELECT first.
    pub async fn rename_application(
        &self,
        old_name: Option<&str>,
        new_name: &str,
        batch_size: Option<i64>,
        adopt_unclaimed: bool,
    ) -> Result<RenameCounts> {
        if old_name == Some("") {
            return Err(EngineError::invalid(
                "The application's previous name cannot be empty.",
            ));
        }
        if old_name.is_none() && !adopt_unclaimed {
            return Err(EngineError::invalid(
                "Nothing to re-own: name the application to rename, adopt unclaimed rows, or both.",
            ));
        }
        if old_name == Some(new_name) {
            return Err(EngineError::invalid(format!(
                "Application '{new_name}' already holds that name; nothing to rename."
            )));
        }
        if let Some(n) = batch_size.filter(|n| *n < 1) {
            return Err(EngineError::invalid(format!(
                "batchSize must be a positive integer, got {n}"
            )));
        }
        let s = self.schema();
        let from = source(old_name, adopt_unclaimed);
        // $2 is absent from the statement when only unclaimed rows move: pass the old name only if named.
        let params = |new: &'_ str| -> Vec<String> {
            let mut p = vec![new.to_string()];
            if let Some(o) = old_name {
                p.push(o.to_string());
            }
            p
        };
        let owned = params(new_name);
        let refs: Vec<Param<'_>> = owned.iter().map(|p| p as Param<'_>).collect();
        let in_flight = [Status::Pending, Status::Enqueued, Status::Delayed]
            .map(Status::sql)
            .join(", ");
        let mut counts = RenameCounts::default();
        {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let update = |table: &str, extra: &str| {
                format!("UPDATE {s}.{table} SET application_name = $1 WHERE {from}{extra}")
            };
            counts.queues = count(tx.execute(&update("queues", ""), &refs).await?);
            counts.schedules = count(tx.execute(&update("workflow_schedules", ""), &refs).await?);
            counts.versions = count(
                tx.execute(&update("application_versions", ""), &refs)
                    .await?,
            );
            let live = format!(" AND status IN ({in_flight})");
            counts.workflows = count(tx.execute(&update("workflow_status", &live), &refs).await?);
            tx.commit().await?;
        }
        counts.workflows += self
            .rename_in_ranges("workflow_status", &from, &owned, batch_size)
            .await?;
        counts.steps = self
            .rename_in_ranges("operation_outputs", &from, &owned, batch_size)
            .await?;
        Ok(counts)
    }

    /// Moves `table`'s rows matching `from` in half-open ranges of workflow IDs, `batch` distinct IDs
    /// at a time (a workflow's rows never split); ranges, not LIMIT, so no pass rescans moved rows.
    async fn rename_in_ranges(
        &self,
        table: &str,
        from: &str,
        owned: &[String],
        batch: Option<i64>,
    ) -> Result<i64> {
        let s = self.schema();
        let n = owned.len();
        let base: Vec<Param<'_>> = owned.iter().map(|p| p as Param<'_>).collect();
        let Some(batch) = batch else {
            let sql = format!("UPDATE {s}.{table} SET application_name = $1 WHERE {from}");
            return Ok(count(self.client().await?.execute(&sql, &base).await?));
        };
        // The bound query has the same parameters as the update ($1 unused but typed by the cast).
        let bound = |after: bool| {
            format!(
                "SELECT DISTINCT workflow_uuid FROM {s}.{table} WHERE $1::text IS NOT NULL AND {from}{} \
                 ORDER BY workflow_uuid LIMIT 1 OFFSET {}",
                if after { format!(" AND workflow_uuid > ${}", n + 1) } else { String::new() },
                batch - 1
            )
        };
        let mut total = 0;
        let mut watermark: Option<String> = None;
        loop {
            let client = self.client().await?;
            let mut p = base.clone();
            if let Some(w) = &watermark {
                p.push(w);
            }
            let upper: Option<String> = client
                .query_opt(&bound(watermark.is_some()), &p)
                .await?
                .map(|r| r.get(0));
            let mut update = format!("UPDATE {s}.{table} SET application_name = $1 WHERE {from}");
            let mut q = base.clone();
            // The last range drops the watermark, so rows that appeared below it still move.
            if let Some(u) = &upper {
                if let Some(w) = &watermark {
                    q.push(w);
                    update.push_str(&format!(" AND workflow_uuid > ${}", q.len()));
                }
                q.push(u);
                update.push_str(&format!(" AND workflow_uuid <= ${}", q.len()));
            }
            total += count(client.execute(&update, &q).await?);
            match upper {
                None => return Ok(total),
                Some(u) => watermark = Some(u),
            }
        }
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
