// Queued workflows use everything else: a message sent while the workflow is still ENQUEUED waits for its
// recv; events and streams of a queued workflow reach waiters that began before its dequeue; a queued
// workflow starts children, and a workflow's queued child survives a SIGKILL of the parent's process
// (the replayed enqueue finds the recorded child); a timeout starts at dequeue, not at enqueue.
// (Cancel and resume of queued workflows are tested with workflow management.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOS, Error as DBOSErrors } from 'dbos-native';
import { countEvents, killApp, spawnApp, waitFor } from './helpers/child';
import { query, sleep, statusRow, steps } from './helpers/db';
import { appScratch, launchedDatabase } from './helpers/scratch';

const receiver = DBOS.registerWorkflow(async (): Promise<string | null> => DBOS.recv<string>('greeting', 30), { name: 'queuedReceiver' });

const publisher = DBOS.registerWorkflow(
  async (): Promise<string> => {
    await DBOS.setEvent('state', 'published');
    for (const v of [1, 2, 3]) await DBOS.writeStream('numbers', v);
    await DBOS.closeStream('numbers');
    return 'done';
  },
  { name: 'queuedPublisher' },
);

const child = DBOS.registerWorkflow(async (x: number): Promise<number> => x * 2, { name: 'plainChild' });

const queuedParent = DBOS.registerWorkflow(
  async (x: number): Promise<number> => {
    const started = await DBOS.startWorkflow(child)(x);
    const called = await child(x + 1);
    return (await started.getResult()) + called;
  },
  { name: 'queuedParentOfPlain' },
);

const sleeper = DBOS.registerWorkflow(
  async (ms: number): Promise<string> => {
    await DBOS.sleep(ms);
    return `slept ${ms}`;
  },
  { name: 'queuedSleeper' },
);

const db = launchedDatabase('dbosn_queues_features', { name: 'queues-features', applicationVersion: 'v1' });

/** A queue that dispatches nothing until `release` raises its global limit. */
async function heldQueue(name: string): Promise<{ release: (limit?: number) => Promise<void> }> {
  const queue = await DBOS.registerQueue(name, { globalConcurrency: 0, minPollingIntervalMs: 100 });
  return { release: (limit = 1) => queue.setGlobalConcurrency(limit) };
}

describe('messages, events and streams', () => {
  test('a message sent to a workflow still ENQUEUED waits for its recv', async () => {
    const held = await heldQueue('held-recv');
    const handle = await DBOS.startWorkflow(receiver, { queueName: 'held-recv', workflowID: 'recv-enq' })();
    await DBOS.send('recv-enq', 'hello', 'greeting');
    assert.equal((await statusRow(db.url, 'recv-enq'))?.status, 'ENQUEUED', 'sent before the dequeue');
    await held.release();
    assert.equal(await handle.getResult(), 'hello');
    const consumed = await query<{ consumed: boolean }>(db.url, `SELECT consumed FROM dbos.notifications WHERE destination_uuid = 'recv-enq'`);
    assert.deepEqual(consumed, [{ consumed: true }]);
  });

  test("a queued workflow's event and stream reach waiters that began before its dequeue", async () => {
    const held = await heldQueue('held-pub');
    const handle = await DBOS.startWorkflow(publisher, { queueName: 'held-pub', workflowID: 'pub-enq' })();
    const event = DBOS.getEvent<string>('pub-enq', 'state', 30);
    const stream = (async () => {
      const values: number[] = [];
      for await (const v of DBOS.readStream<number>('pub-enq', 'numbers')) values.push(v);
      return values;
    })();
    await sleep(200); // both waiters are waiting on an ENQUEUED workflow
    assert.equal((await statusRow(db.url, 'pub-enq'))?.status, 'ENQUEUED');
    await held.release();
    assert.equal(await event, 'published');
    assert.deepEqual(await stream, [1, 2, 3]);
    assert.equal(await handle.getResult(), 'done');
  });
});

describe('children', () => {
  test('a queued workflow starts and calls child workflows', async () => {
    await DBOS.registerQueue('parents');
    const handle = await DBOS.startWorkflow(queuedParent, { queueName: 'parents', workflowID: 'qparent' })(5);
    assert.equal(await handle.getResult(), 22);
    for (const id of ['qparent-0', 'qparent-1']) {
      const row = await statusRow(db.url, id);
      assert.equal(row?.status, 'SUCCESS');
      assert.equal(row?.parent_workflow_id, 'qparent');
      assert.equal(row?.queue_name, null, 'a child not enqueued does not inherit the queue');
    }
    assert.deepEqual(
      (await steps(db.url, 'qparent')).map((s) => s.child_workflow_id),
      ['qparent-0', 'qparent-1', 'qparent-1', 'qparent-0'],
      'recorded: the start; the call (a start and its getResult); the getResult of the start',
    );
  });
});

describe('timeouts start at dequeue', () => {
  test('time spent ENQUEUED does not count; time running does', async () => {
    const held = await heldQueue('held-timeout');
    const fits = await DBOS.startWorkflow(sleeper, { queueName: 'held-timeout', workflowID: 'to-fits', timeoutMS: 1000 })(50);
    const overruns = await DBOS.startWorkflow(sleeper, { queueName: 'held-timeout', workflowID: 'to-overruns', timeoutMS: 1000 })(60_000);
    await sleep(1500); // longer than the timeout, all of it ENQUEUED
    for (const id of ['to-fits', 'to-overruns']) {
      const row = await statusRow(db.url, id);
      assert.equal(row?.status, 'ENQUEUED');
      assert.equal(row?.workflow_deadline_epoch_ms, null, 'no deadline before the dequeue');
    }
    const releasedAt = Date.now();
    await held.release(2);
    assert.equal(await fits.getResult(), 'slept 50');
    // An enqueue's handle is a retrieved one (as in the SDK): awaiting a cancelled workflow through it says so.
    await assert.rejects(overruns.getResult(), DBOSErrors.DBOSAwaitedWorkflowCancelledError);
    const row = await statusRow(db.url, 'to-overruns');
    assert.equal(row?.status, 'CANCELLED');
    // The cancel clears started_at_epoch_ms (as the SDK's does); the deadline stays. Counted from the enqueue it
    // would be 500 ms before the release; from the dequeue it is after the release plus the timeout (100 ms of
    // slack between this process's clock and the database's, on the same machine).
    const deadline = Number(row?.workflow_deadline_epoch_ms);
    assert.ok(deadline >= releasedAt + 1000 - 100, `the deadline ${deadline - releasedAt} ms after the release, not the dequeue plus the timeout`);
  });
});

const parentApp = path.join(__dirname, 'apps', 'queue-parent-app.js');
const scratch = appScratch('dbosn_queues_features_crash');

describe('a queued child across SIGKILL', () => {
  test("the recovered parent's replayed enqueue finds its child, which runs once", async () => {
    const log = scratch.file('parent.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
    const first = spawnApp(parentApp, { ...env, START: '1', HANG: '1', KIDQ_CONCURRENCY: '0' }, 'queue-parent-app first');
    await waitFor('the child enqueued and the parent hanging', () => countEvents(log, 'enqueued-queued-parent-1') === 1, [first]);
    const childRow = await statusRow(scratch.url, 'queued-parent-1');
    assert.equal(childRow?.status, 'ENQUEUED');
    assert.equal(childRow?.queue_name, 'kidq');
    assert.equal(childRow?.parent_workflow_id, 'queued-parent');
    await killApp(first);

    const second = spawnApp(parentApp, { ...env, KIDQ_CONCURRENCY: '1' }, 'queue-parent-app second');
    await waitFor('the parent finished', async () => (await statusRow(scratch.url, 'queued-parent'))?.status === 'SUCCESS', [second], 30_000);
    const children = await query<{ workflow_uuid: string; status: string }>(
      scratch.url,
      `SELECT workflow_uuid, status FROM dbos.workflow_status WHERE parent_workflow_id = 'queued-parent'`,
    );
    assert.deepEqual(children, [{ workflow_uuid: 'queued-parent-1', status: 'SUCCESS' }], 'one child, not a second enqueue');
    assert.equal(countEvents(log, 'before'), 1, "the parent's first step was replayed, not re-run");
    assert.equal(countEvents(log, 'kid-run-queued-parent-1'), 1, 'the child ran once');
    const output = await query<{ output: string }>(scratch.url, `SELECT output FROM dbos.workflow_output WHERE workflow_uuid = 'queued-parent'`);
    assert.match(output[0]?.output ?? '', /queued-parent-1: kid 7/);
    await killApp(second);
  });
});
