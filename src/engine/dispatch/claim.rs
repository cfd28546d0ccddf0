//! The claim statements of one application queue: the rows that may start now within the queue's
//! limits, marked PENDING for this process in one statement. An unpartitioned queue takes its head
//! rows in priority and FIFO order; a partitioned one takes the head rows of each partition key within
//! that key's limits, round-robin across keys, starting after the key the previous claim ended on (so
//! no key waits behind lower ones), and within the queue-wide limits too.
//!
//! Times are the database's clock (`statement_timestamp()`, after the queue's lock is held), as the
//! SDK stamps `started_at_epoch_ms` and counts its rate window with the database clock: processes
//! with skewed clocks still agree on the window.

use crate::engine::status::Status;

/// More than any budget: a limit that is not set does not bound the claim.
const UNBOUNDED: i32 = i32::MAX;

/// Parameter numbers of the claimable rows' filter: version, app names, runnable names, their classes.
pub(crate) struct Params {
    pub version: u8,
    pub apps: u8,
    pub names: u8,
    pub classes: u8,
}

/// The claims' numbering ($2 version, $3 app names, $8/$9 runnable names and class names).
const CLAIM: Params = Params {
    version: 2,
    apps: 3,
    names: 8,
    classes: 9,
};

/// The claimable ENQUEUED rows (alias `a`), in the caller's application scope and version clause
/// (with the `latest` CTE), of a workflow this process can run (runnable names NULL: any). As the
/// SDK (PR #1291): a row with no version runs only on a process of the latest version.
pub(crate) fn claimable(a: &str, p: &Params) -> String {
    let enqueued = Status::Enqueued.sql();
    let Params {
        version: v,
        apps,
        names,
        classes,
    } = p;
    format!(
        "{a}.status = {enqueued} \
         AND ({a}.application_name = ANY(${apps}) OR {a}.application_name IS NULL) \
         AND ({a}.application_version = ${v} OR ({a}.application_version IS NULL \
           AND COALESCE((SELECT version_name FROM latest), ${v}) = ${v})) \
         AND (${names}::text[] IS NULL OR ({a}.name, COALESCE({a}.class_name, '')) IN \
           (SELECT n, c FROM unnest(${names}::text[], ${classes}::text[]) AS r(n, c)))"
    )
}

/// The newest version of the application (own and unclaimed rows), the SDK's "latest".
pub(crate) fn latest(s: &str, apps: u8) -> String {
    format!(
        "latest AS (SELECT version_name FROM {s}.application_versions \
           WHERE application_name = ANY(${apps}) OR application_name IS NULL \
           ORDER BY version_timestamp DESC LIMIT 1)"
    )
}

/// The CTEs every claim starts with: the queue's row, the clock, the latest version, and the
/// queue-wide budget: the least of the worker limit less this process's running ones ($4), the global
/// limit less the queue's PENDING rows, and the rate limit less the rows started in the window
/// (finished ones included, as the SDK counts them), at most $7; zero when the queue's partitioning
/// is not the one this statement claims for (`partitioned`), so a stale view claims nothing.
fn head(s: &str, partitioned: bool) -> String {
    let (pending, enqueued, delayed) = (
        Status::Pending.sql(),
        Status::Enqueued.sql(),
        Status::Delayed.sql(),
    );
    let u = UNBOUNDED;
    let wrong = if partitioned {
        "NOT q.partition_queue"
    } else {
        "q.partition_queue"
    };
    let latest = latest(s, CLAIM.apps);
    format!(
        "q AS (SELECT concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec, \
           partition_concurrency, partition_worker_concurrency, partition_rate_limit_max, \
           partition_rate_limit_period_sec, partition_queue FROM {s}.queues WHERE name = $1), \
         clock AS (SELECT (extract(epoch FROM statement_timestamp()) * 1000)::int8 AS now), \
         {latest}, \
         budget AS (SELECT CASE WHEN {wrong} THEN 0 ELSE LEAST( \
           COALESCE(q.worker_concurrency - $4::int4, {u}), \
           COALESCE(q.concurrency - (SELECT count(*) FROM {s}.workflow_status \
             WHERE queue_name = $1 AND status = {pending} \
             AND (application_name = ANY($3) OR application_name IS NULL))::int4, {u}), \
           CASE WHEN q.rate_limit_max IS NULL OR q.rate_limit_period_sec IS NULL THEN {u} \
             ELSE q.rate_limit_max - (SELECT count(*) FROM {s}.workflow_status \
               WHERE queue_name = $1 AND rate_limited AND status NOT IN ({enqueued}, {delayed}) \
               AND started_at_epoch_ms > clock.now - (q.rate_limit_period_sec * 1000)::int8 \
               AND (application_name = ANY($3) OR application_name IS NULL))::int4 END, \
           $7::int4) END AS n, \
           (q.rate_limit_max IS NOT NULL AND q.rate_limit_period_sec IS NOT NULL) \
             OR (q.partition_rate_limit_max IS NOT NULL AND q.partition_rate_limit_period_sec IS NOT NULL) AS rated \
           FROM q, clock)"
    )
}

/// The update of the chosen rows (CTE `c`, already locked), as the SDK marks a dequeued row. The rows
/// are found by primary key from an array of their IDs, and by nothing else: statistics that do not yet
/// know a backlog (a table grown by 20,000 ENQUEUED rows since its last analyze) make any other path
/// look cheaper. Joined on `c`, the plan scanned the whole table once per chosen row (~350 ms a claim);
/// with `status = ENQUEUED` here too, it scanned the status index and tested each row against the
/// 1,000-element array (~1-2 s a claim). The status test is not needed: `c` locked each row after
/// checking it is ENQUEUED on its latest version, so none can change before this update. `joined`
/// (the partitioned claim, which returns `c`'s columns) still joins `c`, by the same primary key.
fn mark(s: &str, joined: Option<&str>) -> String {
    let pending = Status::Pending.sql();
    let claimed_columns = crate::engine::recovery::claimed_columns(s);
    let (from, on, extra) = match joined {
        Some(extra) => (" FROM c", " AND ws.workflow_uuid = c.workflow_uuid", extra),
        None => ("", "", ""),
    };
    format!(
        "UPDATE {s}.workflow_status ws SET status = {pending}, owner_xid = $5, executor_id = $6, \
           application_version = $2, started_at_epoch_ms = (SELECT now FROM clock), \
           rate_limited = COALESCE((SELECT rated FROM budget), false), \
           application_name = COALESCE(ws.application_name, $10), recovery_attempts = ws.recovery_attempts + 1, \
           updated_at = (SELECT now FROM clock), workflow_deadline_epoch_ms = CASE WHEN ws.workflow_timeout_ms IS NOT NULL \
             AND ws.workflow_deadline_epoch_ms IS NULL THEN (SELECT now FROM clock) + ws.workflow_timeout_ms \
             ELSE ws.workflow_deadline_epoch_ms END\
         {from} WHERE ws.workflow_uuid = ANY(ARRAY(SELECT workflow_uuid FROM c)){on} \
         RETURNING {claimed_columns}{extra}"
    )
}

/// Parameters of both: $1 queue, $2 version, $3 app names (scope), $4 this process's running ones,
/// $5 token, $6 executor, $7 cap, $8/$9 runnable workflow names and class names (NULL: any), $10 my
/// app name. Transactions, locks: the second statement of `claim_from_queue`'s transaction (after the
/// queue's advisory lock, so its snapshot sees every earlier claim of the queue committed); the chosen
/// rows are locked `FOR UPDATE NOWAIT`, then updated. NOWAIT, not SKIP LOCKED: a row locked by a
/// claimer outside our advisory lock (an official SDK process mid-claim) fails the claim, which is
/// retried once that claim has committed and is counted, rather than skipped while uncounted.
pub(crate) fn unpartitioned(s: &str) -> String {
    let head = head(s, false);
    let claimable = claimable("ws", &CLAIM);
    let mark = mark(s, None);
    format!(
        "WITH {head}, \
         c AS (SELECT ws.workflow_uuid FROM {s}.workflow_status ws WHERE ws.queue_name = $1 AND {claimable} \
           ORDER BY ws.priority ASC, ws.created_at ASC, ws.workflow_uuid ASC \
           LIMIT GREATEST(COALESCE((SELECT n FROM budget), 0), 0) FOR UPDATE NOWAIT) \
         {mark}"
    )
}

/// As `unpartitioned`, plus: $11/$12 this process's running ones per partition key (keys, counts),
/// $13 the key the previous claim ended on (NULL: from the first), $14 at most this many keys. Keys
/// come from a loose index scan (one probe per key) of the keys with ENQUEUED rows, those after $13
/// first, then the rest; each key's budget is the least of its worker limit less this process's
/// running ones, its global limit less its PENDING rows and its rate limit less its starts in the
/// window; the heads of the keys are then taken round-robin (every key's first, then every key's
/// second, ...) up to the queue-wide budget. Returns, after the claimed columns, each row's key, its
/// rank within the key and its side (0: after $13) so the caller can tell where the claim ended.
pub(crate) fn partitioned(s: &str) -> String {
    let (pending, enqueued, delayed) = (
        Status::Pending.sql(),
        Status::Enqueued.sql(),
        Status::Delayed.sql(),
    );
    let u = UNBOUNDED;
    let head = head(s, true);
    let claimable = claimable("ws", &CLAIM);
    let mark = mark(s, Some(", c.pk, c.rank, c.side"));
    let scope = "(application_name = ANY($3) OR application_name IS NULL)";
    let probe = format!(
        "SELECT queue_partition_key FROM {s}.workflow_status WHERE queue_name = $1 AND status = {enqueued} \
         AND queue_partition_key IS NOT NULL AND {scope}"
    );
    format!(
        "WITH RECURSIVE {head}, \
         after_keys(pk) AS ( \
           ({probe} AND ($13::text IS NULL OR queue_partition_key > $13) ORDER BY queue_partition_key LIMIT 1) \
           UNION ALL \
           SELECT ({probe} AND queue_partition_key > k.pk ORDER BY queue_partition_key LIMIT 1) \
           FROM after_keys k WHERE k.pk IS NOT NULL), \
         before_keys(pk) AS ( \
           ({probe} AND $13::text IS NOT NULL AND queue_partition_key <= $13 ORDER BY queue_partition_key LIMIT 1) \
           UNION ALL \
           SELECT ({probe} AND queue_partition_key > k.pk AND queue_partition_key <= $13 \
             ORDER BY queue_partition_key LIMIT 1) \
           FROM before_keys k WHERE k.pk IS NOT NULL), \
         keys AS ((SELECT pk, 0 AS side FROM after_keys WHERE pk IS NOT NULL LIMIT $14) \
           UNION ALL (SELECT pk, 1 AS side FROM before_keys WHERE pk IS NOT NULL LIMIT $14) \
           ORDER BY side, pk LIMIT $14), \
         mine AS (SELECT pk, n FROM unnest($11::text[], $12::int4[]) AS m(pk, n)), \
         kb AS (SELECT k.pk, k.side, LEAST( \
           COALESCE(q.partition_worker_concurrency - COALESCE((SELECT sum(n) FROM mine WHERE mine.pk = k.pk), 0)::int4, {u}), \
           COALESCE(q.partition_concurrency - (SELECT count(*) FROM {s}.workflow_status \
             WHERE queue_name = $1 AND status = {pending} AND queue_partition_key = k.pk AND {scope})::int4, {u}), \
           CASE WHEN q.partition_rate_limit_max IS NULL OR q.partition_rate_limit_period_sec IS NULL THEN {u} \
             ELSE q.partition_rate_limit_max - (SELECT count(*) FROM {s}.workflow_status \
               WHERE queue_name = $1 AND rate_limited AND status NOT IN ({enqueued}, {delayed}) \
               AND queue_partition_key = k.pk \
               AND started_at_epoch_ms > clock.now - (q.partition_rate_limit_period_sec * 1000)::int8 \
               AND {scope})::int4 END, \
           $7::int4) AS n FROM keys k, q, clock), \
         pick AS (SELECT h.workflow_uuid, kb.pk, kb.side, h.rank FROM kb CROSS JOIN LATERAL ( \
             SELECT ws.workflow_uuid, row_number() OVER (ORDER BY ws.priority, ws.created_at, ws.workflow_uuid) AS rank \
             FROM {s}.workflow_status ws WHERE ws.queue_name = $1 AND ws.queue_partition_key = kb.pk AND {claimable} \
             ORDER BY ws.priority, ws.created_at, ws.workflow_uuid LIMIT GREATEST(kb.n, 0)) h \
           ORDER BY h.rank, kb.side, kb.pk LIMIT GREATEST(COALESCE((SELECT n FROM budget), 0), 0)), \
         c AS (SELECT ws.workflow_uuid, p.pk, p.rank, p.side FROM {s}.workflow_status ws \
           JOIN pick p ON p.workflow_uuid = ws.workflow_uuid WHERE ws.status = {enqueued} \
           FOR UPDATE OF ws NOWAIT) \
         {mark}"
    )
}
