//! Dispatch of application queues (rows of `dbos.queues`): which queues this process serves, and the
//! claim of one queue's ENQUEUED rows within its limits (global and worker concurrency, rate limit).
//! Claims of one queue are serialized by a transaction-level advisory lock on the queue's name, so
//! concurrent claimers wait their turn instead of failing on each other's row locks.

use super::db::now_ms;
use super::error::Result;
use super::recovery::{claimed_columns, claimed_from, ClaimedWorkflow};
use super::status::Status;
use super::Engine;

/// A queue this process dispatches, as `dbos.queues` holds it now.
#[derive(Debug, Clone)]
pub struct QueueToServe {
    pub name: String,
    /// How often to look for work enqueued by others (the SDK's `minPollingIntervalMs`).
    pub polling_interval_ms: i64,
}

pub(crate) struct Sql {
    serve: String,
    lock: String,
    claim: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let (pending, enqueued, delayed) = (
            Status::Pending.sql(),
            Status::Enqueued.sql(),
            Status::Delayed.sql(),
        );
        let claimed_columns = claimed_columns(s);
        // More than any budget: a limit that is not set does not bound the claim.
        let unbounded = i32::MAX;
        Sql {
            // Partitioned queues are not dispatched yet (their limits are per partition key).
            serve: format!(
                "SELECT name, polling_interval_sec FROM {s}.queues \
                 WHERE (application_name = ANY($1) OR application_name IS NULL) AND NOT partition_queue \
                 ORDER BY name"
            ),
            // Transactions, locks: the first statement of `claim_from_queue`'s transaction; it holds a
            // transaction-level advisory lock on the queue's name (key space 'dbos.queues') until commit.
            lock: "SELECT pg_advisory_xact_lock(hashtext('dbos.queues'), hashtext($1))".to_string(),
            // The budget is the least of: the worker limit less this process's running ones ($4), the
            // global limit less the queue's PENDING rows, and the rate limit less the rows started in
            // the window (finished ones included, as the SDK counts them); no queue row means no budget.
            // Order is strict FIFO within a priority: priority, created_at, then workflow_uuid.
            // $1 queue, $2 version, $3 names, $4 local running, $5 token, $6 executor, $7 now,
            // $8 my app name, $9 cap
            // Transactions, locks: the second statement of `claim_from_queue`'s transaction (after
            // `lock`, so its snapshot sees every earlier claim of the queue committed); the chosen
            // rows are locked `FOR UPDATE SKIP LOCKED` (a row a cancel holds is left), then updated.
            claim: format!(
                "WITH q AS (SELECT concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec \
                   FROM {s}.queues WHERE name = $1), \
                 budget AS (SELECT LEAST( \
                   COALESCE(q.worker_concurrency - $4::int4, {unbounded}), \
                   COALESCE(q.concurrency - (SELECT count(*) FROM {s}.workflow_status \
                     WHERE queue_name = $1 AND status = {pending} \
                     AND (application_name = ANY($3) OR application_name IS NULL))::int4, {unbounded}), \
                   CASE WHEN q.rate_limit_max IS NULL OR q.rate_limit_period_sec IS NULL THEN {unbounded} \
                     ELSE q.rate_limit_max - (SELECT count(*) FROM {s}.workflow_status \
                       WHERE queue_name = $1 AND rate_limited AND status NOT IN ({enqueued}, {delayed}) \
                       AND started_at_epoch_ms > $7 - (q.rate_limit_period_sec * 1000)::int8 \
                       AND (application_name = ANY($3) OR application_name IS NULL))::int4 END, \
                   $9::int4) AS n, \
                   q.rate_limit_max IS NOT NULL AND q.rate_limit_period_sec IS NOT NULL AS rated FROM q), \
                 c AS (SELECT workflow_uuid FROM {s}.workflow_status WHERE status = {enqueued} AND queue_name = $1 \
                   AND (application_version = $2 OR application_version IS NULL) \
                   AND (application_name = ANY($3) OR application_name IS NULL) \
                   ORDER BY priority ASC, created_at ASC, workflow_uuid ASC \
                   LIMIT GREATEST(COALESCE((SELECT n FROM budget), 0), 0) FOR UPDATE SKIP LOCKED) \
                 UPDATE {s}.workflow_status ws SET status = {pending}, owner_xid = $5, executor_id = $6, \
                   application_version = $2, started_at_epoch_ms = $7, \
                   rate_limited = COALESCE((SELECT rated FROM budget), false), \
                   application_name = COALESCE(ws.application_name, $8), recovery_attempts = ws.recovery_attempts + 1, \
                   updated_at = $7, workflow_deadline_epoch_ms = CASE WHEN ws.workflow_timeout_ms IS NOT NULL \
                     AND ws.workflow_deadline_epoch_ms IS NULL THEN $7 + ws.workflow_timeout_ms \
                     ELSE ws.workflow_deadline_epoch_ms END \
                 FROM c WHERE ws.workflow_uuid = c.workflow_uuid AND ws.status = {enqueued} \
                 RETURNING {claimed_columns}"
            ),
        }
    }
}

impl Engine {
    /// The queues of this application (and unclaimed ones) that this process dispatches.
    pub async fn queues_to_serve(&self) -> Result<Vec<QueueToServe>> {
        let names = vec![self.identity.app_name.clone()];
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.dispatch.serve).await?;
            let rows = client.query(&stmt, &[&names]).await?;
            Ok(rows
                .iter()
                .map(|r| QueueToServe {
                    name: r.get(0),
                    polling_interval_ms: (r.get::<_, f64>(1) * 1000.0).round() as i64,
                })
                .collect())
        })
        .await
    }

    /// Claims ENQUEUED rows of `queue` within its limits (`local_running`: how many of its workflows
    /// this process is running now), at most `cap`. Safe to retry: a retry first looks for what the
    /// token already took, in case an attempt committed but its reply was lost.
    pub async fn claim_from_queue(
        &self,
        queue: &str,
        local_running: i32,
        cap: i32,
    ) -> Result<Vec<ClaimedWorkflow>> {
        let token = uuid::Uuid::new_v4().to_string();
        let names = vec![self.identity.app_name.clone()];
        let now = now_ms();
        let mut first = true;
        let rows = self
            .retrying(|| {
                let retry = !std::mem::replace(&mut first, false);
                let (token, names) = (&token, &names);
                async move {
                    let mut client = self.client().await?;
                    if retry {
                        let stmt = client.prepare_cached(&self.sql.recovery.claimed_by).await?;
                        let taken = client.query(&stmt, &[token]).await?;
                        if !taken.is_empty() {
                            return Ok(taken);
                        }
                    }
                    let lock = client.prepare_cached(&self.sql.dispatch.lock).await?;
                    let claim = client.prepare_cached(&self.sql.dispatch.claim).await?;
                    let tx = client.transaction().await?;
                    tx.execute(&lock, &[&queue]).await?;
                    let rows = tx
                        .query(
                            &claim,
                            &[
                                &queue,
                                &self.identity.app_version,
                                names,
                                &local_running,
                                token,
                                &self.identity.executor_id,
                                &now,
                                &self.identity.app_name,
                                &cap,
                            ],
                        )
                        .await?;
                    tx.commit().await?;
                    Ok(rows)
                }
            })
            .await?;
        Ok(rows.iter().map(|r| claimed_from(r, &token)).collect())
    }
}
