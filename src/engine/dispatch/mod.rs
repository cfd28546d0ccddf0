//! Dispatch of application queues (rows of `dbos.queues`): which queues this process serves, which
//! of them have work, the move of due DELAYED rows to ENQUEUED, and the claim of one queue's ENQUEUED
//! rows within its limits (global, worker and rate; per partition key too on a partitioned queue).
//! Claims of one queue are serialized by a transaction-level advisory lock on the queue's name, so
//! concurrent claimers wait their turn instead of failing on each other's row locks.

pub(crate) mod claim;

use super::db::now_ms;
use super::error::{EngineError, Result};
use super::recovery::{claimed_from, ClaimedWorkflow, CLAIMED_COLUMNS};
use super::status::Status;
use super::steps::checkpoints_by_workflow;
use super::Engine;

/// At most this many partition keys are looked at per claim (the claim stays bounded with any number
/// of keys; the next claim starts after the last key served).
const KEYS_PER_CLAIM: i64 = 512;

/// A queue this process dispatches, as `dbos.queues` holds it now.
#[derive(Debug, Clone)]
pub struct QueueToServe {
    pub name: String,
    /// How often to look for work enqueued by others (the SDK's `minPollingIntervalMs`), as stored.
    pub polling_interval_ms: f64,
    /// It has partition limits: its rows are claimed per `queue_partition_key`.
    pub partitioned: bool,
    /// It has a concurrency limit (global, worker, or per partition): the end of a run frees a slot.
    pub bounded: bool,
}

/// What one sweep of due DELAYED rows did.
#[derive(Debug, Clone, Default)]
pub struct DelayedSweep {
    /// The queues that gained ENQUEUED rows.
    pub woken: Vec<String>,
    /// When the application's next DELAYED row is due (epoch ms), if it has one.
    pub next_due_epoch_ms: Option<i64>,
}

/// What a claim asks for.
#[derive(Debug, Clone, Default)]
pub struct ClaimRequest {
    pub queue: String,
    pub partitioned: bool,
    /// How many of the queue's workflows this process runs now (its worker limit counts them).
    pub local_running: i32,
    /// Of those, how many per partition key.
    pub partition_running: Vec<(String, i32)>,
    /// At most this many rows.
    pub cap: i32,
    /// The partition key the previous claim ended on.
    pub cursor: Option<String>,
    /// The workflows this process can run, as (name, class name or ''); None: any.
    pub runnable: Option<Vec<(String, String)>>,
}

/// What a claim took.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub workflows: Vec<ClaimedWorkflow>,
    /// Each workflow's partition key (None on an unpartitioned queue).
    pub partition_keys: Vec<Option<String>>,
    /// The partition key the claim ended on (None: nothing claimed from a partition).
    pub cursor: Option<String>,
}

pub(crate) struct Sql {
    serve: String,
    with_work: String,
    sweep_delayed: String,
    lock: String,
    claim: String,
    claim_partitioned: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let (enqueued, delayed) = (Status::Enqueued.sql(), Status::Delayed.sql());
        let scope = "(application_name = ANY($1) OR application_name IS NULL)";
        // $1 queues, $2 version, $3 app names, $4/$5 runnable names and class names.
        let latest = claim::latest(s, 3);
        let claimable = claim::claimable(
            "ws",
            &claim::Params {
                version: 2,
                apps: 3,
                names: 4,
                classes: 5,
            },
        );
        Sql {
            serve: format!(
                "SELECT name, polling_interval_sec, partition_queue, \
                   concurrency IS NOT NULL OR worker_concurrency IS NOT NULL \
                   OR partition_concurrency IS NOT NULL OR partition_worker_concurrency IS NOT NULL \
                 FROM {s}.queues \
                 WHERE {scope} ORDER BY name"
            ),
            // The queues among $1 with a row this process could claim (limits aside): one statement
            // for every queue due for a poll, so idle queues cost no claim transaction.
            // Transactions, locks: one read-only statement, no locks.
            with_work: format!(
                "WITH {latest} SELECT q.name FROM unnest($1::text[]) AS q(name) \
                 WHERE EXISTS (SELECT 1 FROM {s}.workflow_status ws WHERE ws.queue_name = q.name AND {claimable})"
            ),
            // The SDK's transition (clock: the process's, as the SDK compares with Date.now()): due rows
            // become ENQUEUED, a debounced row's deduplication ID is its debounce key, held only while
            // DELAYED. Also returns when the next row is due, for the timer.
            // $1 app names, $2 now. Transactions, locks: one statement; row locks on the moved rows.
            sweep_delayed: format!(
                "WITH moved AS (UPDATE {s}.workflow_status SET status = {enqueued}, updated_at = $2, \
                   deduplication_id = CASE WHEN is_debounced THEN NULL ELSE deduplication_id END \
                   WHERE status = {delayed} AND delay_until_epoch_ms <= $2 AND {scope} RETURNING queue_name) \
                 SELECT ARRAY(SELECT DISTINCT queue_name FROM moved WHERE queue_name IS NOT NULL), \
                   (SELECT min(delay_until_epoch_ms) FROM {s}.workflow_status \
                    WHERE status = {delayed} AND delay_until_epoch_ms > $2 AND {scope})"
            ),
            // Transactions, locks: the first statement of `claim_from_queue`'s transaction; it holds a
            // transaction-level advisory lock on the queue's name (key space 'dbos.queues') until commit.
            // It also has the claim planned for each execution (for this transaction only): a cached
            // generic plan, made while the table was small, stays until the next analyze, and a burst
            // of enqueues outgrows it within seconds (claims of 1-2 s over a 20,000-row backlog, seq
            // scans where the primary key was wanted). Planning takes well under a millisecond.
            lock: "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), \
                   pg_advisory_xact_lock(hashtext('dbos.queues'), hashtext($1))"
                .to_string(),
            claim: claim::unpartitioned(s),
            claim_partitioned: claim::partitioned(s),
        }
    }
}

/// The runnable workflows as the claim's two parameters (names, class names), NULL for any.
type Runnable = (Option<Vec<String>>, Option<Vec<String>>);

fn runnable_params(runnable: &Option<Vec<(String, String)>>) -> Runnable {
    match runnable {
        None => (None, None),
        Some(list) => (
            Some(list.iter().map(|(n, _)| n.clone()).collect()),
            Some(list.iter().map(|(_, c)| c.clone()).collect()),
        ),
    }
}

/// A claimer outside our advisory lock (an official SDK process) may hold head rows of the queue in
/// its own claim transaction. Skipping them would count the queue's PENDING rows without its claim
/// and overrun the limits, so the claim locks its rows NOWAIT and, when one is held
/// (`LOCK_NOT_AVAILABLE`), tries again once that transaction has had time to end: up to
/// `LOCKED_RETRIES` times, waiting `LOCKED_DELAY` longer each time (about 1 s in all).
const LOCK_NOT_AVAILABLE: &str = "55P03";
const LOCKED_RETRIES: u32 = 20;
const LOCKED_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

impl Engine {
    /// The queues of this application (and unclaimed ones) that this process dispatches.
    pub async fn queues_to_serve(&self) -> Result<Vec<QueueToServe>> {
        let names = vec![self.identity.app_name.clone()];
        self.retrying(|| async {
            let rows = self.query(&self.sql.dispatch.serve, &[&names]).await?;
            Ok(rows
                .iter()
                .map(|r| QueueToServe {
                    name: r.get(0),
                    polling_interval_ms: r.get::<_, Option<f64>>(1).unwrap_or(1.0) * 1000.0,
                    partitioned: r.get::<_, Option<bool>>(2).unwrap_or(false),
                    bounded: r.get::<_, Option<bool>>(3).unwrap_or(false),
                })
                .collect())
        })
        .await
    }

    /// Which of `queues` have rows this process could claim (its version, its workflows).
    pub async fn queues_with_work(
        &self,
        queues: Vec<String>,
        runnable: Option<Vec<(String, String)>>,
    ) -> Result<Vec<String>> {
        let names = vec![self.identity.app_name.clone()];
        let (wf, classes) = runnable_params(&runnable);
        self.retrying(|| async {
            let rows = self
                .query(
                    &self.sql.dispatch.with_work,
                    &[&queues, &self.identity.app_version, &names, &wf, &classes],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    /// Moves this application's due DELAYED rows to ENQUEUED (see `Sql::sweep_delayed`).
    pub async fn sweep_delayed(&self) -> Result<DelayedSweep> {
        let names = vec![self.identity.app_name.clone()];
        let now = now_ms();
        self.retrying(|| async {
            let row = self
                .query_one(&self.sql.dispatch.sweep_delayed, &[&names, &now])
                .await?;
            Ok(DelayedSweep {
                woken: row.get::<_, Option<Vec<String>>>(0).unwrap_or_default(),
                next_due_epoch_ms: row.get(1),
            })
        })
        .await
    }

    /// Claims ENQUEUED rows of a queue within its limits (see `ClaimRequest`). Safe to retry: a retry
    /// first looks for what the token already took, in case an attempt committed but its reply was lost.
    pub async fn claim_from_queue(&self, req: ClaimRequest) -> Result<Claim> {
        let token = uuid::Uuid::new_v4().to_string();
        let names = vec![self.identity.app_name.clone()];
        let (wf, classes) = runnable_params(&req.runnable);
        let (pkeys, pcounts): (Vec<String>, Vec<i32>) =
            req.partition_running.iter().cloned().unzip();
        let mut locked_retries = 0;
        let (rows, checkpoints) = loop {
            let mut first = true;
            let attempt = self
                .retrying(|| {
                    let retry = !std::mem::replace(&mut first, false);
                    let (token, names, wf, classes, pkeys, pcounts, req) =
                        (&token, &names, &wf, &classes, &pkeys, &pcounts, &req);
                    async move {
                        let mut client = self.client().await?;
                        if retry {
                            let stmt = client.prepare_cached(&self.sql.recovery.claimed_by).await?;
                            let taken = client.query(&stmt, &[token]).await?;
                            if !taken.is_empty() {
                                return Ok((taken, None));
                            }
                        }
                        let lock = client.prepare_cached(&self.sql.dispatch.lock).await?;
                        let sql = if req.partitioned {
                            &self.sql.dispatch.claim_partitioned
                        } else {
                            &self.sql.dispatch.claim
                        };
                        let claim = client.prepare_cached(sql).await?;
                        let load = client.prepare_cached(&self.sql.steps.load_many).await?;
                        let tx = client.transaction().await?;
                        tx.execute(&lock, &[&req.queue]).await?;
                        let common: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
                            &req.queue,
                            &self.identity.app_version,
                            names,
                            &req.local_running,
                            token,
                            &self.identity.executor_id,
                            &req.cap,
                            wf,
                            classes,
                            &self.identity.app_name,
                        ];
                        let rows = if req.partitioned {
                            let mut params = common.to_vec();
                            params.extend_from_slice(&[
                                pkeys,
                                pcounts,
                                &req.cursor,
                                &KEYS_PER_CLAIM,
                            ]);
                            tx.query(&claim, &params).await?
                        } else {
                            tx.query(&claim, &common).await?
                        };
                        // The claimed runs' checkpoints in one statement rather than one per run: read in
                        // this transaction, whose row locks keep a previous owner's late checkpoints out
                        // (they wait, then are fenced by the new token), and whose new snapshot sees every
                        // checkpoint committed before the rows were locked.
                        let checkpoints = if rows.is_empty() {
                            Vec::new()
                        } else {
                            let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                            tx.query(&load, &[&ids]).await?
                        };
                        tx.commit().await?;
                        Ok((rows, Some(checkpoints)))
                    }
                })
                .await;
            match attempt {
                Err(e) if e.sqlstate() == Some(LOCK_NOT_AVAILABLE) => {
                    if locked_retries == LOCKED_RETRIES {
                        // Still held: nothing claimed now; the next wake or poll tries again.
                        break (Vec::new(), None);
                    }
                    locked_retries += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(LOCKED_DELAY * locked_retries) => {}
                        _ = self.closed.cancelled() => return Err(EngineError::shutdown()),
                    }
                }
                other => break other?,
            }
        };
        let mut out = Claim::default();
        // Where the round-robin ended: the last row in (rank, side, key) order.
        let mut last: Option<(i64, i32, String)> = None;
        let mut checkpoints = checkpoints.map(|cps| checkpoints_by_workflow(&cps));
        for r in &rows {
            let mut claimed = claimed_from(r, &token);
            claimed.checkpoints = checkpoints
                .as_mut()
                .map(|by| by.remove(&claimed.workflow_id).unwrap_or_default());
            out.workflows.push(claimed);
            // A retry's rows (from `claimed_by`) carry no key columns; they only lose the cursor.
            let pk: Option<String> = if req.partitioned && r.len() >= CLAIMED_COLUMNS + 3 {
                let pk: Option<String> = r.try_get(CLAIMED_COLUMNS).ok().flatten();
                let rank: i64 = r.try_get(CLAIMED_COLUMNS + 1).unwrap_or(0);
                let side: i32 = r.try_get(CLAIMED_COLUMNS + 2).unwrap_or(0);
                if let Some(k) = &pk {
                    let at = (rank, side, k.clone());
                    if last.as_ref().is_none_or(|l| at > *l) {
                        last = Some(at);
                    }
                }
                pk
            } else {
                None
            };
            out.partition_keys.push(pk);
        }
        out.cursor = last.map(|(_, _, k)| k);
        Ok(out)
    }
}
