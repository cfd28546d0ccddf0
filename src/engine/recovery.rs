//! Recovery: at launch this executor's PENDING workflows of application queues go back on their
//! queue and the others are claimed to run again here; claims take queued rows (recovered, resumed,
//! or enqueued by a client) for this process to run, counting attempts.

use super::db::now_ms;
use super::error::{EngineError, Result};
use super::status::Status;
use super::Engine;

/// The queue recovery and resume use; it has no concurrency limits.
pub const INTERNAL_QUEUE: &str = "_dbos_internal_queue";

/// A row this process claimed and must now run (or dead-letter, when over its attempt budget).
#[derive(Debug, Clone)]
pub struct ClaimedWorkflow {
    pub workflow_id: String,
    pub name: String,
    pub class_name: Option<String>,
    pub config_name: Option<String>,
    pub recovery_attempts: i64,
    pub serialization: Option<String>,
    pub inputs: Option<String>,
    pub deadline_epoch_ms: Option<i64>,
    /// The queue it runs for (the worker limit of an application queue counts it).
    pub queue_name: Option<String>,
    /// The claim's token, now the row's owner_xid: every checkpoint of this run is fenced by it.
    pub token: String,
    /// Its recorded checkpoints, when the claim read them (in its transaction, after taking the rows, so
    /// none committed before is missed and none can commit after: they are fenced by the token); None:
    /// the caller loads them.
    pub checkpoints: Option<Vec<crate::engine::steps::Checkpoint>>,
    /// Who started it, as recorded: the run sees them again (the SDK's recovery context does so too).
    pub authenticated_user: Option<String>,
    pub assumed_role: Option<String>,
    /// The recorded JSON array text, as stored.
    pub authenticated_roles: Option<String>,
}

pub(crate) struct Sql {
    cancel: String,
    cancel_tree: String,
    resume: String,
    sweep_timeouts: String,
    cancelled_among: String,
    existing: String,
    requeue: String,
    recover: String,
    claim: String,
    pub(crate) claimed_by: String,
    dead_letter: String,
    register_version: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let (pending, enqueued, delayed) = (
            Status::Pending.sql(),
            Status::Enqueued.sql(),
            Status::Delayed.sql(),
        );
        let (success, error, cancelled, dead) = (
            Status::Success.sql(),
            Status::Error.sql(),
            Status::Cancelled.sql(),
            Status::MaxRecoveryAttemptsExceeded.sql(),
        );
        let claimed_columns = claimed_columns(s);
        let latest = super::dispatch::claim::latest(s, 3);
        Sql {
            // Cancellation clears the owner, so the running execution is fenced out at its next write.
            // Transactions, locks (cancel, cancel_tree, resume, dead_letter): one statement; the
            // UPDATE locks each row it changes (`FOR NO KEY UPDATE` strength), so it waits for a
            // fenced write that holds the row (see `fence`) and that write's verdict sees it after.
            cancel: format!(
                "UPDATE {s}.workflow_status SET status = {cancelled}, owner_xid = NULL, queue_name = NULL, \
                 deduplication_id = NULL, started_at_epoch_ms = NULL, updated_at = $2, completed_at = $2 \
                 WHERE workflow_uuid = ANY($1) AND status NOT IN ({success}, {error}) RETURNING workflow_uuid"
            ),
            cancel_tree: format!(
                "WITH RECURSIVE tree(id) AS (SELECT unnest($1::text[]) \
                   UNION SELECT ws.workflow_uuid FROM {s}.workflow_status ws JOIN tree ON ws.parent_workflow_id = tree.id) \
                 UPDATE {s}.workflow_status SET status = {cancelled}, owner_xid = NULL, queue_name = NULL, \
                 deduplication_id = NULL, started_at_epoch_ms = NULL, updated_at = $2, completed_at = $2 \
                 WHERE workflow_uuid IN (SELECT id FROM tree) AND status NOT IN ({success}, {error}) \
                 RETURNING workflow_uuid"
            ),
            resume: format!(
                "UPDATE {s}.workflow_status SET status = {enqueued}, owner_xid = NULL, \
                 queue_name = COALESCE($3, '{INTERNAL_QUEUE}'), recovery_attempts = 0, workflow_deadline_epoch_ms = NULL, \
                 deduplication_id = NULL, started_at_epoch_ms = NULL, updated_at = $2, completed_at = NULL \
                 WHERE workflow_uuid = ANY($1) AND status NOT IN ({success}, {error}) RETURNING workflow_uuid"
            ),
            // Transactions, locks: one statement; the expired rows are locked `FOR UPDATE SKIP LOCKED`
            // (a row a fenced write holds is left for the next sweep), then updated.
            sweep_timeouts: format!(
                "UPDATE {s}.workflow_status SET status = {cancelled}, owner_xid = NULL, queue_name = NULL, \
                 deduplication_id = NULL, started_at_epoch_ms = NULL, updated_at = $1, completed_at = $1 \
                 WHERE workflow_uuid IN (SELECT workflow_uuid FROM {s}.workflow_status \
                   WHERE status IN ({enqueued}, {pending}, {delayed}) AND workflow_deadline_epoch_ms IS NOT NULL \
                   AND workflow_deadline_epoch_ms <= $1 AND (application_name = ANY($2) OR application_name IS NULL) \
                   ORDER BY workflow_deadline_epoch_ms LIMIT 1000 FOR UPDATE SKIP LOCKED) \
                 RETURNING workflow_uuid"
            ),
            existing: format!("SELECT workflow_uuid FROM {s}.workflow_status WHERE workflow_uuid = ANY($1)"),
            cancelled_among: format!(
                "SELECT workflow_uuid FROM {s}.workflow_status WHERE workflow_uuid = ANY($1) \
                 AND status = {cancelled}"
            ),
            // Recovery, first half: this executor's PENDING rows of application queues go back to
            // ENQUEUED on their own queue, as the SDK does (created_at unchanged, so at its head), and
            // the queue's dispatchers claim them again under the queue's limits as they are now (a
            // limit lowered while this process was down holds; the claim stamps the rate window).
            // $1 executor, $2 version, $3 names, $4 now
            // Transactions, locks: one statement; the UPDATE locks each row it re-enqueues.
            requeue: format!(
                "UPDATE {s}.workflow_status ws SET status = {enqueued}, owner_xid = NULL, \
                   started_at_epoch_ms = NULL, updated_at = $4 \
                 WHERE ws.status = {pending} AND ws.executor_id = $1 AND ws.application_version = $2 \
                   AND (ws.application_name = ANY($3) OR ws.application_name IS NULL) \
                   AND ws.queue_name IS NOT NULL AND ws.queue_name <> '{INTERNAL_QUEUE}' \
                 RETURNING ws.workflow_uuid"
            ),
            // Second half: the other PENDING rows (started directly, or from the internal queue, which
            // has no limits) are claimed for the new run in the same statement. The SDK re-enqueues
            // them on the internal queue first, which lets any process of the version take them; the
            // end state is the SDK's: internal queue, one more attempt, a new owner, started_at now.
            // $1 executor, $2 version, $3 names, $4 now, $5 token
            // Transactions, locks: one statement; the UPDATE locks each row it takes over.
            recover: format!(
                "UPDATE {s}.workflow_status ws SET status = {pending}, owner_xid = $5, started_at_epoch_ms = $4, \
                   updated_at = $4, queue_name = COALESCE(ws.queue_name, '{INTERNAL_QUEUE}'), rate_limited = false, \
                   recovery_attempts = ws.recovery_attempts + 1 \
                 WHERE ws.status = {pending} AND ws.executor_id = $1 AND ws.application_version = $2 \
                   AND (ws.application_name = ANY($3) OR ws.application_name IS NULL) \
                   AND (ws.queue_name IS NULL OR ws.queue_name = '{INTERNAL_QUEUE}') \
                 RETURNING {claimed_columns}"
            ),
            // $1 queue, $2 version, $3 names, $4 token, $5 executor, $6 now, $7 my app name
            // Transactions, locks: one statement; the queued rows are locked `FOR UPDATE SKIP LOCKED`
            // (so concurrent claimers take different rows), then updated. As the SDK, a row with no
            // version (a client's enqueue, a schedule fired before any version existed) is taken only
            // by a process of the latest version (any, when there is none).
            claim: format!(
                "WITH {latest}, \
                 c AS (SELECT workflow_uuid FROM {s}.workflow_status WHERE status = {enqueued} AND queue_name = $1 \
                   AND (application_version = $2 OR (application_version IS NULL \
                     AND COALESCE((SELECT version_name FROM latest), $2) = $2)) \
                   AND (application_name = ANY($3) OR application_name IS NULL) \
                   ORDER BY priority ASC, created_at ASC LIMIT $8 FOR UPDATE SKIP LOCKED) \
                 UPDATE {s}.workflow_status ws SET status = {pending}, owner_xid = $4, executor_id = $5, \
                   application_version = $2, started_at_epoch_ms = $6, rate_limited = false, \
                   application_name = COALESCE(ws.application_name, $7), recovery_attempts = ws.recovery_attempts + 1, \
                   updated_at = $6, workflow_deadline_epoch_ms = CASE WHEN ws.workflow_timeout_ms IS NOT NULL \
                     AND ws.workflow_deadline_epoch_ms IS NULL THEN $6 + ws.workflow_timeout_ms \
                     ELSE ws.workflow_deadline_epoch_ms END \
                 FROM c WHERE ws.workflow_uuid = c.workflow_uuid AND ws.status = {enqueued} \
                 RETURNING {claimed_columns}"
            ),
            // What a claim with this token already took: a retried claim whose first attempt committed
            // unacknowledged runs those rows rather than leaving them PENDING with nobody running them.
            claimed_by: format!(
                "SELECT {claimed_columns} FROM {s}.workflow_status ws WHERE ws.owner_xid = $1 AND ws.status = {pending}"
            ),
            dead_letter: format!(
                "UPDATE {s}.workflow_status SET status = {dead}, deduplication_id = NULL, \
                 started_at_epoch_ms = NULL, queue_name = NULL, owner_xid = NULL, completed_at = $3, updated_at = $3 \
                 WHERE workflow_uuid = $1 AND status = {pending} AND recovery_attempts >= $2"
            ),
            // Transactions, locks: one statement; the UPDATE locks the version's row if it has one.
            register_version: format!(
                "WITH claimed AS (UPDATE {s}.application_versions SET application_name = $1 \
                   WHERE version_name = $2 AND application_name IS NULL RETURNING 1) \
                 INSERT INTO {s}.application_versions (version_id, version_name, application_name) \
                 SELECT $3, $2, $1 WHERE NOT EXISTS (SELECT 1 FROM claimed) ON CONFLICT DO NOTHING"
            ),
        }
    }
}

/// What a claimed row's run needs (the status row aliased `ws`), in `claimed_from`'s order.
pub(crate) fn claimed_columns(s: &str) -> String {
    format!(
        "ws.workflow_uuid, ws.name, ws.class_name, ws.config_name, ws.recovery_attempts, ws.serialization, \
         COALESCE((SELECT i.inputs FROM {s}.workflow_input i WHERE i.workflow_uuid = ws.workflow_uuid), ws.inputs), \
         ws.workflow_deadline_epoch_ms, ws.queue_name, ws.authenticated_user, ws.assumed_role, ws.authenticated_roles"
    )
}

/// How many columns `claimed_columns` returns: a claim's extra columns come after them.
pub(crate) const CLAIMED_COLUMNS: usize = 12;

pub(crate) fn claimed_from(r: &tokio_postgres::Row, token: &str) -> ClaimedWorkflow {
    ClaimedWorkflow {
        workflow_id: r.get(0),
        name: r.get::<_, Option<String>>(1).unwrap_or_default(),
        class_name: r.get(2),
        config_name: r.get(3),
        recovery_attempts: r.get::<_, Option<i64>>(4).unwrap_or(0),
        serialization: r.get(5),
        inputs: r.get(6),
        deadline_epoch_ms: r.get(7),
        queue_name: r.get(8),
        token: token.to_string(),
        checkpoints: None,
        authenticated_user: r.get(9),
        assumed_role: r.get(10),
        authenticated_roles: r.get(11),
    }
}

impl Engine {
    /// Cancels every listed workflow (and, with `children`, their descendants) that has not finished;
    /// returns the ones it changed.
    pub async fn cancel_workflows(&self, ids: &[String], children: bool) -> Result<Vec<String>> {
        let sql = if children {
            &self.sql.recovery.cancel_tree
        } else {
            &self.sql.recovery.cancel
        };
        self.ids_update(sql, ids).await
    }

    /// Puts listed unfinished workflows back on `queue` (default: the internal queue) with a fresh
    /// attempt budget; finished ones are left alone. If any ID has no row, none is resumed
    /// (`NoSuchWorkflow` naming the missing ones, as the SDK words it).
    /// This process's writes of a cancelled run still queued go first: once resumed, the row no
    /// longer admits them, and the resumed run would do their steps again.
    /// Transactions, locks: one READ COMMITTED transaction, the existence check then the UPDATE,
    /// which locks each row it changes.
    pub async fn resume_workflows(
        &self,
        ids: &[String],
        queue: Option<&str>,
    ) -> Result<Vec<String>> {
        for id in ids {
            self.written(id).await;
        }
        let now = now_ms();
        self.retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let found: Vec<String> = tx
                .query(&self.sql.recovery.existing, &[&ids])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let missing: Vec<&str> = ids
                .iter()
                .filter(|id| !found.contains(id))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(EngineError::NoSuchWorkflow {
                    workflow_id: missing.join(", "),
                });
            }
            let rows = tx
                .query(&self.sql.recovery.resume, &[&ids, &now, &queue])
                .await?;
            tx.commit().await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    async fn ids_update(&self, sql: &str, ids: &[String]) -> Result<Vec<String>> {
        let now = now_ms();
        self.retrying(|| async {
            let client = self.client().await?;
            let rows = client.query(sql, &[&ids, &now]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Cancels this app's workflows whose deadline has passed (up to 1000 per call).
    pub async fn cancel_timed_out(&self) -> Result<Vec<String>> {
        let names = vec![self.identity.app_name.clone()];
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&self.sql.recovery.sweep_timeouts)
                .await?;
            let rows = client.query(&stmt, &[&now_ms(), &names]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Which of these workflows were cancelled (by anyone): running executions then stop.
    pub async fn cancelled_among(&self, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&self.sql.recovery.cancelled_among)
                .await?;
            let rows = client.query(&stmt, &[&ids]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Recovers this executor's PENDING workflows (of this app version): those of application queues
    /// go back on their queue (its dispatchers run them within its limits), the others are claimed
    /// here for a new run each. The old executions, if any still live, are fenced out either way
    /// (the owner token is cleared or replaced).
    pub async fn recover_pending(&self) -> Result<Vec<ClaimedWorkflow>> {
        let names = vec![self.identity.app_name.clone()];
        let token = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        self.retrying(|| async {
            let client = self.client().await?;
            let stmt = client.prepare_cached(&self.sql.recovery.requeue).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
                &self.identity.executor_id,
                &self.identity.app_version,
                &names,
                &now,
            ];
            client.execute(&stmt, &params).await?;
            Ok(())
        })
        .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &self.identity.executor_id,
            &self.identity.app_version,
            &names,
            &now,
            &token,
        ];
        self.claim(&self.sql.recovery.recover, &params, &token)
            .await
    }

    /// Claims up to `limit` ENQUEUED rows of `queue` for this process.
    pub async fn claim_queued(&self, queue: &str, limit: i64) -> Result<Vec<ClaimedWorkflow>> {
        let token = uuid::Uuid::new_v4().to_string();
        let names = vec![self.identity.app_name.clone()];
        let now = now_ms();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &queue,
            &self.identity.app_version,
            &names,
            &token,
            &self.identity.executor_id,
            &now,
            &self.identity.app_name,
            &limit,
        ];
        self.claim(&self.sql.recovery.claim, &params, &token).await
    }

    /// Runs a claim statement that gives the rows it takes to `token`. Safe to retry: a retry first
    /// looks for what the token already took, in case an attempt committed but its reply was lost.
    async fn claim(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        token: &str,
    ) -> Result<Vec<ClaimedWorkflow>> {
        let mut first = true;
        let rows = self
            .retrying(|| {
                let retry = !std::mem::replace(&mut first, false);
                async move {
                    let client = self.client().await?;
                    if retry {
                        let stmt = client.prepare_cached(&self.sql.recovery.claimed_by).await?;
                        let taken = client.query(&stmt, &[&token]).await?;
                        if !taken.is_empty() {
                            return Ok(taken);
                        }
                    }
                    let stmt = client.prepare_cached(sql).await?;
                    Ok(client.query(&stmt, params).await?)
                }
            })
            .await?;
        Ok(rows.iter().map(|r| claimed_from(r, token)).collect())
    }

    /// Moves a claimed workflow that has used up its attempts to MAX_RECOVERY_ATTEMPTS_EXCEEDED.
    pub async fn dead_letter(&self, workflow_id: &str, min_attempts: i64) -> Result<bool> {
        self.retrying(|| async {
            let client = self.client().await?;
            let n = client
                .execute(
                    &self.sql.recovery.dead_letter,
                    &[&workflow_id, &min_attempts, &now_ms()],
                )
                .await?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn register_app_version(&self) -> Result<()> {
        let id = uuid::Uuid::new_v4().to_string();
        self.retrying(|| async {
            let client = self.client().await?;
            client
                .execute(
                    &self.sql.recovery.register_version,
                    &[&self.identity.app_name, &self.identity.app_version, &id],
                )
                .await?;
            Ok(())
        })
        .await
    }
}
