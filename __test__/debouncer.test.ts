// Debouncer and DebouncerClient (SDK 5.3.0) in one process: calls with one key within the period coalesce onto one
// DELAYED workflow (its delay extended, its inputs replaced by the latest call's), debounceTimeoutMs caps the delay,
// keys are independent, a queue and a workflow ID can be given, the client form bounces the same rows, a key is
// free again once its workflow left DELAYED, and a debounce from workflow code is checkpointed as the SDK's step.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, DBOSClient, Debouncer, DebouncerClient, Error as DBOSErrors } from 'dbos-native';
import { query, statusRow, steps } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

const runs = new Map<string, number>();
const debounced = DBOS.registerWorkflow(
  async (label: string, n: number): Promise<string> => {
    runs.set(label, (runs.get(label) ?? 0) + 1);
    return `${label}:${n}`;
  },
  { name: 'debouncedWork' },
);

const inWorkflow = new Debouncer({ workflow: debounced });
const parent = DBOS.registerWorkflow(
  async (): Promise<string[]> => {
    const a = await inWorkflow.debounce('k-wf', 1000, 'fromWf', 1);
    const b = await inWorkflow.debounce('k-wf', 1000, 'fromWf', 2);
    return [a.workflowID, b.workflowID];
  },
  { name: 'debounceParent' },
);

const db = launchedDatabase('dbosn_debouncer', { name: 'debouncer-app', applicationVersion: 'v1' });

interface Row {
  status: string;
  delay_until_epoch_ms: string | null;
  debounce_deadline_epoch_ms: string | null;
  is_debounced: boolean;
  deduplication_id: string | null;
  queue_name: string | null;
  inputs: string | null;
}

async function row(id: string): Promise<Row> {
  const [r] = await query<Row>(
    db.url,
    `SELECT s.status, s.delay_until_epoch_ms, s.debounce_deadline_epoch_ms, s.is_debounced, s.deduplication_id, s.queue_name, i.inputs
       FROM dbos.workflow_status s LEFT JOIN dbos.workflow_input i USING (workflow_uuid) WHERE workflow_uuid = $1`,
    [id],
  );
  assert.ok(r, `no row for ${id}`);
  return r;
}

describe('Debouncer', () => {
  test('calls within the period extend one workflow; the latest inputs win; it runs once', async () => {
    const d = new Debouncer({ workflow: debounced });
    const h1 = await d.debounce('k1', 3000, 'ext', 1);
    const first = await row(h1.workflowID);
    assert.equal(first.status, 'DELAYED');
    assert.equal(first.is_debounced, true);
    assert.equal(first.deduplication_id, '.debouncedWork-k1');
    assert.equal(first.queue_name, '_dbos_internal_queue');
    const h2 = await d.debounce('k1', 3000, 'ext', 2);
    const h3 = await d.debounce('k1', 3000, 'ext', 3);
    assert.equal(h2.workflowID, h1.workflowID);
    assert.equal(h3.workflowID, h1.workflowID);
    const last = await row(h1.workflowID);
    assert.ok(Number(last.delay_until_epoch_ms) > Number(first.delay_until_epoch_ms), 'each call pushes the delay back');
    assert.equal(await h1.getResult(), 'ext:3');
    assert.equal(runs.get('ext'), 1);
    // The key was freed when the workflow left DELAYED: the next call starts a fresh workflow.
    assert.equal((await row(h1.workflowID)).deduplication_id, null);
    const h4 = await d.debounce('k1', 100, 'ext', 4);
    assert.notEqual(h4.workflowID, h1.workflowID);
    assert.equal(await h4.getResult(), 'ext:4');
    assert.equal(runs.get('ext'), 2);
  });

  test('debounceTimeoutMs caps the delay: a long period still runs by the deadline', async () => {
    const d = new Debouncer({ workflow: debounced, debounceTimeoutMs: 1000 });
    const before = Date.now();
    const h = await d.debounce('k-timeout', 60_000, 'timeout', 1);
    const r = await row(h.workflowID);
    const deadline = Number(r.debounce_deadline_epoch_ms);
    assert.ok(deadline >= before + 1000 && deadline <= Date.now() + 1000, `deadline ${deadline}`);
    assert.equal(Number(r.delay_until_epoch_ms), deadline, 'the delay is capped at the deadline');
    await d.debounce('k-timeout', 60_000, 'timeout', 2);
    assert.equal(Number((await row(h.workflowID)).delay_until_epoch_ms), deadline, 'a bounce never passes the deadline');
    assert.equal(await h.getResult(), 'timeout:2');
  });

  test('keys are independent', async () => {
    const d = new Debouncer({ workflow: debounced });
    const a = await d.debounce('ka', 500, 'keyA', 1);
    const b = await d.debounce('kb', 500, 'keyB', 2);
    assert.notEqual(a.workflowID, b.workflowID);
    await d.debounce('ka', 500, 'keyA', 3);
    assert.equal(await a.getResult(), 'keyA:3');
    assert.equal(await b.getResult(), 'keyB:2');
  });

  test('queue and workflow ID options; the ID is used only by the call that creates the workflow', async () => {
    await DBOS.registerQueue('debounce-q');
    const d = new Debouncer({ workflow: debounced, startWorkflowParams: { queueName: 'debounce-q', workflowID: 'deb-pinned', workflowAttributes: { a: 1 } } });
    const h = await d.debounce('kq', 500, 'queued', 1);
    assert.equal(h.workflowID, 'deb-pinned');
    assert.equal((await row('deb-pinned')).queue_name, 'debounce-q');
    const again = await d.debounce('kq', 500, 'queued', 2);
    assert.equal(again.workflowID, 'deb-pinned');
    assert.equal(await h.getResult(), 'queued:2');
    const status = await DBOS.getWorkflowStatus('deb-pinned');
    assert.equal(status?.queueName, 'debounce-q');
  });

  test('withNextWorkflowID names the debounced workflow', async () => {
    const d = new Debouncer({ workflow: debounced });
    const h = await DBOS.withNextWorkflowID('deb-next', () => d.debounce('k-next', 200, 'next', 1));
    assert.equal(h.workflowID, 'deb-next');
    assert.equal(await h.getResult(), 'next:1');
  });

  test('a key held by a workflow that is not debounced is a conflict (DBOSQueueDuplicatedError)', async () => {
    await DBOS.registerQueue('debounce-held', { globalConcurrency: 0 });
    await DBOS.startWorkflow(debounced, { queueName: 'debounce-held', enqueueOptions: { deduplicationID: '.debouncedWork-held' } })('held', 0);
    const d = new Debouncer({ workflow: debounced, startWorkflowParams: { queueName: 'debounce-held' } });
    await assert.rejects(d.debounce('held', 200, 'held', 1), DBOSErrors.DBOSQueueDuplicatedError);
  });

  test('DebouncerClient bounces the same workflows as Debouncer', async () => {
    const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'debouncer-app' });
    try {
      const d = new Debouncer({ workflow: debounced });
      const dc = new DebouncerClient(client, { workflowName: 'debouncedWork' });
      assert.equal(dc.client, client);
      // Typed as the DBOSClient it is (as in the SDK), not only as what the debouncer uses of it.
      assert.equal(typeof dc.client.enqueue, 'function');
      const h = await d.debounce('kc', 1500, 'client', 1);
      const hc = await dc.debounce('kc', 1500, 'client', 2);
      assert.equal(hc.workflowID, h.workflowID);
      assert.equal(await hc.getResult(), 'client:2');
      // A fresh debounce from the client alone, extended by a second client call.
      const c1 = await dc.debounce('kc-only', 1500, 'clientOnly', 1);
      const c2 = await dc.debounce('kc-only', 1500, 'clientOnly', 2);
      assert.equal(c2.workflowID, c1.workflowID);
      const r = await row(c1.workflowID);
      assert.equal(r.is_debounced, true);
      assert.equal(await c1.getResult(), 'clientOnly:2');
      assert.equal(runs.get('clientOnly'), 1);
    } finally {
      await client.destroy();
    }
  });

  test('from workflow code: the bounce is checkpointed as DBOS.debounceDelayedWorkflow and the start as a child', async () => {
    const h = await DBOS.startWorkflow(parent, { workflowID: 'deb-parent' })();
    const [a, b] = await h.getResult();
    assert.equal(a, b);
    const names = (await steps(db.url, 'deb-parent')).map((s) => s.function_name);
    assert.deepEqual(names, ['DBOS.debounceDelayedWorkflow', 'debouncedWork', 'DBOS.debounceDelayedWorkflow']);
    assert.equal(await DBOS.retrieveWorkflow<string>(a).getResult(), 'fromWf:2');
    assert.equal((await statusRow(db.url, a))?.parent_workflow_id, 'deb-parent');
  });
});
