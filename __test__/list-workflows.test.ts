// DBOS.listWorkflows / listQueuedWorkflows and the client's: for a matrix of GetWorkflowsInput filters, the rows
// we list equal what the official SDK's DBOSClient lists on the same database (rows made by both SDKs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOSClient as OfficialClient, type GetWorkflowsInput as OfficialInput } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as DBOSErrors, type GetWorkflowsInput } from 'dbos-native';
import { query, sleep } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

const echo = DBOS.registerWorkflow(async (tag: string, n: number): Promise<{ tag: string; n: number }> => ({ tag, n }), { name: 'listEcho' });
const fail = DBOS.registerWorkflow(
  async (tag: string): Promise<void> => {
    throw new Error(`failed ${tag}`);
  },
  { name: 'listFail' },
);
const parent = DBOS.registerWorkflow(
  async (tag: string): Promise<string> => {
    const child = await DBOS.startWorkflow(echo, { workflowID: `${tag}-child` })(tag, 0);
    return (await child.getResult()).tag;
  },
  { name: 'listParent' },
);
/** Lists from workflow code: recorded as a step, so a replay returns the first listing. */
const lister = DBOS.registerWorkflow(
  async (prefix: string): Promise<string[]> => (await DBOS.listWorkflows({ workflow_id_prefix: prefix })).map((w) => w.workflowID),
  { name: 'listLister' },
);

const db = launchedDatabase('dbosn_list_workflows', { name: 'list-app', applicationVersion: 'v1' });

/** Epoch ms between the two batches of rows, for the time filters. */
let middle = 0;
let rowsMade = false;

async function makeRows(): Promise<void> {
  if (rowsMade) return;
  rowsMade = true;
  await query(db.url, `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) VALUES ('held', 0, 1, true)`);
  // Ours: finished, failed, parent and child, cancelled, and waiting on a queue that never runs.
  for (let i = 0; i < 3; i++) await (await DBOS.startWorkflow(echo, { workflowID: `ours-ok-${i}` })(`ok${i}`, i)).getResult();
  await assert.rejects((await DBOS.startWorkflow(fail, { workflowID: 'ours-err' })('e')).getResult());
  await (await DBOS.startWorkflow(parent, { workflowID: 'ours-parent' })('ours-parent')).getResult();
  await sleep(5);
  middle = Date.now();
  await sleep(5);
  await DBOS.startWorkflow(echo, { workflowID: 'ours-queued', queueName: 'held', enqueueOptions: { priority: 4, deduplicationID: 'dq' } })('q', 9);
  await DBOS.startWorkflow(echo, { workflowID: 'ours-cancelled', queueName: 'held' })('c', 8);
  await DBOS.cancelWorkflow('ours-cancelled');
  // The official client's: enqueued for this app, for another app, unclaimed, delayed, with attributes.
  const official = await OfficialClient.create({ systemDatabaseUrl: db.url, applicationName: 'list-app' });
  try {
    await official.enqueue({ queueName: 'held', workflowName: 'listEcho', workflowID: 'sdk-1', priority: 2, attributes: { team: 'a', n: 1 } }, 's1', 1);
    await official.enqueue({ queueName: 'held', workflowName: 'listEcho', workflowID: 'sdk-2', appVersion: 'v2', attributes: { team: 'b' } }, 's2', 2);
    await official.enqueue({ queueName: 'elsewhere', workflowName: 'listEcho', workflowID: 'sdk-other', applicationName: 'other-app' }, 'o', 3);
    await official.enqueue({ queueName: 'later', workflowName: 'listEcho', workflowID: 'sdk-delayed', delaySeconds: 3600 }, 'd', 4);
  } finally {
    await official.destroy();
  }
  const unclaimed = await OfficialClient.create({ systemDatabaseUrl: db.url });
  try {
    await unclaimed.enqueue({ queueName: 'held', workflowName: 'listEcho', workflowID: 'sdk-unclaimed', queuePartitionKey: 'pk1' }, 'u', 5);
  } finally {
    await unclaimed.destroy();
  }
}

/** The filters compared; each runs as listWorkflows and as listQueuedWorkflows. */
function matrix(): [string, GetWorkflowsInput][] {
  const mid = new Date(middle).toISOString();
  return [
    ['everything', {}],
    ['by IDs (no app scope)', { workflowIDs: ['sdk-other', 'ours-ok-1', 'nope'] }],
    ['by IDs and app', { workflowIDs: ['sdk-other', 'ours-ok-1'], applicationName: 'list-app' }],
    ['name', { workflowName: 'listEcho' }],
    ['names', { workflowName: ['listFail', 'listParent'] }],
    ['status', { status: 'SUCCESS' }],
    ['statuses', { status: ['ERROR', 'CANCELLED', 'DELAYED'] }],
    ['created after', { startTime: mid }],
    ['created before', { endTime: mid }],
    ['completed after', { completedAfter: new Date(0).toISOString() }],
    ['completed before', { completedBefore: mid }],
    ['dequeued after', { dequeuedAfter: new Date(0).toISOString() }],
    ['dequeued before', { dequeuedBefore: mid }],
    ['version', { applicationVersion: 'v2' }],
    ['versions', { applicationVersion: ['v1', 'v2'] }],
    ['executor', { executorId: DBOS.executorID }],
    ['prefix', { workflow_id_prefix: 'sdk-' }],
    ['prefixes', { workflow_id_prefix: ['ours-ok', 'sdk-u'] }],
    ['queue', { queueName: 'held' }],
    ['queues', { queueName: ['held', 'later'] }],
    ['other app', { applicationName: 'other-app' }],
    ['apps', { applicationName: ['other-app', 'list-app'] }],
    ['parent', { parentWorkflowID: 'ours-parent' }],
    ['has parent', { hasParent: true }],
    ['no parent', { hasParent: false }],
    ['is fork', { isFork: true }],
    ['not a fork', { isFork: false, wasForkedFrom: false }],
    ['attributes', { attributes: { team: 'a' } }],
    ['empty attributes', { attributes: {} }],
    ['limit', { limit: 3 }],
    ['limit and offset, newest first', { limit: 4, offset: 2, sortDesc: true }],
    ['zero limit', { limit: 0, offset: 0 }],
    ['no input or output', { loadInput: false, loadOutput: false }],
    ['no output', { loadOutput: false, status: 'SUCCESS' }],
    ['authenticated user', { authenticatedUser: 'nobody' }],
    ['forked from', { forkedFrom: 'ours-ok-1' }],
    ['schedule', { scheduleName: ['nightly'] }],
    ['queuesOnly', { queuesOnly: true }],
  ];
}

/** Timestamps aside (equal anyway), a listing as comparable JSON. */
function comparable(list: unknown[]): unknown {
  return JSON.parse(JSON.stringify(list)) as unknown;
}

describe('listWorkflows', () => {
  test('equals the official DBOSClient for every filter (DBOS, our DBOSClient; listWorkflows and listQueuedWorkflows)', async () => {
    await makeRows();
    const official = await OfficialClient.create({ systemDatabaseUrl: db.url, applicationName: 'list-app' });
    const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'list-app' });
    try {
      for (const [name, input] of matrix()) {
        const theirs = comparable(await official.listWorkflows({ ...input } as OfficialInput));
        assert.deepEqual(comparable(await DBOS.listWorkflows({ ...input })), theirs, `DBOS.listWorkflows: ${name}`);
        assert.deepEqual(comparable(await client.listWorkflows({ ...input })), theirs, `client.listWorkflows: ${name}`);
        const theirsQueued = comparable(await official.listQueuedWorkflows({ ...input } as OfficialInput));
        assert.deepEqual(comparable(await DBOS.listQueuedWorkflows({ ...input })), theirsQueued, `DBOS.listQueuedWorkflows: ${name}`);
        assert.deepEqual(comparable(await client.listQueuedWorkflows({ ...input })), theirsQueued, `client.listQueuedWorkflows: ${name}`);
      }
      // The matrix is not vacuous: the filters select different, non-empty sets.
      assert.ok(((await DBOS.listWorkflows({})) as unknown[]).length >= 10);
      assert.deepEqual(
        (await DBOS.listQueuedWorkflows({ queueName: 'held' })).map((w) => w.workflowID),
        ['ours-queued', 'sdk-1', 'sdk-2', 'sdk-unclaimed'],
      );
    } finally {
      await official.destroy();
      await client.destroy();
    }
  });

  test('listQueuedWorkflows sets queuesOnly and loadOutput on the input, as the SDK does', async () => {
    await makeRows();
    const input: GetWorkflowsInput = { queueName: 'held' };
    await DBOS.listQueuedWorkflows(input);
    assert.deepEqual(input, { queueName: 'held', queuesOnly: true, loadOutput: false });
  });

  test('from workflow code it is a step: a replay returns the first listing', async () => {
    await makeRows();
    const first = await (await DBOS.startWorkflow(lister, { workflowID: 'lister-1' })('ours-ok')).getResult();
    assert.deepEqual(first, ['ours-ok-0', 'ours-ok-1', 'ours-ok-2']);
    const rows = await query<{ function_name: string }>(db.url, `SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = 'lister-1'`);
    assert.deepEqual(
      rows.map((r) => r.function_name),
      ['DBOS.listWorkflows'],
    );
  });

  test('bad inputs reject (never throw) with DBOSError', async () => {
    const bad: [string, unknown][] = [
      ['input', null],
      ['startTime', { startTime: 'not a date' }],
      ['limit', { limit: -1 }],
      ['offset', { offset: 1.5 }],
      ['workflowName', { workflowName: 42 }],
      ['workflowIDs', { workflowIDs: 'a' }],
      ['sortDesc', { sortDesc: 'yes' }],
    ];
    const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'list-app' });
    try {
      for (const [what, input] of bad) {
        await assert.rejects(() => DBOS.listWorkflows(input as GetWorkflowsInput), DBOSErrors.DBOSError, `DBOS ${what}`);
        await assert.rejects(() => client.listWorkflows(input as GetWorkflowsInput), DBOSErrors.DBOSError, `client ${what}`);
      }
    } finally {
      await client.destroy();
    }
  });
});

describe('observabilityQueryTimeoutMs', () => {
  test('caps a listing not keyed by IDs (DBOSQueryTimeoutError, as the SDK); 0 is no cap; a bad value is refused', async () => {
    // Another application's rows, out of the other tests' scope: enough that listing them takes over 1 ms.
    await query(
      db.url,
      `INSERT INTO dbos.workflow_status (workflow_uuid, status, name, application_name) SELECT 'bulk-' || g, 'SUCCESS', 'bulk', 'bulk-app' FROM generate_series(1, 50000) g`,
    );
    const capped = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'bulk-app', observabilityQueryTimeoutMs: 1 });
    const official = await OfficialClient.create({ systemDatabaseUrl: db.url, applicationName: 'bulk-app', observabilityQueryTimeoutMs: 1 });
    const uncapped = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'bulk-app', observabilityQueryTimeoutMs: 0 });
    try {
      await assert.rejects(() => official.listWorkflows({ sortDesc: true }), { name: 'DBOSQueryTimeoutError' });
      await assert.rejects(() => capped.listWorkflows({ sortDesc: true }), (e: unknown) => {
        assert.ok(e instanceof DBOSErrors.DBOSQueryTimeoutError);
        assert.equal(e.message, 'This query was cancelled after exceeding its 1ms statement timeout.');
        return true;
      });
      assert.deepEqual(
        (await capped.listWorkflows({ workflowIDs: ['bulk-7'] })).map((w) => w.workflowID),
        ['bulk-7'],
      );
      assert.equal((await uncapped.listWorkflows({ limit: 5, loadInput: false })).length, 5);
    } finally {
      await capped.destroy();
      await official.destroy();
      await uncapped.destroy();
    }
    await assert.rejects(() => DBOSClient.create({ systemDatabaseUrl: db.url, observabilityQueryTimeoutMs: Number.NaN }), /observabilityQueryTimeoutMs must be a finite number/);
  });
});
