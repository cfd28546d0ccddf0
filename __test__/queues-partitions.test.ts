// Partitioned queues: the dispatcher honours partitionConcurrency, partitionWorkerConcurrency and
// partitionRateLimit per queue_partition_key together with the queue-wide limits, and serves the keys
// round-robin (no key waits behind lower ones). The rows are enqueued by the official SDK's DBOSClient
// (which proves the interop of its partitioned rows); queue rows are inserted with SQL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS } from 'dbos-native';
import { query, sleep } from './helpers/db';
import { lazyOfficialClient } from './helpers/official';
import { launchedDatabase } from './helpers/scratch';

interface Span {
  id: string;
  key: string;
  start: number;
  end: number;
}

/** Start and end times of each step run, by queue: the limits are checked against these. */
const spans: Record<string, Span[]> = {};

const work = DBOS.registerStep(
  async (queue: string, key: string, id: string, ms: number): Promise<void> => {
    const start = Date.now();
    await sleep(ms);
    (spans[queue] ??= []).push({ id, key, start, end: Date.now() });
  },
  { name: 'partitionWork' },
);

DBOS.registerWorkflow(
  async (queue: string, key: string, ms: number): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    await work(queue, key, id, ms);
    return `done ${id}`;
  },
  { name: 'partitionedWorkflow' },
);

const db = launchedDatabase('dbosn_queues_partitions', { name: 'queues-partitions', applicationVersion: 'v1' });

const official = lazyOfficialClient(db);

interface Limits {
  concurrency?: number;
  workerConcurrency?: number;
  partitionConcurrency?: number;
  partitionWorkerConcurrency?: number;
  partitionRateLimitMax?: number;
  partitionRateLimitPeriodSec?: number;
}

/** A partitioned queue, paused (global concurrency 0) until `release`. */
async function addQueue(name: string, l: Limits): Promise<void> {
  await query(
    db.url,
    `INSERT INTO dbos.queues (name, concurrency, worker_concurrency, partition_concurrency, partition_worker_concurrency,
       partition_rate_limit_max, partition_rate_limit_period_sec, partition_queue, priority_enabled)
     VALUES ($1, 0, $2, $3, $4, $5, $6, true, true)`,
    [
      name,
      l.workerConcurrency ?? null,
      l.partitionConcurrency ?? null,
      l.partitionWorkerConcurrency ?? null,
      l.partitionRateLimitMax ?? null,
      l.partitionRateLimitPeriodSec ?? null,
    ],
  );
}

async function release(name: string, concurrency: number | null): Promise<void> {
  await query(db.url, `UPDATE dbos.queues SET concurrency = $2 WHERE name = $1`, [name, concurrency]);
}

/** Enqueues `perKey` workflows on each key through the official client, in key-major order; returns their IDs. */
async function enqueue(queue: string, keys: string[], perKey: number, ms: number): Promise<string[]> {
  const ids: string[] = [];
  for (const key of keys) {
    for (let i = 0; i < perKey; i++) {
      const id = `${queue}-${key}-${i}`;
      await (await official()).enqueue({ queueName: queue, workflowName: 'partitionedWorkflow', workflowID: id, queuePartitionKey: key }, queue, key, ms);
      ids.push(id);
    }
  }
  return ids;
}

async function results(ids: string[]): Promise<void> {
  for (const id of ids) assert.equal(await DBOS.retrieveWorkflow(id).getResult(), `done ${id}`);
}

/** The most step runs (of `key`, or of all keys) that overlapped at any moment. */
function maxOverlap(queue: string, key?: string): number {
  const s = (spans[queue] ?? []).filter((a) => key === undefined || a.key === key);
  return Math.max(0, ...s.map((a) => s.filter((b) => b.start <= a.start && a.start < b.end).length));
}

describe('partitioned queues', () => {
  test('partitionConcurrency bounds each key, globalConcurrency the queue, together', async () => {
    await addQueue('pc', { partitionConcurrency: 2 });
    const keys = ['a', 'b', 'c'];
    const ids = await enqueue('pc', keys, 5, 300);
    await release('pc', 5);
    await results(ids);
    for (const key of keys) assert.equal(maxOverlap('pc', key), 2, `key ${key} ran at most (and at some point) 2 at once`);
    const all = maxOverlap('pc');
    assert.ok(all <= 5 && all > 2, `${all} ran at once across the keys (global limit 5)`);
  });

  test("partitionConcurrency counts a key's PENDING rows: a fast key's ends do not start more of a slow one", async () => {
    await addQueue('pcs', { partitionConcurrency: 2 });
    const ids = [...(await enqueue('pcs', ['fast'], 6, 100)), ...(await enqueue('pcs', ['slow'], 4, 600))];
    await release('pcs', 6);
    await results(ids);
    for (const key of ['fast', 'slow']) assert.equal(maxOverlap('pcs', key), 2, `key ${key} ran at most (and at some point) 2 at once`);
  });

  test('partitionWorkerConcurrency bounds each key in this process (its running ones are counted per key)', async () => {
    await addQueue('pw', { partitionWorkerConcurrency: 1, workerConcurrency: 3 });
    // Short runs on one key, long ones on the other: each end of a short run claims while a long one runs.
    const ids = [...(await enqueue('pw', ['x'], 3, 100)), ...(await enqueue('pw', ['y'], 3, 500))];
    await release('pw', null);
    await results(ids);
    for (const key of ['x', 'y']) assert.equal(maxOverlap('pw', key), 1, `key ${key} ran one at a time`);
    assert.equal(maxOverlap('pw'), 2, 'both keys ran at once');
  });

  test('partitionRateLimit bounds the starts of each key in any window', async () => {
    await addQueue('pr', { partitionRateLimitMax: 2, partitionRateLimitPeriodSec: 1 });
    const keys = ['p', 'q'];
    const ids = await enqueue('pr', keys, 4, 1);
    await release('pr', null);
    await results(ids);
    const rows = await query<{ started_at_epoch_ms: string; queue_partition_key: string; rate_limited: boolean }>(
      db.url,
      `SELECT started_at_epoch_ms, queue_partition_key, rate_limited FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)`,
      [ids],
    );
    assert.ok(rows.every((r) => r.rate_limited));
    const starts = (key?: string): number[] => rows.filter((r) => key === undefined || r.queue_partition_key === key).map((r) => Number(r.started_at_epoch_ms));
    const mostInWindow = (s: number[]): number => Math.max(...s.map((t) => s.filter((u) => u > t - 1000 && u <= t).length));
    for (const key of keys) assert.ok(mostInWindow(starts(key)) <= 2, `key ${key}: at most 2 starts in any second`);
    assert.ok(mostInWindow(starts()) > 2, 'the limit is per key, not for the queue');
  });

  test('keys are served round-robin: with one slot, the first ten starts cover ten keys', async () => {
    await addQueue('fair', { partitionConcurrency: 1 });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const ids = await enqueue('fair', keys, 2, 1);
    await release('fair', 1);
    await results(ids);
    const order = (spans['fair'] ?? []).sort((a, b) => a.start - b.start).map((s) => s.key);
    assert.equal(new Set(order.slice(0, 10)).size, 10, `first ten starts: ${order.slice(0, 10).join(' ')}`);
  });

  test('a row without a partition key on a partitioned queue is not dispatched (as in the SDK)', async () => {
    await addQueue('nokey', { partitionConcurrency: 1 });
    await (await official()).enqueue({ queueName: 'nokey', workflowName: 'partitionedWorkflow', workflowID: 'nokey-1' }, 'nokey', '', 1);
    const keyed = await enqueue('nokey', ['k'], 1, 1);
    await release('nokey', 1);
    await results(keyed);
    const rows = await query<{ status: string }>(db.url, `SELECT status FROM dbos.workflow_status WHERE workflow_uuid = 'nokey-1'`);
    assert.equal(rows[0]?.status, 'ENQUEUED');
  });
});
