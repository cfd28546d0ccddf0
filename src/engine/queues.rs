//! Database-backed queues: the rows of `dbos.queues` that `registerQueue` writes and a `WorkflowQueue`
//! reads and reconfigures, in the official SDK's format (NULL for an unset limit, `priority_enabled`
//! always TRUE, `partition_queue` derived from the partition limits, `application_name` the owner).

use tokio_postgres::Row;

use super::db::now_ms;
use super::error::{EngineError, Result};
use super::Engine;

const QUEUE_COLUMNS: &str =
    "name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec, \
     partition_concurrency, partition_worker_concurrency, partition_rate_limit_max, \
     partition_rate_limit_period_sec, polling_interval_sec, application_name";

/// A queue's configuration as stored; `None` is an unset limit (NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRecord {
    pub name: String,
    pub concurrency: Option<i32>,
    pub worker_concurrency: Option<i32>,
    pub rate_limit_max: Option<i32>,
    pub rate_limit_period_sec: Option<f64>,
    pub partition_concurrency: Option<i32>,
    pub partition_worker_concurrency: Option<i32>,
    pub partition_rate_limit_max: Option<i32>,
    pub partition_rate_limit_period_sec: Option<f64>,
    pub polling_interval_sec: f64,
    /// The owning application; `None` for an unclaimed queue.
    pub application_name: Option<String>,
}

impl QueueRecord {
    /// Any partition limit set partitions the queue (a rate limit counts only with both fields).
    fn partitioned(&self) -> bool {
        self.partition_concurrency.is_some()
            || self.partition_worker_concurrency.is_some()
            || (self.partition_rate_limit_max.is_some()
                && self.partition_rate_limit_period_sec.is_some())
    }
}

fn record_from(r: &Row) -> QueueRecord {
    QueueRecord {
        name: r.get(0),
        concurrency: r.get(1),
        worker_concurrency: r.get(2),
        rate_limit_max: r.get(3),
        rate_limit_period_sec: r.get(4),
        partition_concurrency: r.get(5),
        partition_worker_concurrency: r.get(6),
        partition_rate_limit_max: r.get(7),
        partition_rate_limit_period_sec: r.get(8),
        polling_interval_sec: r.get(9),
        application_name: r.get(10),
    }
}

/// What `registerQueue` does to a queue that already has a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueConflict {
    /// Overwrite the row only if this process runs its application's latest version.
    UpdateIfLatestVersion,
    AlwaysUpdate,
    NeverUpdate,
}

/// A registration's outcome: the row as stored after it, and whether this call created it.
#[derive(Debug, Clone)]
pub struct RegisteredQueue {
    pub queue: QueueRecord,
    pub inserted: bool,
}

/// One of a queue's integer limits, for `set_queue_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    Concurrency,
    WorkerConcurrency,
    PartitionConcurrency,
    PartitionWorkerConcurrency,
}

impl QueueLimit {
    fn column(self) -> &'static str {
        match self {
            QueueLimit::Concurrency => "concurrency",
            QueueLimit::WorkerConcurrency => "worker_concurrency",
            QueueLimit::PartitionConcurrency => "partition_concurrency",
            QueueLimit::PartitionWorkerConcurrency => "partition_worker_concurrency",
        }
    }
}

/// A rate limit: at most `limit_per_period` dispatches per `period_sec` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub limit_per_period: i32,
    pub period_sec: f64,
}

/// `partition_queue` after an update, from the row's other partition limits and the new value
/// (`new` stands for the column being set; the others are read from the row being updated).
fn partitioned_after(new: &str, setting: &str) -> String {
    let others = [
        (
            "partition_concurrency",
            "partition_concurrency IS NOT NULL",
        ),
        (
            "partition_worker_concurrency",
            "partition_worker_concurrency IS NOT NULL",
        ),
        (
            "partition_rate_limit",
            "(partition_rate_limit_max IS NOT NULL AND partition_rate_limit_period_sec IS NOT NULL)",
        ),
    ];
    let mut terms = vec![new.to_string()];
    terms.extend(
        others
            .iter()
            .filter(|(name, _)| *name != setting)
            .map(|(_, term)| term.to_string()),
    );
    format!("partition_queue = ({})", terms.join(" OR "))
}

impl Engine {
    /// Creates or updates the queue's row as `mode` says and returns it as stored. `owner` is the
    /// application registering it (`None`: leave an existing owner, insert unclaimed); a queue owned by
    /// another application is refused in every mode, and the transaction leaves the table unchanged.
    /// Retried after a lost commit acknowledgement, `inserted` reads false (the row is ours already).
    pub async fn register_queue(
        &self,
        queue: &QueueRecord,
        mode: QueueConflict,
        owner: Option<&str>,
    ) -> Result<RegisteredQueue> {
        let s = self.schema();
        let update = format!(
            "ON CONFLICT (name) DO UPDATE SET concurrency = EXCLUDED.concurrency, \
               worker_concurrency = EXCLUDED.worker_concurrency, rate_limit_max = EXCLUDED.rate_limit_max, \
               rate_limit_period_sec = EXCLUDED.rate_limit_period_sec, priority_enabled = EXCLUDED.priority_enabled, \
               partition_queue = EXCLUDED.partition_queue, partition_concurrency = EXCLUDED.partition_concurrency, \
               partition_worker_concurrency = EXCLUDED.partition_worker_concurrency, \
               partition_rate_limit_max = EXCLUDED.partition_rate_limit_max, \
               partition_rate_limit_period_sec = EXCLUDED.partition_rate_limit_period_sec, \
               polling_interval_sec = EXCLUDED.polling_interval_sec, updated_at = EXCLUDED.updated_at, \
               application_name = COALESCE({s}.queues.application_name, EXCLUDED.application_name)"
        );
        // Transactions, locks: one transaction; the INSERT takes the queue's row lock (a new row, or
        // the existing one when it updates it) until commit. `DO NOTHING` locks nothing.
        let upsert = |on_conflict: &str| {
            format!(
                "INSERT INTO {s}.queues (name, concurrency, worker_concurrency, rate_limit_max, \
                   rate_limit_period_sec, priority_enabled, partition_queue, partition_concurrency, \
                   partition_worker_concurrency, partition_rate_limit_max, partition_rate_limit_period_sec, \
                   polling_interval_sec, updated_at, application_name) \
                 VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $8, $9, $10, $11, $12, $13) {on_conflict}"
            )
        };
        let owner_of = format!("SELECT application_name FROM {s}.queues WHERE name = $1");
        let read_back = format!("SELECT {QUEUE_COLUMNS} FROM {s}.queues WHERE name = $1");
        // "Latest" is the newest version among this application's own and unclaimed ones.
        let latest = format!(
            "SELECT version_name FROM {s}.application_versions \
             WHERE application_name = $1 OR application_name IS NULL \
             ORDER BY version_timestamp DESC LIMIT 1"
        );
        let partitioned = queue.partitioned();
        let now = now_ms();
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let update_existing = match mode {
                QueueConflict::AlwaysUpdate => true,
                QueueConflict::NeverUpdate => false,
                QueueConflict::UpdateIfLatestVersion => {
                    let row = tx
                        .query_opt(&latest, &[&self.identity.app_name])
                        .await?
                        .ok_or_else(|| {
                            EngineError::initialization("No application versions found")
                        })?;
                    row.get::<_, String>(0) == self.identity.app_version
                }
            };
            let existing = tx.query_opt(&owner_of, &[&queue.name]).await?;
            let current: Option<String> = existing.as_ref().and_then(|r| r.get(0));
            let stored_owner = resolve_owner(&queue.name, current.as_deref(), owner)?;
            let sql = if update_existing {
                upsert(&update)
            } else {
                upsert("ON CONFLICT (name) DO NOTHING")
            };
            tx.execute(
                &sql,
                &[
                    &queue.name,
                    &queue.concurrency,
                    &queue.worker_concurrency,
                    &queue.rate_limit_max,
                    &queue.rate_limit_period_sec,
                    &partitioned,
                    &queue.partition_concurrency,
                    &queue.partition_worker_concurrency,
                    &queue.partition_rate_limit_max,
                    &queue.partition_rate_limit_period_sec,
                    &queue.polling_interval_sec,
                    &now,
                    &stored_owner,
                ],
            )
            .await?;
            let row = tx.query_one(&read_back, &[&queue.name]).await?;
            let stored = record_from(&row);
            // A registrar that inserted between our check and our write may have taken the name.
            resolve_owner(&queue.name, stored.application_name.as_deref(), owner)?;
            tx.commit().await?;
            Ok(RegisteredQueue {
                queue: stored,
                inserted: existing.is_none(),
            })
        })
        .await
    }

    /// The queue's row, whoever owns it; `None` if there is none.
    pub async fn get_queue(&self, name: &str) -> Result<Option<QueueRecord>> {
        let sql = format!(
            "SELECT {QUEUE_COLUMNS} FROM {}.queues WHERE name = $1",
            self.schema()
        );
        self.retrying(|| async {
            Ok(self
                .query_opt(&sql, &[&name])
                .await?
                .as_ref()
                .map(record_from))
        })
        .await
    }

    /// The queues owned by any of `apps` plus the unclaimed ones; every queue when `apps` is empty.
    pub async fn list_queues(&self, apps: &[String]) -> Result<Vec<QueueRecord>> {
        let s = self.schema();
        let sql = if apps.is_empty() {
            format!("SELECT {QUEUE_COLUMNS} FROM {s}.queues ORDER BY name")
        } else {
            format!(
                "SELECT {QUEUE_COLUMNS} FROM {s}.queues \
                 WHERE application_name = ANY($1) OR application_name IS NULL ORDER BY name"
            )
        };
        self.retrying(|| async {
            let client = self.client().await?;
            let rows = if apps.is_empty() {
                client.query(&sql, &[]).await?
            } else {
                client.query(&sql, &[&apps]).await?
            };
            Ok(rows.iter().map(record_from).collect())
        })
        .await
    }

    /// Deletes the queue's row (nothing if there is none). Workflows still enqueued on it stay.
    pub async fn delete_queue(&self, name: &str) -> Result<()> {
        let sql = format!("DELETE FROM {}.queues WHERE name = $1", self.schema());
        self.retrying(|| async {
            self.client().await?.execute(&sql, &[&name]).await?;
            Ok(())
        })
        .await
    }

    /// Sets one integer limit (`None` clears it); a partition limit also recomputes `partition_queue`.
    /// No row, no change.
    pub async fn set_queue_limit(
        &self,
        name: &str,
        limit: QueueLimit,
        value: Option<i32>,
    ) -> Result<()> {
        let column = limit.column();
        let partition = match limit {
            QueueLimit::PartitionConcurrency | QueueLimit::PartitionWorkerConcurrency => {
                format!(", {}", partitioned_after("$2::int4 IS NOT NULL", column))
            }
            QueueLimit::Concurrency | QueueLimit::WorkerConcurrency => String::new(),
        };
        // Transactions, locks: one statement; locks the queue's row.
        let sql = format!(
            "UPDATE {}.queues SET {column} = $2{partition}, updated_at = $3 WHERE name = $1",
            self.schema()
        );
        let now = now_ms();
        self.retrying(|| async {
            self.client()
                .await?
                .execute(&sql, &[&name, &value, &now])
                .await?;
            Ok(())
        })
        .await
    }

    /// Sets the queue's rate limit, or its per-partition one (`None` clears it; the partition one
    /// also recomputes `partition_queue`). No row, no change.
    pub async fn set_queue_rate_limit(
        &self,
        name: &str,
        partition: bool,
        value: Option<RateLimit>,
    ) -> Result<()> {
        let set = if partition {
            format!(
                "partition_rate_limit_max = $2, partition_rate_limit_period_sec = $3, {}",
                partitioned_after(
                    "($2::int4 IS NOT NULL AND $3::float8 IS NOT NULL)",
                    "partition_rate_limit"
                )
            )
        } else {
            "rate_limit_max = $2, rate_limit_period_sec = $3".to_string()
        };
        // Transactions, locks: one statement; locks the queue's row.
        let sql = format!(
            "UPDATE {}.queues SET {set}, updated_at = $4 WHERE name = $1",
            self.schema()
        );
        let max = value.map(|v| v.limit_per_period);
        let period = value.map(|v| v.period_sec);
        let now = now_ms();
        self.retrying(|| async {
            self.client()
                .await?
                .execute(&sql, &[&name, &max, &period, &now])
                .await?;
            Ok(())
        })
        .await
    }

    /// Sets how often (seconds) the queue's dispatchers poll at most. No row, no change.
    pub async fn set_queue_polling_interval(&self, name: &str, seconds: f64) -> Result<()> {
        // Transactions, locks: one statement; locks the queue's row.
        let sql = format!(
            "UPDATE {}.queues SET polling_interval_sec = $2, updated_at = $3 WHERE name = $1",
            self.schema()
        );
        let now = now_ms();
        self.retrying(|| async {
            self.client()
                .await?
                .execute(&sql, &[&name, &seconds, &now])
                .await?;
            Ok(())
        })
        .await
    }
}

/// The owner to store for a queue whose row has `current` as owner: an unclaimed row takes the
/// registrar's, a registrar without a name leaves the row's, and another application's is a refusal.
fn resolve_owner(name: &str, current: Option<&str>, owner: Option<&str>) -> Result<Option<String>> {
    match (current, owner) {
        (None, o) => Ok(o.map(str::to_string)),
        (Some(c), None) => Ok(Some(c.to_string())),
        (Some(c), Some(o)) if c == o => Ok(Some(c.to_string())),
        (Some(c), Some(o)) => Err(EngineError::NameTaken {
            kind: "Queue",
            name: name.to_string(),
            owner: c.to_string(),
            requested: o.to_string(),
        }),
    }
}
