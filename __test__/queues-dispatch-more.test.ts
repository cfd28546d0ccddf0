// The dispatcher beyond claiming: DELAYED rows become ENQUEUED at their due time (not at a 1 s sweep), rows
// with no application version run only on the latest version, names this process cannot run are left
// ENQUEUED, an enqueue here costs one claim (none for its own notification's echo, none when a run of a queue
// without a concurrency limit ends), idle queues cost one statement
// per poll for all of them (no claim transaction), and a zero or negative poll interval does not spin.
// Claims and idle checks are counted by wrapping the engine's methods (before launch, so the app's engine
// is built with them); rows are enqueued by the official SDK's client where they need options ours lacks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOS } from 'dbos-native';
import { Client } from 'pg';
import { waitFor } from './helpers/child';
import { query, sleep, statusRow } from './helpers/db';
import { lazyOfficialClient } from './helpers/official';
import { launchedDatabase } from './helpers/scratch';

/** How many claims each queue ran, and how many idle checks ran, in every engine of this process. */
const claims = new Map<string, number>();
let idleChecks = 0;

type Method = (this: unknown, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(path.dirname(require.resolve('dbos-native')), 'native', 'binding.js')) as {
  NativeEngine: { prototype: Record<string, Method> };
};
const proto = binding.NativeEngine.prototype;
const claim = proto['claimFromQueue'] as Method;
proto['claimFromQueue'] = function (this: unknown, ...args: unknown[]): unknown {
  const queue = (args[0] as { queue: string }).queue;
  claims.set(queue, (claims.get(queue) ?? 0) + 1);
  return claim.apply(this, args);
};
const withWork = proto['queuesWithWork'] as Method;
proto['queuesWithWork'] = function (this: unknown, ...args: unknown[]): unknown {
  idleChecks++;
  return withWork.apply(this, args);
};

/** When each run's step started, by workflow ID. */
const started: Record<string, number> = {};

const mark = DBOS.registerStep(
  async (id: string, ms: number): Promise<void> => {
    started[id] = Date.now();
    await sleep(ms);
  },
  { name: 'moreWork' },
);

const queued = DBOS.registerWorkflow(
  async (ms: number): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    await mark(id, ms);
    return `done ${id}`;
  },
  { name: 'moreWorkflow' },
);

const db = launchedDatabase('dbosn_queues_dispatch_more', { name: 'queues-more', applicationVersion: 'v1' });

const official = lazyOfficialClient(db);

async function addQueue(name: string, opts: { concurrency?: number; pollingIntervalSec?: number } = {}): Promise<void> {
  await query(db.url, `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) VALUES ($1, $2, $3, true)`, [
    name,
    opts.concurrency ?? null,
    opts.pollingIntervalSec ?? 1,
  ]);
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await statusRow(db.url, id))?.status as string | undefined;
}

describe('delayed workflows', () => {
  test('each starts at its due time: not before, and promptly after (no 1 s sweep)', async () => {
    await addQueue('later', { pollingIntervalSec: 60 });
    const c = await official();
    const delays = [1.1, 1.3, 1.5, 1.7, 1.9];
    const ids = delays.map((_, i) => `later-${i}`);
    for (const [i, delaySeconds] of delays.entries()) {
      await c.enqueue({ queueName: 'later', workflowName: 'moreWorkflow', workflowID: ids[i], delaySeconds }, 1);
    }
    assert.equal(await statusOf('later-0'), 'DELAYED');
    for (const id of ids) assert.equal(await DBOS.retrieveWorkflow(id).getResult(), `done ${id}`);
    const rows = await query<{ workflow_uuid: string; delay_until_epoch_ms: string }>(
      db.url,
      `SELECT workflow_uuid, delay_until_epoch_ms FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)`,
      [ids],
    );
    for (const r of rows) {
      const late = (started[r.workflow_uuid] ?? Infinity) - Number(r.delay_until_epoch_ms);
      assert.ok(late >= 0, `${r.workflow_uuid} started ${-late} ms before its due time`);
      // Generous (the machine is shared); a 1 s sweep alone would be up to 1000 ms late, 500 on average.
      assert.ok(late < 300, `${r.workflow_uuid} started ${late} ms after its due time`);
    }
  });

  test("a debounced row's deduplication ID is cleared when it becomes ENQUEUED; another's is kept", async () => {
    await addQueue('debounce', { concurrency: 0 });
    const c = await official();
    for (const n of [1, 2]) {
      await c.enqueue({ queueName: 'debounce', workflowName: 'moreWorkflow', workflowID: `deb-${n}`, deduplicationID: `k${n}`, delaySeconds: 0.3 }, 1);
    }
    await query(db.url, `UPDATE dbos.workflow_status SET is_debounced = true WHERE workflow_uuid = 'deb-1'`);
    await waitFor('both enqueued', async () => (await statusOf('deb-1')) === 'ENQUEUED' && (await statusOf('deb-2')) === 'ENQUEUED');
    assert.equal((await statusRow(db.url, 'deb-1'))?.deduplication_id, null);
    assert.equal((await statusRow(db.url, 'deb-2'))?.deduplication_id, 'k2');
  });
});

describe('what this process claims', () => {
  test('rows with no application version run only while this version is the latest', async () => {
    await addQueue('ver');
    const c = await official();
    await query(
      db.url,
      `INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp, application_name)
       VALUES ('ver-v2', 'v2', (extract(epoch FROM now()) * 1000)::bigint + 3600000, NULL)`,
    );
    try {
      await c.enqueue({ queueName: 'ver', workflowName: 'moreWorkflow', workflowID: 'ver-none' }, 1);
      await c.enqueue({ queueName: 'ver', workflowName: 'moreWorkflow', workflowID: 'ver-v1', appVersion: 'v1' }, 1);
      assert.equal(await DBOS.retrieveWorkflow('ver-v1').getResult(), 'done ver-v1');
      await sleep(1500); // more than a poll interval
      assert.equal(await statusOf('ver-none'), 'ENQUEUED', 'v2 is the latest: a v1 process leaves the unversioned row');
    } finally {
      await query(db.url, `DELETE FROM dbos.application_versions WHERE version_id = 'ver-v2'`);
    }
    assert.equal(await DBOS.retrieveWorkflow('ver-none').getResult(), 'done ver-none');
  });

  test('a row of a workflow not registered here stays ENQUEUED and does not hold the global slot', async () => {
    await addQueue('unknown', { concurrency: 1 });
    const c = await official();
    await c.enqueue({ queueName: 'unknown', workflowName: 'noSuchWorkflow', workflowID: 'unk-1' }, 1);
    await c.enqueue({ queueName: 'unknown', workflowName: 'moreWorkflow', workflowID: 'unk-2' }, 1);
    await waitFor('the registered one ran', async () => (await statusOf('unk-2')) === 'SUCCESS', [], 5000);
    assert.equal(await statusOf('unk-1'), 'ENQUEUED');
  });
});

describe('cost', () => {
  test('an enqueue here costs one claim: none for the echo of its notification, none at the end of an unbounded run', async (t) => {
    await addQueue('solo', { pollingIntervalSec: 60 });
    await DBOS.startWorkflow(queued, { queueName: 'solo', workflowID: 'solo-warm' })(1);
    assert.equal(await DBOS.retrieveWorkflow('solo-warm').getResult(), 'done solo-warm');
    await sleep(200);
    const before = claims.get('solo') ?? 0;
    const n = 10;
    for (let i = 0; i < n; i++) {
      const h = await DBOS.startWorkflow(queued, { queueName: 'solo', workflowID: `solo-${i}` })(1);
      assert.equal(await h.getResult(), `done solo-${i}`);
      // Time for an echo to arrive and claim.
      await sleep(50);
    }
    const perEnqueue = ((claims.get('solo') ?? 0) - before) / n;
    t.diagnostic(`${perEnqueue} claims per enqueue`);
    // One claim, for the enqueue: the queue has no concurrency limit, so the end of a run frees nothing to
    // claim for; the echo of the enqueue's own notification would add one.
    assert.ok(perEnqueue <= 1, `${perEnqueue} claims per enqueue`);
  });

  test('35 idle queues cost no claim transaction, only one check per interval for all of them', async (t) => {
    const names = Array.from({ length: 35 }, (_, i) => `idle-${i}`);
    for (const name of names) await addQueue(name);
    await sleep(2500); // read by a refresh, first claimed, then idle
    const claimsBefore = names.reduce((n, q) => n + (claims.get(q) ?? 0), 0);
    const checksBefore = idleChecks;
    await sleep(5000);
    const claimed = names.reduce((n, q) => n + (claims.get(q) ?? 0), 0) - claimsBefore;
    const checks = idleChecks - checksBefore;
    t.diagnostic(`${claimed} claims and ${checks} idle checks in 5 s`);
    assert.equal(claimed, 0, 'claims of idle queues');
    // One per second (their interval) for all of them; 35 claims a second before.
    assert.ok(checks <= 8, `${checks} idle checks in 5 s`);
  });

  test('a zero or negative poll interval does not spin', async () => {
    await addQueue('zero', { pollingIntervalSec: 0 });
    await addQueue('negative', { pollingIntervalSec: -1 });
    await sleep(1500);
    const before = (claims.get('zero') ?? 0) + (claims.get('negative') ?? 0);
    const checksBefore = idleChecks;
    await sleep(2000);
    assert.ok((claims.get('zero') ?? 0) + (claims.get('negative') ?? 0) - before <= 2, 'claims in 2 s');
    assert.ok(idleChecks - checksBefore <= 10, `${idleChecks - checksBefore} idle checks in 2 s`);
    // Still served (at the default interval): a row enqueued by the official client (no notification) runs.
    await (await official()).enqueue({ queueName: 'zero', workflowName: 'moreWorkflow', workflowID: 'zero-1' }, 1);
    assert.equal(await DBOS.retrieveWorkflow('zero-1').getResult(), 'done zero-1');
  });
});

describe('a claimer outside our lock (an official SDK process)', () => {
  test('head rows it holds mid-claim are waited for and counted, not skipped past the global limit', async () => {
    // Rows on a queue not yet in dbos.queues: nobody dispatches them until the row is added.
    const c = await official();
    await c.enqueue({ queueName: 'mixed', workflowName: 'moreWorkflow', workflowID: 'mix-a', appVersion: 'v1' }, 1);
    await sleep(5); // created_at orders the two: mix-a is the head
    await c.enqueue({ queueName: 'mixed', workflowName: 'moreWorkflow', workflowID: 'mix-b', appVersion: 'v1' }, 1);
    // A claim of the head row by another SDK's worker, as the SDK makes it: row locked and marked, not committed.
    const sdk = new Client({ connectionString: db.url });
    await sdk.connect();
    try {
      await sdk.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await sdk.query(`SELECT workflow_uuid FROM dbos.workflow_status WHERE workflow_uuid = 'mix-a' FOR UPDATE NOWAIT`);
      await sdk.query(
        `UPDATE dbos.workflow_status SET status = 'PENDING', executor_id = 'official-worker', started_at_epoch_ms = $1
         WHERE workflow_uuid = 'mix-a'`,
        [Date.now()],
      );
      // Our dispatcher finds the queue (global limit 1) at its next refresh and tries to claim while that is open.
      await addQueue('mixed', { concurrency: 1 });
      await waitFor('our dispatcher tried to claim while that claim was open', () => (claims.get('mixed') ?? 0) > 0, [], 5000);
      await sleep(500);
      await sdk.query('COMMIT');
    } finally {
      await sdk.end();
    }
    // mix-a is PENDING (the other worker's): the one slot is taken, so mix-b must wait. Skipping the locked head
    // row instead would have claimed mix-b beside it.
    await sleep(1500);
    assert.equal(await statusOf('mix-b'), 'ENQUEUED', 'mix-b started while the other worker held the only slot');
    // The other worker finishes: the slot frees and mix-b runs here.
    await query(db.url, `UPDATE dbos.workflow_status SET status = 'SUCCESS' WHERE workflow_uuid = 'mix-a'`);
    await waitFor('mix-b ran once the slot was free', async () => (await statusOf('mix-b')) === 'SUCCESS', [], 5000);
  });
});
