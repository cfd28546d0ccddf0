// Managing queued workflows: priorities changed while waiting reorder the dispatch, the end of a DELAYED row's
// delay moves, bad values reject with the row untouched; cancel of an ENQUEUED workflow (never runs, dedup key
// freed), resume onto a named queue (re-enqueued, within that queue's limits), and timeouts that start at dequeue.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as DBOSErrors } from 'dbos-native';
import * as path from 'node:path';
import { countEvents, killApp, logEvents, spawnApp, waitFor } from './helpers/child';
import { query, sleep, statusRow } from './helpers/db';
import { appScratch, launchedDatabase } from './helpers/scratch';

/** Workflow IDs in the order their runs began, and how often each ran. */
const order: string[] = [];
const runs: Record<string, number> = {};

const job = DBOS.registerWorkflow(
  async (tag: string): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    order.push(id);
    runs[id] = (runs[id] ?? 0) + 1;
    return `job ${tag}`;
  },
  { name: 'mgmtJob' },
);

/** Holds its queue's slot until it receives 'go'. */
const blocker = DBOS.registerWorkflow(
  async (): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    runs[id] = (runs[id] ?? 0) + 1;
    return (await DBOS.recv<string>('go', 60)) ?? 'timed out';
  },
  { name: 'mgmtBlocker' },
);

const db = launchedDatabase('dbosn_queues_management', { name: 'mgmt-app', applicationVersion: 'v1' });

async function addQueue(name: string, concurrency: number | null): Promise<void> {
  await query(db.url, `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) VALUES ($1, $2, 1, true)`, [
    name,
    concurrency,
  ]);
}

async function waitStatus(id: string, status: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await statusRow(db.url, id))?.status === status) return;
    await sleep(50);
  }
  assert.fail(`${id} never reached ${status}`);
}

/** Starts a blocker on `queue` and waits until it holds the slot. */
async function block(queue: string, id: string): Promise<void> {
  await DBOS.startWorkflow(blocker, { queueName: queue, workflowID: id })();
  await waitStatus(id, 'PENDING');
}

async function release(id: string): Promise<void> {
  await DBOS.send(id, 'go', 'go');
  assert.equal(await DBOS.retrieveWorkflow(id).getResult(), 'go');
}

async function withOfficialClient<T>(f: (c: OfficialClient) => Promise<T>): Promise<T> {
  const client = await OfficialClient.create({ systemDatabaseUrl: db.url, applicationName: 'mgmt-app' });
  try {
    return await f(client);
  } finally {
    await client.destroy();
  }
}

async function withClient<T>(f: (c: DBOSClient) => Promise<T>): Promise<T> {
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'mgmt-app' });
  try {
    return await f(client);
  } finally {
    await client.destroy();
  }
}

/** The columns a management call may change, to check a refused call left the row alone. */
async function snapshot(id: string): Promise<unknown> {
  const r = await statusRow(db.url, id);
  return [r?.status, r?.priority, r?.delay_until_epoch_ms, r?.updated_at, r?.queue_name];
}

describe('setWorkflowPriority', () => {
  test('priorities changed while waiting reorder the dispatch (DBOS and DBOSClient)', async () => {
    await addQueue('prio', 1);
    await block('prio', 'prio-blocker');
    for (const id of ['prio-a', 'prio-b', 'prio-c', 'prio-d']) {
      await DBOS.startWorkflow(job, { queueName: 'prio', workflowID: id, enqueueOptions: { priority: 5 } })(id);
    }
    await DBOS.setWorkflowPriority('prio-c', 1);
    await DBOS.setWorkflowPriority('prio-a', 9);
    await withClient((c) => c.setWorkflowPriority('prio-d', 2));
    assert.equal((await statusRow(db.url, 'prio-c'))?.priority, 1);
    assert.equal((await DBOS.getWorkflowStatus('prio-d'))?.priority, 2);
    order.length = 0;
    await release('prio-blocker');
    for (const id of ['prio-a', 'prio-b', 'prio-c', 'prio-d']) assert.equal(await DBOS.retrieveWorkflow(id).getResult(), `job ${id}`);
    assert.deepEqual(order, ['prio-c', 'prio-d', 'prio-b', 'prio-a']);
    // A finished workflow keeps its priority: only ENQUEUED and DELAYED rows change.
    await DBOS.setWorkflowPriority('prio-b', 0);
    assert.equal((await statusRow(db.url, 'prio-b'))?.priority, 5);
  });

  test('bad priorities reject (never throw) with DBOSInvalidQueuePriorityError and leave the row alone', async () => {
    await addQueue('prio-held', 0);
    await DBOS.startWorkflow(job, { queueName: 'prio-held', workflowID: 'prio-held-1', enqueueOptions: { priority: 3 } })('x');
    const before = await snapshot('prio-held-1');
    await withClient(async (client) => {
      for (const bad of [-1, 2 ** 31, 1.5, Number.NaN, '3' as unknown as number, undefined as unknown as number]) {
        await assert.rejects(() => DBOS.setWorkflowPriority('prio-held-1', bad), DBOSErrors.DBOSInvalidQueuePriorityError, `DBOS ${String(bad)}`);
        // Stricter than the SDK's client (it writes any int4): the same range as DBOS and enqueue.
        await assert.rejects(() => client.setWorkflowPriority('prio-held-1', bad), DBOSErrors.DBOSInvalidQueuePriorityError, `client ${String(bad)}`);
      }
    });
    assert.deepEqual(await snapshot('prio-held-1'), before);
    // The bounds themselves are accepted.
    await DBOS.setWorkflowPriority('prio-held-1', 2 ** 31 - 1);
    assert.equal((await statusRow(db.url, 'prio-held-1'))?.priority, 2 ** 31 - 1);
    await DBOS.setWorkflowPriority('prio-held-1', 0);
    assert.equal((await statusRow(db.url, 'prio-held-1'))?.priority, 0);
    await DBOS.cancelWorkflow('prio-held-1');
  });
});

describe('setWorkflowDelay', () => {
  test('moves the end of a DELAYED row (enqueued by the official client); other rows are left alone', async () => {
    await withOfficialClient(async (official) => {
      await official.enqueue({ queueName: 'later', workflowName: 'mgmtJob', workflowID: 'delayed-1', delaySeconds: 3600 }, 'd1');
      await official.enqueue({ queueName: 'later', workflowName: 'mgmtJob', workflowID: 'delayed-2', delaySeconds: 3600 }, 'd2');
    });
    assert.equal((await statusRow(db.url, 'delayed-1'))?.status, 'DELAYED');
    const until = Date.now() + 7_200_000;
    await DBOS.setWorkflowDelay('delayed-1', { delayUntilEpochMS: until });
    assert.equal(Number((await statusRow(db.url, 'delayed-1'))?.delay_until_epoch_ms), until);
    assert.equal((await DBOS.getWorkflowStatus('delayed-1'))?.delayUntilEpochMS, until);

    const from = Date.now();
    await withClient((c) => c.setWorkflowDelay('delayed-2', 10));
    const end = Number((await statusRow(db.url, 'delayed-2'))?.delay_until_epoch_ms);
    assert.ok(end >= from + 10_000 && end <= Date.now() + 10_000, `delaySeconds 10 from now: ${end - from}`);
    await DBOS.setWorkflowDelay('delayed-2', { delaySeconds: 20, delayUntilEpochMS: until + 1 });
    assert.equal(Number((await statusRow(db.url, 'delayed-2'))?.delay_until_epoch_ms), until + 1, 'delayUntilEpochMS wins');

    // Priority applies to DELAYED rows too.
    await DBOS.setWorkflowPriority('delayed-2', 7);
    assert.equal((await statusRow(db.url, 'delayed-2'))?.priority, 7);

    // An ENQUEUED row has no delay to move.
    await addQueue('delay-held', 0);
    await DBOS.startWorkflow(job, { queueName: 'delay-held', workflowID: 'not-delayed' })('x');
    await DBOS.setWorkflowDelay('not-delayed', 5);
    assert.equal((await statusRow(db.url, 'not-delayed'))?.delay_until_epoch_ms, null);
    await DBOS.cancelWorkflows(['delayed-1', 'delayed-2', 'not-delayed']);
  });

  test('bad delays reject (never throw) with DBOSError and leave the row alone', async () => {
    await withOfficialClient((official) =>
      official.enqueue({ queueName: 'later', workflowName: 'mgmtJob', workflowID: 'delayed-bad', delaySeconds: 3600 }, 'b'),
    );
    const before = await snapshot('delayed-bad');
    const bad: unknown[] = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, {}, { delaySeconds: 0 }, { delayUntilEpochMS: -5 }, null, 'soon'];
    await withClient(async (client) => {
      for (const b of bad) {
        const opts = b as number;
        await assert.rejects(() => DBOS.setWorkflowDelay('delayed-bad', opts), DBOSErrors.DBOSError, `DBOS ${JSON.stringify(b)}`);
        await assert.rejects(() => client.setWorkflowDelay('delayed-bad', opts), DBOSErrors.DBOSError, `client ${JSON.stringify(b)}`);
      }
    });
    await assert.rejects(() => DBOS.setWorkflowDelay('delayed-bad', 0), { message: 'delaySeconds must be greater than 0' });
    await assert.rejects(() => DBOS.setWorkflowDelay('delayed-bad', {}), {
      message: 'SetWorkflowDelayOptions must specify either delaySeconds or delayUntilEpochMS',
    });
    assert.deepEqual(await snapshot('delayed-bad'), before);
    await DBOS.cancelWorkflow('delayed-bad');
  });
});

describe('cancel, resume and timeouts of queued workflows', () => {
  test('cancel of an ENQUEUED workflow: it never runs and its deduplication key is free again', async () => {
    await addQueue('cq', 1);
    await block('cq', 'cq-blocker');
    await DBOS.startWorkflow(job, { queueName: 'cq', workflowID: 'cq-1', enqueueOptions: { deduplicationID: 'k' } })('one');
    await assert.rejects(
      () => DBOS.startWorkflow(job, { queueName: 'cq', workflowID: 'cq-dup', enqueueOptions: { deduplicationID: 'k' } })('dup'),
      DBOSErrors.DBOSQueueDuplicatedError,
    );
    await DBOS.cancelWorkflow('cq-1');
    const row = await statusRow(db.url, 'cq-1');
    assert.equal(row?.status, 'CANCELLED');
    assert.equal(row?.deduplication_id, null);
    assert.equal(row?.queue_name, null);
    await DBOS.startWorkflow(job, { queueName: 'cq', workflowID: 'cq-2', enqueueOptions: { deduplicationID: 'k' } })('two');
    await release('cq-blocker');
    assert.equal(await DBOS.retrieveWorkflow('cq-2').getResult(), 'job two');
    assert.equal(runs['cq-1'], undefined, 'the cancelled workflow never ran');
    await assert.rejects(() => DBOS.retrieveWorkflow('cq-1').getResult(), DBOSErrors.DBOSAwaitedWorkflowCancelledError);
  });

  test('resume of a cancelled queued workflow re-enqueues it on the named queue, under its limits, and it runs once', async () => {
    await addQueue('rq', 1);
    await addQueue('rq-held', 0);
    for (const id of ['rq-1', 'rq-2']) await DBOS.startWorkflow(job, { queueName: 'rq-held', workflowID: id })(id);
    await DBOS.cancelWorkflows(['rq-1', 'rq-2']);
    await block('rq', 'rq-blocker');
    const handle = await DBOS.resumeWorkflow<string>('rq-1', { queueName: 'rq' });
    await withClient((c) => c.resumeWorkflow('rq-2', { queueName: 'rq' }));
    for (const id of ['rq-1', 'rq-2']) {
      const row = await statusRow(db.url, id);
      assert.equal(row?.status, 'ENQUEUED', id);
      assert.equal(row?.queue_name, 'rq', id);
      assert.equal(row?.recovery_attempts, '0', id);
    }
    // The queue's limit holds: nothing runs while the blocker has the one slot.
    await sleep(300);
    assert.equal((await statusRow(db.url, 'rq-1'))?.status, 'ENQUEUED');
    assert.equal(runs['rq-1'], undefined);
    await release('rq-blocker');
    assert.equal(await handle.getResult(), 'job rq-1');
    assert.equal(await DBOS.retrieveWorkflow('rq-2').getResult(), 'job rq-2');
    assert.equal(runs['rq-1'], 1);
    assert.equal(runs['rq-2'], 1);
    // Unknown IDs: none resumed, all named.
    await DBOS.startWorkflow(job, { queueName: 'rq-held', workflowID: 'rq-3' })('rq-3');
    await DBOS.cancelWorkflow('rq-3');
    await assert.rejects(() => DBOS.resumeWorkflows(['rq-3', 'no-a', 'no-b'], { queueName: 'rq' }), (e: unknown) => {
      assert.ok(e instanceof DBOSErrors.DBOSNonExistentWorkflowError);
      assert.equal(e.message, 'Workflow no-a, no-b does not exist');
      return true;
    });
    assert.equal((await statusRow(db.url, 'rq-3'))?.status, 'CANCELLED');
  });

  test("a queued workflow's timeout starts at dequeue: waiting in the queue longer than it is no cancel", async () => {
    await addQueue('tq', 1);
    await block('tq', 'tq-blocker');
    await DBOS.startWorkflow(job, { queueName: 'tq', workflowID: 'tq-1', timeoutMS: 300 })('t');
    assert.equal((await statusRow(db.url, 'tq-1'))?.workflow_deadline_epoch_ms, null);
    // Several timeout sweeps (one a second) pass while it waits.
    await sleep(2500);
    assert.equal((await statusRow(db.url, 'tq-1'))?.status, 'ENQUEUED');
    await release('tq-blocker');
    assert.equal(await DBOS.retrieveWorkflow('tq-1').getResult(), 'job t');
    const row = await statusRow(db.url, 'tq-1');
    assert.equal(row?.status, 'SUCCESS');
    assert.equal(Number(row?.workflow_deadline_epoch_ms) - Number(row?.started_at_epoch_ms), 300, 'deadline = dequeue + timeout');
  });
});

const queueApp = path.join(__dirname, 'apps', 'queue-app.js');
const scratch = appScratch('dbosn_queues_mgmt_crash');

describe('recovery of queued workflows', () => {
  test("a SIGKILLed worker's running queued workflows go back on their queue: after relaunch its limits hold, each runs once", async () => {
    const queue = 'rcq';
    const log = scratch.file('rcq.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log, QUEUE: queue };
    const first = spawnApp(queueApp, { ...env, ENQUEUE: '1', HANG: '1' }, 'queue-app first');
    await waitFor('the jobs enqueued', () => countEvents(log, 'ready') === 1, [first]);
    await query(scratch.url, `INSERT INTO dbos.queues (name, concurrency, worker_concurrency, priority_enabled) VALUES ($1, 3, 2, true)`, [queue]);
    await waitFor(
      'two jobs (the worker limit) running with their first step recorded',
      async () => (await query(scratch.url, `SELECT 1 FROM dbos.operation_outputs WHERE function_name = 'start' AND workflow_uuid LIKE $1`, [`${queue}-%`])).length === 2,
      [first],
    );
    await killApp(first);
    // While the worker is down the queue is reconfigured (as setGlobalConcurrency would): one at a time now.
    await query(scratch.url, `UPDATE dbos.queues SET concurrency = 1 WHERE name = $1`, [queue]);

    const second = spawnApp(queueApp, { ...env, SLOW: '1' }, 'queue-app second');
    const done = async () =>
      (await query(scratch.url, `SELECT 1 FROM dbos.workflow_status WHERE status = 'SUCCESS' AND workflow_uuid LIKE $1`, [`${queue}-%`])).length === 6;
    await waitFor('every job finished', done, [second], 30_000);
    await killApp(second);
    for (let i = 0; i < 6; i++) {
      assert.equal(countEvents(log, `start-${queue}-job-${i}`), 1, `job ${i}'s first step ran once`);
      assert.equal(countEvents(log, `done-${queue}-job-${i}`), 1, `job ${i}'s last step ran once`);
      assert.equal(countEvents(log, `mid-start-${queue}-job-${i}`), 1, `job ${i}'s middle step ran to completion once`);
    }
    const events = logEvents(log);
    const spans = events
      .filter((e) => e.name.startsWith('mid-start-'))
      .map((e) => ({ start: e.at, end: events.find((f) => f.name === e.name.replace('mid-start-', 'mid-end-'))?.at ?? Infinity }));
    const overlap = Math.max(...spans.map((a) => spans.filter((b) => b.start <= a.start && a.start < b.end).length));
    assert.equal(overlap, 1, 'the recovered jobs ran within the global limit of 1, as the rest did');
  });
});

describe('handles wake on completion', () => {
  test("a client's getResult returns at once when our worker finishes a queued workflow, not at its next poll", async () => {
    await addQueue('wake', null);
    await withClient(async (client) => {
      const handle = await client.enqueue<typeof blocker>({ queueName: 'wake', workflowName: 'mgmtBlocker', workflowID: 'wake-1' });
      await waitStatus('wake-1', 'PENDING');
      // A poll this long would show: only the completion's notification can end the wait early.
      const result = handle.getResult({ pollingIntervalMs: 20_000 });
      await sleep(200);
      const sent = Date.now();
      await DBOS.send('wake-1', 'go', 'go');
      assert.equal(await result, 'go');
      const waited = Date.now() - sent;
      assert.ok(waited < 10_000, `woken by the completion, not the 20 s poll (${waited} ms)`);
    });
  });

  test('a row finished by the official SDK (no notification) still resolves, by the poll', async () => {
    const log = scratch.file('official.log');
    const official = spawnApp(path.join(__dirname, 'apps', 'official-app.js'), { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log, PUBLISHER_ID: 'official-pub' }, 'official-app');
    await waitFor('the official workflow started', async () => (await statusRow(scratch.url, 'official-pub'))?.status === 'PENDING', [official]);
    const client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
    try {
      const result = client.retrieveWorkflow<string>('official-pub').getResult({ pollingIntervalMs: 100 });
      await client.send('official-pub', 'now', 'release');
      assert.equal(await result, 'published');
    } finally {
      await client.destroy();
    }
  });
});
