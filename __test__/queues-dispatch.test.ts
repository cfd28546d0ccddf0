// Queues in this process: DBOS.startWorkflow({queueName}) writes the SDK's ENQUEUED row, and the queue's
// dispatcher runs it within the limits of its dbos.queues row (global and worker concurrency, rate limit),
// in priority then FIFO order, woken at once by a local enqueue. Queue rows are inserted with SQL (queue
// registration is another part of the work).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient } from '@dbos-inc/dbos-sdk';
import { DBOS, Error as DBOSErrors } from 'dbos-native';
import { countEvents, killApp, logEvents, spawnApp, waitFor } from './helpers/child';
import { query, sleep, statusRow, steps } from './helpers/db';
import { appScratch, launchedDatabase } from './helpers/scratch';

/** Start and end times of each step run, by queue: the limits are checked against these. */
const spans: Record<string, { id: string; start: number; end: number }[]> = {};
const runs: Record<string, number> = {};

const work = DBOS.registerStep(
  async (queue: string, id: string, ms: number): Promise<void> => {
    const start = Date.now();
    await sleep(ms);
    (spans[queue] ??= []).push({ id, start, end: Date.now() });
  },
  { name: 'queuedWork' },
);

const queued = DBOS.registerWorkflow(
  async (queue: string, ms: number): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    runs[id] = (runs[id] ?? 0) + 1;
    await work(queue, id, ms);
    return `done ${id}`;
  },
  { name: 'queuedWorkflow' },
);

/** Enqueues a child, then the same dedup ID again (caught), then waits for 'go' before awaiting the child. */
const parentOfQueued = DBOS.registerWorkflow(
  async (dedup: string): Promise<string> => {
    const child = await DBOS.startWorkflow(queued, { queueName: 'kids', enqueueOptions: { deduplicationID: dedup } })('kids', 1);
    let duplicate = 'none';
    try {
      await DBOS.startWorkflow(queued, { queueName: 'kids', enqueueOptions: { deduplicationID: dedup } })('kids', 1);
    } catch (e) {
      duplicate = (e as Error).name;
    }
    await DBOS.recv<string>('go', 30);
    return `${await child.getResult()} ${duplicate}`;
  },
  { name: 'parentOfQueued' },
);

const db = launchedDatabase('dbosn_queues_dispatch', { name: 'queues-test', applicationVersion: 'v1' });

interface Limits {
  concurrency?: number;
  workerConcurrency?: number;
  rateLimitMax?: number;
  rateLimitPeriodSec?: number;
  /** Long in the tests of waking: a run that waited for the poll would show. */
  pollingIntervalSec?: number;
}

async function addQueue(name: string, l: Limits = {}): Promise<void> {
  await query(
    db.url,
    `INSERT INTO dbos.queues (name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec, polling_interval_sec, priority_enabled)
     VALUES ($1, $2, $3, $4, $5, $6, true)`,
    [name, l.concurrency ?? null, l.workerConcurrency ?? null, l.rateLimitMax ?? null, l.rateLimitPeriodSec ?? null, l.pollingIntervalSec ?? 1],
  );
}

/** The most step runs that overlapped at any moment. */
function maxOverlap(queue: string): number {
  const s = spans[queue] ?? [];
  return Math.max(0, ...s.map((a) => s.filter((b) => b.start <= a.start && a.start < b.end).length));
}

async function enqueueMany(queue: string, n: number, ms: number, prefix = queue): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    await DBOS.startWorkflow(queued, { queueName: queue, workflowID: id })(queue, ms);
    ids.push(id);
  }
  return ids;
}

async function results(ids: string[]): Promise<void> {
  for (const id of ids) assert.equal(await DBOS.retrieveWorkflow(id).getResult(), `done ${id}`);
}

describe('enqueue', () => {
  test('the row is the SDK ENQUEUED row, visible as ENQUEUED, then run once', async () => {
    await addQueue('paused', { concurrency: 0 });
    const handle = await DBOS.startWorkflow(queued, { queueName: 'paused', workflowID: 'enq-1', timeoutMS: 60_000 })('paused', 1);
    assert.equal(handle.workflowID, 'enq-1');
    assert.equal((await DBOS.getWorkflowStatus('enq-1'))?.status, 'ENQUEUED');
    const row = await statusRow(db.url, 'enq-1');
    assert.equal(row?.status, 'ENQUEUED');
    assert.equal(row?.queue_name, 'paused');
    assert.equal(row?.recovery_attempts, '0');
    assert.equal(row?.workflow_timeout_ms, '60000');
    assert.equal(row?.workflow_deadline_epoch_ms, null, 'the deadline is set at dequeue');
    assert.equal(row?.owner_xid, null);
    assert.equal(row?.class_name, null);
    assert.equal(row?.config_name, null);
    assert.equal(row?.deduplication_id, null);
    assert.equal(row?.priority, 0);
    assert.equal(row?.application_version, 'v1');
    assert.equal(runs['enq-1'], undefined);
    // The official SDK's client reads it as a queued workflow.
    const client = await DBOSClient.create({ systemDatabaseUrl: db.url });
    try {
      const official = await client.getWorkflow('enq-1');
      assert.equal(official?.status, 'ENQUEUED');
      assert.equal(official?.queueName, 'paused');
      assert.deepEqual(
        (await client.listQueuedWorkflows({ queueName: 'paused' })).map((w) => w.workflowID),
        ['enq-1'],
      );
    } finally {
      await client.destroy();
    }

    await query(db.url, `UPDATE dbos.queues SET concurrency = 1 WHERE name = 'paused'`);
    assert.equal(await handle.getResult(), 'done enq-1');
    assert.equal(runs['enq-1'], 1);
    const done = await statusRow(db.url, 'enq-1');
    assert.equal(done?.status, 'SUCCESS');
    assert.equal(done?.recovery_attempts, '1');
    assert.ok(done?.workflow_deadline_epoch_ms !== null, 'dequeued with its deadline');
    await query(db.url, `UPDATE dbos.queues SET concurrency = 0 WHERE name = 'paused'`);
  });

  test('withWorkflowQueue enqueues the starts and calls inside it; an explicit queueName wins', async () => {
    await addQueue('wq');
    const result = await DBOS.withWorkflowQueue('wq', async () => {
      const started = await DBOS.startWorkflow(queued, { workflowID: 'wq-started' })('wq', 1);
      await DBOS.startWorkflow(queued, { workflowID: 'wq-explicit', queueName: 'paused' })('paused', 1);
      const called = await DBOS.withNextWorkflowID('wq-called', () => queued('wq', 1));
      return [await started.getResult(), called];
    });
    assert.deepEqual(result, ['done wq-started', 'done wq-called']);
    assert.equal((await statusRow(db.url, 'wq-started'))?.queue_name, 'wq');
    assert.equal((await statusRow(db.url, 'wq-called'))?.queue_name, 'wq');
    const explicit = await statusRow(db.url, 'wq-explicit');
    assert.equal(explicit?.queue_name, 'paused');
    assert.equal(explicit?.status, 'ENQUEUED');
  });

  test('a bad priority is a DBOSInvalidQueuePriorityError and writes nothing', async () => {
    for (const priority of [-1, 2 ** 31, 1.5]) {
      await assert.rejects(
        DBOS.startWorkflow(queued, { queueName: 'paused', workflowID: `prio-bad-${priority}`, enqueueOptions: { priority } })('paused', 1),
        (e: unknown) => e instanceof DBOSErrors.DBOSInvalidQueuePriorityError,
      );
      assert.equal(await statusRow(db.url, `prio-bad-${priority}`), undefined);
    }
  });

  test('a duplicate deduplication ID is rejected with nothing written, and freed when the holder ends', async () => {
    await addQueue('dedup', { concurrency: 0 });
    const first = await DBOS.startWorkflow(queued, { queueName: 'dedup', workflowID: 'dedup-1', enqueueOptions: { deduplicationID: 'd' } })('dedup', 1);
    await assert.rejects(
      DBOS.startWorkflow(queued, { queueName: 'dedup', workflowID: 'dedup-2', enqueueOptions: { deduplicationID: 'd' } })('dedup', 1),
      (e: unknown) =>
        e instanceof DBOSErrors.DBOSQueueDuplicatedError && e.workflowID === 'dedup-2' && e.queue === 'dedup' && e.deduplicationID === 'd',
    );
    assert.equal(await statusRow(db.url, 'dedup-2'), undefined);
    assert.equal((await query(db.url, `SELECT 1 FROM dbos.workflow_input WHERE workflow_uuid = 'dedup-2'`)).length, 0);
    // Re-enqueueing the same ID with the same dedup ID is the same start, not a duplicate.
    await DBOS.startWorkflow(queued, { queueName: 'dedup', workflowID: 'dedup-1', enqueueOptions: { deduplicationID: 'd' } })('dedup', 1);

    await query(db.url, `UPDATE dbos.queues SET concurrency = 1 WHERE name = 'dedup'`);
    assert.equal(await first.getResult(), 'done dedup-1');
    const again = await DBOS.startWorkflow(queued, { queueName: 'dedup', workflowID: 'dedup-3', enqueueOptions: { deduplicationID: 'd' } })('dedup', 1);
    assert.equal(await again.getResult(), 'done dedup-3');
  });

  test('an enqueue in this process starts well before the poll interval', async () => {
    await addQueue('fast', { pollingIntervalSec: 60 });
    // The first enqueue may meet a queue this process has not read yet; the second meets its lane.
    await results(await enqueueMany('fast', 1, 1, 'fast-warm'));
    const before = Date.now();
    const [id] = await enqueueMany('fast', 1, 1, 'fast-timed');
    await results([id ?? '']);
    const started = spans['fast']?.find((s) => s.id === id)?.start ?? Infinity;
    assert.ok(started - before < 200, `started ${started - before} ms after the enqueue (the poll is 60 s)`);
  });

  test('the end of a queued run starts the next at once', async () => {
    await addQueue('chain', { concurrency: 1, pollingIntervalSec: 60 });
    await results(await enqueueMany('chain', 3, 50));
    const s = spans['chain'] ?? [];
    assert.equal(s.length, 3);
    for (let i = 1; i < s.length; i++) {
      const gap = (s[i]?.start ?? 0) - (s[i - 1]?.end ?? 0);
      assert.ok(gap < 1000, `the next run started ${gap} ms after the previous ended (the poll is 60 s)`);
    }
  });
});

describe('children', () => {
  test('a child enqueue and its dedup collision replay as recorded', async () => {
    await addQueue('kids', { concurrency: 0 });
    await DBOS.startWorkflow(parentOfQueued, { workflowID: 'parent-q' })('kid');
    await waitFor('both enqueues recorded', async () => (await steps(db.url, 'parent-q')).length >= 2);
    const [first, second] = await steps(db.url, 'parent-q');
    assert.equal(first?.child_workflow_id, 'parent-q-0');
    assert.equal(second?.function_name, 'queuedWorkflow');
    assert.ok(second?.error, 'the collision is recorded as the step error');
    assert.equal(await statusRow(db.url, 'parent-q-1'), undefined);

    // The first child finishes and frees the dedup ID; a replay must still see the collision it recorded.
    await DBOS.cancelWorkflow('parent-q');
    await query(db.url, `UPDATE dbos.queues SET concurrency = 1 WHERE name = 'kids'`);
    assert.equal(await DBOS.retrieveWorkflow('parent-q-0').getResult(), 'done parent-q-0');
    const resumed = await DBOS.resumeWorkflow<string>('parent-q');
    await DBOS.send('parent-q', 'now', 'go');
    assert.equal(await resumed.getResult(), 'done parent-q-0 DBOSQueueDuplicatedError');
    assert.equal(runs['parent-q-0'], 1);
    assert.equal(await statusRow(db.url, 'parent-q-1'), undefined);
  });
});

describe('dispatch limits', () => {
  test('global concurrency bounds the queue', async () => {
    await addQueue('global2', { concurrency: 2 });
    await results(await enqueueMany('global2', 6, 150));
    assert.equal(maxOverlap('global2'), 2);
  });

  test('worker concurrency bounds this process', async () => {
    await addQueue('worker3', { workerConcurrency: 3 });
    await results(await enqueueMany('worker3', 8, 150));
    assert.equal(maxOverlap('worker3'), 3);
  });

  test('the rate limit bounds the starts in any window', async () => {
    await addQueue('rate', { rateLimitMax: 2, rateLimitPeriodSec: 1 });
    const ids = await enqueueMany('rate', 5, 1);
    await results(ids);
    const rows = await query<{ started_at_epoch_ms: string; rate_limited: boolean }>(
      db.url,
      `SELECT started_at_epoch_ms, rate_limited FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)`,
      [ids],
    );
    assert.ok(rows.every((r) => r.rate_limited));
    const starts = rows.map((r) => Number(r.started_at_epoch_ms));
    for (const t of starts) {
      const inWindow = starts.filter((u) => u > t - 1000 && u <= t).length;
      assert.ok(inWindow <= 2, `${inWindow} starts in the second up to ${t}`);
    }
  });

  test('priority first, then FIFO', async () => {
    await addQueue('order', { concurrency: 0 });
    const enqueued: [string, number][] = [
      ['order-a', 5],
      ['order-b', 0],
      ['order-c', 1],
      ['order-d', 0],
      ['order-e', 5],
      ['order-f', 0],
    ];
    for (const [id, priority] of enqueued) {
      await DBOS.startWorkflow(queued, { queueName: 'order', workflowID: id, enqueueOptions: { priority } })('order', 1);
    }
    await query(db.url, `UPDATE dbos.queues SET concurrency = 1 WHERE name = 'order'`);
    await results(enqueued.map(([id]) => id));
    assert.deepEqual(
      spans['order']?.map((s) => s.id),
      ['order-b', 'order-d', 'order-f', 'order-c', 'order-a', 'order-e'],
    );
  });
});

const queueApp = path.join(__dirname, 'apps', 'queue-app.js');
const scratch = appScratch('dbosn_queues_crash');

/**
 * Runs queue-app on `queue` (with `limit`, e.g. `concurrency`, set to 2), SIGKILLs it with two jobs
 * running and four queued, relaunches it (with `env2`), and waits until all six succeeded.
 */
async function crashAndRecover(queue: string, limit: string, env2: Record<string, string>): Promise<string> {
  const log = scratch.file(`${queue}.log`);
  const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log, QUEUE: queue };
  const first = spawnApp(queueApp, { ...env, ENQUEUE: '1', HANG: '1' }, `queue-app ${queue} first`);
  await waitFor('the jobs enqueued', () => countEvents(log, 'ready') === 1, [first]);
  await query(scratch.url, `INSERT INTO dbos.queues (name, ${limit}, priority_enabled) VALUES ($1, 2, true)`, [queue]);
  // Two jobs hang in their middle step, their first step recorded; four are still queued.
  await waitFor(
    'two jobs running with their first step recorded',
    async () => (await query(scratch.url, `SELECT 1 FROM dbos.operation_outputs WHERE function_name = 'start' AND workflow_uuid LIKE $1`, [`${queue}-%`])).length === 2,
    [first],
  );
  const byStatus = async () =>
    (
      await query<{ status: string; n: string }>(
        scratch.url,
        `SELECT status, count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE $1 GROUP BY status ORDER BY status`,
        [`${queue}-%`],
      )
    )
      .map((r) => `${r.status}:${r.n}`)
      .join(' ');
  assert.equal(await byStatus(), 'ENQUEUED:4 PENDING:2');
  await killApp(first);

  const second = spawnApp(queueApp, { ...env, ...env2 }, `queue-app ${queue} second`);
  await waitFor('every job finished', async () => (await byStatus()) === 'SUCCESS:6', [second], 30_000);
  for (let i = 0; i < 6; i++) {
    assert.equal(countEvents(log, `start-${queue}-job-${i}`), 1, `job ${i}'s first step ran once`);
    assert.equal(countEvents(log, `done-${queue}-job-${i}`), 1, `job ${i}'s last step ran once`);
  }
  // It serves every queue of the app: it must not take the next test's jobs.
  await killApp(second);
  return log;
}

describe('crash', () => {
  test("a SIGKILLed process's running and queued workflows each run to completion once after relaunch", async () => {
    await crashAndRecover('crashq', 'concurrency', {});
  });

  test('recovered runs of a queue count against its worker limit', async () => {
    const log = await crashAndRecover('crashw', 'worker_concurrency', { SLOW: '1' });
    const events = logEvents(log);
    const spansOf = events
      .filter((e) => e.name.startsWith('mid-start-'))
      .map((e) => ({ start: e.at, end: events.find((f) => f.name === e.name.replace('mid-start-', 'mid-end-'))?.at ?? Infinity }));
    assert.equal(spansOf.length, 6);
    const overlap = Math.max(...spansOf.map((a) => spansOf.filter((b) => b.start <= a.start && a.start < b.end).length));
    assert.equal(overlap, 2, 'at most two of its jobs ran at once in the relaunched process');
  });
});
