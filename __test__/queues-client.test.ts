// DBOSClient.enqueue / enqueuePortable write the SDK client's ENQUEUED row (no executor, the requested
// application version or NULL, the client's application), a dispatcher of this app runs it, and
// deduplication collisions reject with DBOSQueueDuplicatedError or, with duplicationPolicy
// 'return-existing', give a handle to the workflow holding the ID (on DBOS.startWorkflow too). An
// enqueue wakes the dispatchers of other processes at once (NOTIFY), not at their next poll.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOS, DBOSClient, Error as DBOSErrors } from 'dbos-native';
import { countEvents, spawnApp, waitFor } from './helpers/child';
import { query, sleep, statusRow, steps } from './helpers/db';
import { appScratch, launchedDatabase } from './helpers/scratch';

const greet = DBOS.registerWorkflow(async (name: string, n: number): Promise<string> => `hello ${name} ${n}`, { name: 'greet' });

/** Enqueues the same deduplicated child twice with 'return-existing': both handles are the first child. */
const parentOfSingleton = DBOS.registerWorkflow(
  async (): Promise<string[]> => {
    const ids: string[] = [];
    for (let n = 1; n <= 2; n++) {
      const opts = { queueName: 'nowhere', enqueueOptions: { deduplicationID: 'kid' }, duplicationPolicy: 'return-existing' as const };
      ids.push((await DBOS.startWorkflow(greet, opts)('kid', n)).workflowID);
    }
    return ids;
  },
  { name: 'parentOfSingleton' },
);

const db = launchedDatabase('dbosn_queues_client', { name: 'qclient-app', applicationVersion: 'v1' });

async function addQueue(name: string, concurrency: number | null = null): Promise<void> {
  await query(db.url, `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) VALUES ($1, $2, 1, true)`, [name, concurrency]);
}

async function withClient<T>(appName: string | undefined, f: (c: DBOSClient) => Promise<T>): Promise<T> {
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: appName });
  try {
    return await f(client);
  } finally {
    await client.destroy();
  }
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const rows = await query<{ n: string }>(db.url, `SELECT count(*)::text AS n FROM ${sql}`, params);
  return Number(rows[0]?.n);
}

describe('DBOSClient.enqueue', () => {
  test('writes the client ENQUEUED row, which this app then runs', async () => {
    await addQueue('held', 0);
    await withClient('qclient-app', async (client) => {
      const handle = await client.enqueue<typeof greet>(
        { queueName: 'held', workflowName: 'greet', workflowID: 'c-1', workflowTimeoutMS: 60_000, priority: 3, deduplicationID: 'd-1' },
        'ann',
        1,
      );
      assert.equal(handle.workflowID, 'c-1');
      const row = await statusRow(db.url, 'c-1');
      assert.equal(row?.status, 'ENQUEUED');
      assert.equal(row?.name, 'greet');
      assert.equal(row?.queue_name, 'held');
      assert.equal(row?.executor_id, '');
      assert.equal(row?.application_version, null, 'no version asked for');
      assert.equal(row?.application_name, 'qclient-app');
      assert.equal(row?.priority, 3);
      assert.equal(row?.deduplication_id, 'd-1');
      assert.equal(row?.workflow_timeout_ms, '60000');
      assert.equal(row?.workflow_deadline_epoch_ms, null);
      assert.equal(row?.recovery_attempts, '0');
      await query(db.url, `UPDATE dbos.queues SET concurrency = NULL WHERE name = 'held'`);
      assert.equal(await handle.getResult(), 'hello ann 1');
      assert.equal((await statusRow(db.url, 'c-1'))?.application_version, 'v1', 'stamped by the claim');
    });
  });

  test('applicationName and appVersion are stamped as given; no client application leaves it unclaimed', async () => {
    await withClient(undefined, async (client) => {
      await client.enqueue({ queueName: 'nowhere', workflowName: 'greet', workflowID: 'c-unclaimed' }, 'x', 0);
      await client.enqueue({ queueName: 'nowhere', workflowName: 'greet', workflowID: 'c-owned', applicationName: 'other', appVersion: 'v9' }, 'x', 0);
    });
    assert.equal((await statusRow(db.url, 'c-unclaimed'))?.application_name, null);
    const owned = await statusRow(db.url, 'c-owned');
    assert.equal(owned?.application_name, 'other');
    assert.equal(owned?.application_version, 'v9');
  });

  test('enqueuePortable writes portable_json inputs; the app runs them', async () => {
    await addQueue('portable');
    await withClient('qclient-app', async (client) => {
      const handle = await client.enqueuePortable<string>({ queueName: 'portable', workflowName: 'greet', workflowID: 'c-port' }, ['bo', 2]);
      assert.equal(await handle.getResult(), 'hello bo 2');
    });
    const rows = await query<{ serialization: string; inputs: string }>(
      db.url,
      `SELECT s.serialization, i.inputs FROM dbos.workflow_status s JOIN dbos.workflow_input i USING (workflow_uuid) WHERE workflow_uuid = 'c-port'`,
    );
    assert.equal(rows[0]?.serialization, 'portable_json');
    assert.deepEqual(JSON.parse(rows[0]?.inputs ?? 'null'), { positionalArgs: ['bo', 2] });
  });

  test('a deduplication collision rejects, or returns the holder with return-existing', async () => {
    await withClient('qclient-app', async (client) => {
      const opts = { queueName: 'nowhere', workflowName: 'greet', deduplicationID: 'dup' };
      const first = await client.enqueue({ ...opts, workflowID: 'c-dup-1' }, 'a', 1);
      await assert.rejects(client.enqueue({ ...opts, workflowID: 'c-dup-2' }, 'b', 2), DBOSErrors.DBOSQueueDuplicatedError);
      const again = await client.enqueue({ ...opts, workflowID: 'c-dup-3', duplicationPolicy: 'return-existing' }, 'c', 3);
      assert.equal(again.workflowID, first.workflowID);
      await assert.rejects(
        client.enqueue({ queueName: 'nowhere', workflowName: 'greet', duplicationPolicy: 'return-existing' }),
        (e: Error) => e instanceof DBOSErrors.DBOSInvalidWorkflowTransitionError && /requires `deduplicationID`/.test(e.message),
      );
    });
    assert.equal(await count(`dbos.workflow_status WHERE workflow_uuid LIKE 'c-dup-%'`), 1);
  });

  test('a workflow ID in use returns that workflow, unless the policy is reject or it is another function', async () => {
    await withClient('qclient-app', async (client) => {
      const opts = { queueName: 'nowhere', workflowName: 'greet', workflowID: 'c-reuse' };
      await client.enqueue(opts, 'a', 1);
      assert.equal((await client.enqueue(opts, 'b', 2)).workflowID, 'c-reuse');
      await assert.rejects(client.enqueue({ ...opts, workflowIDReusePolicy: 'reject' }, 'c', 3), (e: Error) => e.name === 'DBOSWorkflowIDInUseError');
      await assert.rejects(client.enqueue({ ...opts, workflowName: 'other' }), DBOSErrors.DBOSConflictingWorkflowError);
    });
    const rows = await query<{ inputs: string }>(db.url, `SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = 'c-reuse'`);
    assert.match(rows[0]?.inputs ?? '', /"a"/, 'the first enqueue\'s arguments are kept');
  });

  test('bad options reject and write nothing', async () => {
    const before = await count('dbos.workflow_status');
    await withClient('qclient-app', async (client) => {
      await assert.rejects(client.enqueue({ queueName: 'nowhere', workflowName: 'greet', priority: -1 }), DBOSErrors.DBOSInvalidQueuePriorityError);
      await assert.rejects(client.enqueue({ queueName: 'nowhere', workflowName: 'greet', workflowID: '  ' }), /cannot be only whitespace/);
      const attributes = ['a'] as unknown as Record<string, unknown>;
      await assert.rejects(client.enqueue({ queueName: 'nowhere', workflowName: 'greet', attributes }), /Invalid workflow attributes: must be a key-value object, got array\./);
    });
    assert.equal(await count('dbos.workflow_status'), before);
  });
});

describe("DBOS.startWorkflow with duplicationPolicy 'return-existing'", () => {
  test('a collision returns a handle to the workflow holding the ID', async () => {
    const first = await DBOS.startWorkflow(greet, { queueName: 'nowhere', workflowID: 's-dup-1', enqueueOptions: { deduplicationID: 'sdup' } })('a', 1);
    await assert.rejects(
      DBOS.startWorkflow(greet, { queueName: 'nowhere', workflowID: 's-dup-2', enqueueOptions: { deduplicationID: 'sdup' } })('b', 2),
      DBOSErrors.DBOSQueueDuplicatedError,
    );
    const again = await DBOS.startWorkflow(greet, {
      queueName: 'nowhere',
      workflowID: 's-dup-3',
      enqueueOptions: { deduplicationID: 'sdup' },
      duplicationPolicy: 'return-existing',
    })('c', 3);
    assert.equal(again.workflowID, first.workflowID);
    assert.equal(await count(`dbos.workflow_status WHERE workflow_uuid LIKE 's-dup-%'`), 1);
  });

  test("a child's collision records the workflow it got, at the child's function ID", async () => {
    const handle = await DBOS.startWorkflow(parentOfSingleton, { workflowID: 'p-re' })();
    assert.deepEqual(await handle.getResult(), ['p-re-0', 'p-re-0']);
    const recorded = await steps(db.url, 'p-re');
    assert.deepEqual(
      recorded.map((s) => [s.function_id, s.child_workflow_id, s.error]),
      [
        [0, 'p-re-0', null],
        [1, 'p-re-0', null],
      ],
    );
  });

  test('it needs a queue and a deduplication ID', async () => {
    await assert.rejects(DBOS.startWorkflow(greet, { duplicationPolicy: 'return-existing' })('a', 1), /requires a `queueName`/);
    await assert.rejects(
      DBOS.startWorkflow(greet, { queueName: 'nowhere', duplicationPolicy: 'return-existing' })('a', 1),
      /requires `enqueueOptions.deduplicationID`/,
    );
  });
});

const scratch = appScratch('dbosn_queues_client_procs');

describe('an enqueue wakes the dispatchers of other processes', () => {
  test('a client enqueue runs in an app process long before its 60 s poll', async () => {
    const log = scratch.file('wake.log');
    const app = spawnApp(path.join(__dirname, 'apps', 'queue-app.js'), { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log }, 'queue-app wake');
    await waitFor('the app launched', () => countEvents(log, 'ready') === 1, [app]);
    const client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
    try {
      // The first job is enqueued before the queue exists: the app's dispatcher takes it when it finds
      // the queue, then polls it only every 60 s.
      const first = await client.enqueue({ queueName: 'slowpoll', workflowName: 'queuedJob', workflowID: 'wake-1' });
      await query(scratch.url, `INSERT INTO dbos.queues (name, polling_interval_sec, priority_enabled) VALUES ('slowpoll', 60, true)`);
      assert.equal(await first.getResult({ pollingIntervalMs: 50 }), 'wake-1');
      // Past the claim that follows the first run's end, so only a wake-up can start the second.
      await sleep(500);
      const second = await client.enqueue({ queueName: 'slowpoll', workflowName: 'queuedJob', workflowID: 'wake-2' });
      await waitFor('the second job run', async () => (await statusRow(scratch.url, 'wake-2'))?.status === 'SUCCESS', [app], 20_000);
      assert.equal(await second.getResult(), 'wake-2');
      // Concurrent enqueues share one insert statement, which notifies for all of them at its commit.
      await sleep(500);
      const ids = Array.from({ length: 40 }, (_, i) => `wake-many-${i}`);
      await Promise.all(ids.map((workflowID) => client.enqueue({ queueName: 'slowpoll', workflowName: 'queuedJob', workflowID })));
      const done = async () => Number((await query<{ n: string }>(scratch.url, `SELECT count(*)::text AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE 'wake-many-%' AND status = 'SUCCESS'`))[0]?.n);
      await waitFor('the concurrent jobs run', async () => (await done()) === ids.length, [app], 20_000);
    } finally {
      await client.destroy();
    }
  });
});
