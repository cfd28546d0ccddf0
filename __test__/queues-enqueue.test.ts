// Every enqueue option written as the SDK writes it (DBOS.startWorkflow's enqueueOptions, DBOSClient.enqueue's
// options; rows compared with the official SDK client's), a partitioned queue refusing an enqueue without a key
// (the SDK leaves such a row ENQUEUED forever), one warning per unregistered queue name (the SDK says nothing),
// DBOS.enqueueWorkflowWithOptions(Portable), and DBOSClient.enqueue(Portable)InTransaction in the caller's
// own pg transaction.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { DBOSClient as SdkClient } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as DBOSErrors } from 'dbos-native';
import { query, statusRow, steps } from './helpers/db';
import { waitFor } from './helpers/child';
import { launchedDatabase } from './helpers/scratch';

const greet = DBOS.registerWorkflow(async (name: string, n: number): Promise<string> => `hello ${name} ${n}`, { name: 'greet' });

/** Enqueues by name twice with one deduplication ID, then waits: the second is refused, and a replay agrees. */
const byNameParent = DBOS.registerWorkflow(
  async (): Promise<string> => {
    const first = await DBOS.enqueueWorkflowWithOptions({ queueName: 'parked', workflowName: 'greet', deduplicationID: 'bn' }, 'kid', 1);
    let second = 'accepted';
    try {
      await DBOS.enqueueWorkflowWithOptions({ queueName: 'parked', workflowName: 'greet', deduplicationID: 'bn' }, 'kid', 2);
    } catch (e) {
      second = (e as Error).name;
    }
    await DBOS.recv<string>('go', 60);
    return `${first.workflowID} ${second}`;
  },
  { name: 'byNameParent' },
);

/** Enqueues a child by name onto a partitioned queue without a key. */
const keylessParent = DBOS.registerWorkflow(
  async (): Promise<string> => (await DBOS.enqueueWorkflowWithOptions({ queueName: 'parts', workflowName: 'greet' }, 'k', 0)).workflowID,
  { name: 'keylessParent' },
);

/** Calls enqueueWorkflowWithOptions from inside a step (refused, as in the SDK). */
const stepEnqueuer = DBOS.registerWorkflow(
  async (): Promise<string> =>
    DBOS.runStep(async () => (await DBOS.enqueueWorkflowWithOptions({ queueName: 'parked', workflowName: 'greet' })).workflowID, { name: 'enqueueInStep' }),
  { name: 'stepEnqueuer' },
);

const db = launchedDatabase('dbosn_queues_enqueue', { name: 'qenq-app', applicationVersion: 'v1' });

/** A registered queue: `parked` never dispatches (concurrency 0), `served` does, `parts` is partitioned and parked. */
async function addQueue(name: string, concurrency: number | null, partitioned = false): Promise<void> {
  await query(
    db.url,
    `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled, partition_queue, partition_concurrency)
     VALUES ($1, $2, 1, true, $3, $4)`,
    [name, concurrency, partitioned, partitioned ? 1 : null],
  );
}

async function count(): Promise<number> {
  const rows = await query<{ n: string }>(db.url, 'SELECT count(*)::text AS n FROM dbos.workflow_status');
  return Number(rows[0]?.n);
}

async function withClients<T>(f: (ours: DBOSClient, sdk: SdkClient) => Promise<T>): Promise<T> {
  const ours = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'qenq-app' });
  const sdk = await SdkClient.create({ systemDatabaseUrl: db.url, applicationName: 'qenq-app' });
  try {
    return await f(ours, sdk);
  } finally {
    await ours.destroy();
    await sdk.destroy();
  }
}

/** The columns an enqueue writes that do not differ by ID, token or clock. */
const COMPARED = [
  'status', 'name', 'class_name', 'config_name', 'queue_name', 'authenticated_user', 'assumed_role', 'authenticated_roles',
  'executor_id', 'application_version', 'application_id', 'recovery_attempts', 'workflow_timeout_ms', 'workflow_deadline_epoch_ms',
  'inputs', 'priority', 'queue_partition_key', 'forked_from', 'parent_workflow_id', 'serialization', 'attributes', 'schedule_name',
  'debounce_deadline_epoch_ms', 'is_debounced', 'application_name', 'owner_xid', 'started_at_epoch_ms', 'completed_at',
] as const;

async function compared(id: string): Promise<Record<string, unknown>> {
  const row = await statusRow(db.url, id);
  assert.ok(row, `row ${id}`);
  const input = await query<{ inputs: string }>(db.url, 'SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = $1', [id]);
  return { ...Object.fromEntries(COMPARED.map((c) => [c, row[c]])), input: input[0]?.inputs, dedup: row.deduplication_id !== null };
}

/** Our row and the SDK's for the same options agree column by column; the delay within a few seconds. */
async function sameRows(ours: string, sdk: string): Promise<void> {
  assert.deepEqual(await compared(ours), await compared(sdk));
  const delays = await query<{ d: string | null }>(db.url, 'SELECT delay_until_epoch_ms::text AS d FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) ORDER BY workflow_uuid', [[ours, sdk]]);
  const [a, b] = delays.map((r) => (r.d === null ? null : Number(r.d)));
  if (a === null || b === null) assert.equal(a, b);
  else assert.ok(Math.abs(a - b) < 10_000, `delays ${a} and ${b}`);
}

let queues: Promise<void> | undefined;
/** The file's queues, made once (at the first test: the database exists only after launch). */
function ensureQueues(): Promise<void> {
  queues ??= (async () => {
    await addQueue('parked', 0);
    await addQueue('served', null);
    await addQueue('parts', 0, true);
  })();
  return queues;
}

describe('DBOS.startWorkflow writes every enqueue option', () => {
  test('partition key, delay, application version and name, as the SDK writes them', async () => {
    await ensureQueues();
    await DBOS.startWorkflow(greet, { queueName: 'parked', workflowID: 'sw-plain' })('a', 1);
    const plain = await statusRow(db.url, 'sw-plain');
    assert.equal(plain?.status, 'ENQUEUED');
    assert.equal(plain?.queue_partition_key, null, 'unset is NULL, never empty');
    assert.equal(plain?.delay_until_epoch_ms, null);
    assert.equal(plain?.application_version, 'v1');
    assert.equal(plain?.application_name, 'qenq-app');

    const opts = { queuePartitionKey: 'k1', applicationVersion: 'v7', priority: 2, deduplicationID: 'sw-d' };
    await DBOS.startWorkflow(greet, { queueName: 'parked', workflowID: 'sw-all', enqueueOptions: opts })('a', 2);
    const all = await statusRow(db.url, 'sw-all');
    assert.equal(all?.queue_partition_key, 'k1');
    assert.equal(all?.application_version, 'v7');
    assert.equal(all?.priority, 2);

    const before = Date.now();
    await DBOS.startWorkflow(greet, { queueName: 'parked', workflowID: 'sw-delay', enqueueOptions: { delaySeconds: 30 } })('a', 3);
    const delayed = await statusRow(db.url, 'sw-delay');
    assert.equal(delayed?.status, 'DELAYED');
    assert.equal(delayed?.recovery_attempts, '0');
    const until = Number(delayed?.delay_until_epoch_ms);
    assert.ok(until >= before + 30_000 && until <= Date.now() + 30_000, `delay_until ${until}`);

    // Another application's row: its own latest version runs it unless one is named.
    await DBOS.startWorkflow(greet, { queueName: 'parked', workflowID: 'sw-other', enqueueOptions: { applicationName: 'other' } })('a', 4);
    const other = await statusRow(db.url, 'sw-other');
    assert.equal(other?.application_name, 'other');
    assert.equal(other?.application_version, null);
    await DBOS.startWorkflow(greet, { queueName: 'parked', workflowID: 'sw-other-v', enqueueOptions: { applicationName: 'other', applicationVersion: 'v3' } })('a', 5);
    assert.equal((await statusRow(db.url, 'sw-other-v'))?.application_version, 'v3');
  });

  test('applicationVersion without a queue stamps a direct start, as in the SDK', async () => {
    await ensureQueues();
    const handle = await DBOS.startWorkflow(greet, { enqueueOptions: { applicationVersion: 'v5' } })('d', 1);
    assert.equal(await handle.getResult(), 'hello d 1');
    assert.equal((await statusRow(db.url, handle.workflowID))?.application_version, 'v5');
  });
});

describe('DBOS.startWorkflow writes authenticatedUser, authenticatedRoles and workflowAttributes', () => {
  test('on a direct start and an enqueue; bad attributes are refused as the SDK refuses them', async () => {
    await ensureQueues();
    const auth = { authenticatedUser: 'ann', authenticatedRoles: ['admin', 'ops'], workflowAttributes: { tier: 'gold', n: 2 } };
    const direct = await DBOS.startWorkflow(greet, auth)('u', 1);
    assert.equal(await direct.getResult(), 'hello u 1');
    await DBOS.startWorkflow(greet, { ...auth, queueName: 'parked', workflowID: 'sw-auth' })('u', 2);
    for (const id of [direct.workflowID, 'sw-auth']) {
      const row = await statusRow(db.url, id);
      assert.equal(row?.authenticated_user, 'ann');
      assert.equal(row?.authenticated_roles, '["admin","ops"]');
      assert.deepEqual(row?.attributes, { tier: 'gold', n: 2 });
    }
    const n = await count();
    const workflowAttributes = ['x'] as unknown as Record<string, unknown>;
    await assert.rejects(DBOS.startWorkflow(greet, { workflowAttributes })('u', 3), /Invalid workflow attributes: must be a key-value object, got array\./);
    assert.equal(await count(), n);
  });
});

describe('DBOSClient.enqueue writes every option as the SDK client does', () => {
  test('all options, and none, compared with the official client', async () => {
    await ensureQueues();
    await withClients(async (ours, sdk) => {
      const all = {
        queueName: 'parked',
        workflowName: 'greet',
        workflowClassName: 'K',
        workflowConfigName: 'cfg',
        appVersion: 'v2',
        workflowTimeoutMS: 1500,
        priority: 4,
        queuePartitionKey: 'p',
        delaySeconds: 60,
        attributes: { team: 'a', n: 1 },
        authenticatedUser: 'u',
        authenticatedRoles: ['r1', 'r2'],
        applicationName: 'other',
      };
      await ours.enqueue({ ...all, workflowID: 'c-all-n', deduplicationID: 'n' }, 'x', 1);
      await sdk.enqueue({ ...all, workflowID: 'c-all-s', deduplicationID: 's' }, 'x', 1);
      await sameRows('c-all-n', 'c-all-s');
      assert.equal((await statusRow(db.url, 'c-all-n'))?.status, 'DELAYED');

      await ours.enqueue({ queueName: 'parked', workflowName: 'greet', workflowID: 'c-none-n' }, 'y', 2);
      await sdk.enqueue({ queueName: 'parked', workflowName: 'greet', workflowID: 'c-none-s' }, 'y', 2);
      await sameRows('c-none-n', 'c-none-s');

      await ours.enqueuePortable({ queueName: 'parked', workflowName: 'py_task', workflowID: 'c-port-n', queuePartitionKey: 'q' }, [1, 'b'], { kw: true });
      await sdk.enqueuePortable({ queueName: 'parked', workflowName: 'py_task', workflowID: 'c-port-s', queuePartitionKey: 'q' }, [1, 'b'], { kw: true });
      await sameRows('c-port-n', 'c-port-s');
    });
  });
});

describe('partitioned queues refuse an enqueue without a partition key (the SDK strands it)', () => {
  test('every way to enqueue is refused, naming the queue, and writes nothing', async () => {
    await ensureQueues();
    const refused = (e: unknown): boolean => e instanceof DBOSErrors.DBOSError && /Queue 'parts' is partitioned/.test((e as Error).message);
    const n = await count();
    await assert.rejects(DBOS.startWorkflow(greet, { queueName: 'parts' })('a', 1), refused);
    await assert.rejects(DBOS.enqueueWorkflowWithOptions({ queueName: 'parts', workflowName: 'greet' }, 'a', 1), refused);
    await withClients(async (ours) => {
      await assert.rejects(ours.enqueue({ queueName: 'parts', workflowName: 'greet', workflowID: 'pk-client' }), refused);
    });
    assert.equal(await count(), n, 'nothing written');

    // Concurrent starts share statements (the engine's group commit): only the keyless ones are refused.
    const keyless = new Set([2, 7, 11]);
    const starts = Array.from({ length: 12 }, (_, i) =>
      DBOS.startWorkflow(greet, { queueName: 'parts', workflowID: `pk-${i}`, enqueueOptions: keyless.has(i) ? undefined : { queuePartitionKey: `k${i}` } })('b', i),
    );
    const settled = await Promise.allSettled(starts);
    assert.deepEqual(
      settled.map((s) => s.status),
      settled.map((_, i) => (keyless.has(i) ? 'rejected' : 'fulfilled')),
    );
    const written = await query<{ id: string; key: string }>(db.url, `SELECT workflow_uuid AS id, queue_partition_key AS key FROM dbos.workflow_status WHERE workflow_uuid LIKE 'pk-%' ORDER BY 1`);
    assert.equal(written.length, 9);
    for (const r of written) assert.equal(r.key, `k${r.id.slice(3)}`);

    // A child refused: its parent fails with the refusal, and records no step for it.
    const parent = await DBOS.startWorkflow(keylessParent, { workflowID: 'pk-parent' })();
    await assert.rejects(parent.getResult(), refused);
    assert.deepEqual(await steps(db.url, 'pk-parent'), []);
    assert.equal(await statusRow(db.url, 'pk-parent-0'), undefined);
  });
});

describe('an enqueue onto an unregistered queue is accepted, with one warning per queue name', () => {
  const warnings: string[] = [];
  const warn = console.warn;
  before(() => {
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  });
  after(() => {
    console.warn = warn;
  });

  test('two enqueues warn once; a registered queue does not warn', async () => {
    await ensureQueues();
    await DBOS.startWorkflow(greet, { queueName: 'ghost', workflowID: 'ghost-1' })('g', 1);
    await withClients(async (ours) => {
      await ours.enqueue({ queueName: 'ghost', workflowName: 'greet', workflowID: 'ghost-2' }, 'g', 2);
    });
    await DBOS.startWorkflow(greet, { queueName: 'parked', workflowID: 'ghost-3' })('g', 3);
    assert.equal((await statusRow(db.url, 'ghost-1'))?.status, 'ENQUEUED', 'accepted, as the SDK accepts it');
    assert.equal((await statusRow(db.url, 'ghost-2'))?.status, 'ENQUEUED');
    const about = warnings.filter((w) => w.includes("'ghost'"));
    assert.equal(about.length, 1, `warnings: ${JSON.stringify(warnings)}`);
    assert.match(about[0] ?? '', /not registered/);
    assert.equal(warnings.filter((w) => w.includes("'parked'")).length, 0);
  });

  test('listQueuedWorkflows (DBOS and DBOSClient) shows the rows of a queue not in dbos.queues', async () => {
    await ensureQueues();
    await DBOS.startWorkflow(greet, { queueName: 'ghost-list', workflowID: 'ghost-l1' })('g', 1);
    await withClients(async (ours) => {
      await ours.enqueue({ queueName: 'ghost-list', workflowName: 'greet', workflowID: 'ghost-l2' }, 'g', 2);
      const registered = await query(db.url, "SELECT 1 FROM dbos.queues WHERE name = 'ghost-list'");
      assert.equal(registered.length, 0, 'the queue is not registered');
      const ids = (ws: { workflowID: string }[]) => ws.map((w) => w.workflowID).filter((id) => id.startsWith('ghost-l')).sort();
      const expected = ['ghost-l1', 'ghost-l2'];
      assert.deepEqual(ids(await DBOS.listQueuedWorkflows({ queueName: 'ghost-list' })), expected);
      assert.deepEqual(ids(await ours.listQueuedWorkflows({ queueName: 'ghost-list' })), expected);
      // Unfiltered too: a listing of what waits does not leave such rows out.
      assert.deepEqual(ids(await DBOS.listQueuedWorkflows({})), expected);
      assert.deepEqual(ids(await ours.listQueuedWorkflows({})), expected);
      const row = (await ours.listQueuedWorkflows({ workflowIDs: ['ghost-l2'] }))[0];
      assert.deepEqual([row?.status, row?.queueName], ['ENQUEUED', 'ghost-list']);
    });
  });
});

describe('DBOS.enqueueWorkflowWithOptions', () => {
  test('by name: the client row, owned by this application, no version unless given', async () => {
    await ensureQueues();
    await withClients(async (_ours, sdk) => {
      const opts = { queueName: 'parked', workflowName: 'elsewhere', workflowClassName: 'Remote', queuePartitionKey: 'z', priority: 1 };
      const handle = await DBOS.enqueueWorkflowWithOptions({ ...opts, workflowID: 'bn-n' }, 'e', 1);
      assert.equal(handle.workflowID, 'bn-n');
      await sdk.enqueue({ ...opts, workflowID: 'bn-s' }, 'e', 1);
      await sameRows('bn-n', 'bn-s');
      const row = await statusRow(db.url, 'bn-n');
      assert.equal(row?.executor_id, '');
      assert.equal(row?.application_version, null);
      assert.equal(row?.application_name, 'qenq-app');
    });
    await DBOS.enqueueWorkflowWithOptions({ queueName: 'parked', workflowName: 'greet', workflowID: 'bn-v', appVersion: 'v1' });
    assert.equal((await statusRow(db.url, 'bn-v'))?.application_version, 'v1');
  });

  test('runs on a served queue; portable arguments; the ambient timeout is inherited', async () => {
    await ensureQueues();
    const handle = await DBOS.enqueueWorkflowWithOptions<string>({ queueName: 'served', workflowName: 'greet', appVersion: 'v1' }, 'r', 1);
    assert.equal(await handle.getResult(), 'hello r 1');
    const portable = await DBOS.enqueueWorkflowWithOptionsPortable<string>({ queueName: 'served', workflowName: 'greet', appVersion: 'v1' }, ['p', 2]);
    assert.equal(await portable.getResult(), 'hello p 2');
    assert.equal((await statusRow(db.url, portable.workflowID))?.serialization, 'portable_json');
    await DBOS.withWorkflowTimeout(45_000, () => DBOS.enqueueWorkflowWithOptions({ queueName: 'parked', workflowName: 'greet', workflowID: 'bn-t' }));
    const timed = await statusRow(db.url, 'bn-t');
    assert.equal(timed?.workflow_timeout_ms, '45000');
    assert.equal(timed?.workflow_deadline_epoch_ms, null, 'the timeout starts at dequeue');
  });

  test('bad options and a call from a step reject and write nothing', async () => {
    await ensureQueues();
    const n = await count();
    await assert.rejects(DBOS.enqueueWorkflowWithOptions({ queueName: 'parked', workflowName: 'greet', priority: -1 }), DBOSErrors.DBOSInvalidQueuePriorityError);
    const nameless = { queueName: 'parked' } as unknown as { queueName: string; workflowName: string };
    await assert.rejects(DBOS.enqueueWorkflowWithOptions(nameless), /Invalid workflowName/);
    const fromStep = await DBOS.startWorkflow(stepEnqueuer, { workflowID: 'bn-step' })();
    await assert.rejects(fromStep.getResult(), DBOSErrors.DBOSInvalidWorkflowTransitionError);
    assert.equal(await count(), n + 1, 'only the workflow that called from its step');
  });

  test('in a workflow: a child step, replayed as recorded (the handle and the refusal)', async () => {
    await ensureQueues();
    await DBOS.startWorkflow(byNameParent, { workflowID: 'bn-parent' })();
    await waitFor('both enqueues recorded', async () => (await steps(db.url, 'bn-parent')).length >= 2);
    const [first, second] = await steps(db.url, 'bn-parent');
    assert.equal(first?.child_workflow_id, 'bn-parent-0');
    assert.ok(second?.error, 'the collision is recorded as the step error');
    const child = await statusRow(db.url, 'bn-parent-0');
    assert.equal(child?.parent_workflow_id, 'bn-parent');
    assert.equal(child?.executor_id, '');
    assert.equal(child?.application_version, null);

    // Free the deduplication ID; the replay must still see the collision it recorded, and make no new child.
    await query(db.url, `UPDATE dbos.workflow_status SET deduplication_id = NULL WHERE workflow_uuid = 'bn-parent-0'`);
    await DBOS.cancelWorkflow('bn-parent');
    const resumed = await DBOS.resumeWorkflow<string>('bn-parent');
    await DBOS.send('bn-parent', 'now', 'go');
    assert.equal(await resumed.getResult(), 'bn-parent-0 DBOSQueueDuplicatedError');
    assert.equal(await statusRow(db.url, 'bn-parent-1'), undefined);
    const children = await query(db.url, `SELECT 1 FROM dbos.workflow_status WHERE parent_workflow_id = 'bn-parent'`);
    assert.equal(children.length, 1);
  });
});

describe('DBOSClient.enqueueInTransaction', () => {
  async function withPg<T>(f: (pg: Client) => Promise<T>): Promise<T> {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      return await f(pg);
    } finally {
      await pg.end();
    }
  }

  test('commit: the row exists (as the SDK writes it) and runs; rollback: nothing', async () => {
    await ensureQueues();
    await withClients(async (ours, sdk) => {
      const handle = await withPg(async (pg) => {
        await pg.query('BEGIN');
        const h = await ours.enqueueInTransaction(pg, { queueName: 'served', workflowName: 'greet', workflowID: 'tx-1', appVersion: 'v1' }, 't', 1);
        assert.equal(await statusRow(db.url, 'tx-1'), undefined, 'not visible before commit');
        await pg.query('COMMIT');
        return h;
      });
      assert.equal(await handle.getResult(), 'hello t 1');

      // The dispatchers' channel hears of a committed enqueue, and of a rolled-back one never.
      const heard: string[] = [];
      await withPg(async (listener) => {
        listener.on('notification', (n) => void heard.push(n.payload ?? ''));
        await listener.query('LISTEN dbos_native_queues_channel');
        await withPg(async (pg) => {
          await pg.query('BEGIN');
          await ours.enqueueInTransaction(pg, { queueName: 'parked', workflowName: 'greet', workflowID: 'tx-rb' }, 'r', 0);
          await pg.query('ROLLBACK');
          await pg.query('BEGIN');
          await ours.enqueueInTransaction(pg, { queueName: 'parked', workflowName: 'greet', workflowID: 'tx-heard' }, 'h', 0);
          await pg.query('COMMIT');
        });
        await waitFor('the commit notified', async () => heard.includes('parked'));
      });
      assert.deepEqual(heard, ['parked']);
      assert.equal(await statusRow(db.url, 'tx-rb'), undefined);

      const opts = { queueName: 'parked', workflowName: 'greet', queuePartitionKey: 'p', delaySeconds: 5, attributes: { a: 1 }, priority: 3 };
      await withPg(async (pg) => {
        await pg.query('BEGIN');
        await ours.enqueuePortableInTransaction(pg, { ...opts, workflowID: 'tx-n' }, ['x'], { y: 1 });
        await sdk.enqueuePortableInTransaction(pg, { ...opts, workflowID: 'tx-s' }, ['x'], { y: 1 });
        await pg.query('COMMIT');
      });
      await sameRows('tx-n', 'tx-s');
    });
  });

  test("refusals: 'return-existing', a partitioned queue without a key, a deduplication collision (as the SDK)", async () => {
    await ensureQueues();
    await withClients(async (ours, sdk) => {
      const n = await count();
      await withPg(async (pg) => {
        await pg.query('BEGIN');
        const dup = { queueName: 'parked', workflowName: 'greet', deduplicationID: 'tx-dup' };
        await assert.rejects(
          ours.enqueueInTransaction(pg, { ...dup, duplicationPolicy: 'return-existing' }),
          (e: unknown) => e instanceof DBOSErrors.DBOSError && /not supported in a caller-owned transaction/.test((e as Error).message),
        );
        await assert.rejects(ours.enqueueInTransaction(pg, { queueName: 'parts', workflowName: 'greet' }), /Queue 'parts' is partitioned/);
        // Neither refusal broke the caller's transaction.
        await ours.enqueueInTransaction(pg, { ...dup, workflowID: 'tx-dup-1' });
        await assert.rejects(ours.enqueueInTransaction(pg, { ...dup, workflowID: 'tx-dup-2' }), DBOSErrors.DBOSQueueDuplicatedError);
        // As with the SDK, the collision aborts the caller's transaction.
        await assert.rejects(pg.query('SELECT 1'), /current transaction is aborted/);
        await pg.query('ROLLBACK');
      });
      await withPg(async (pg) => {
        await pg.query('BEGIN');
        const dup = { queueName: 'parked', workflowName: 'greet', deduplicationID: 'tx-dup-s' };
        await sdk.enqueueInTransaction(pg, { ...dup, workflowID: 'tx-dup-s1' });
        await assert.rejects(sdk.enqueueInTransaction(pg, { ...dup, workflowID: 'tx-dup-s2' }), (e: Error) => e.name === 'DBOSQueueDuplicatedError');
        await assert.rejects(pg.query('SELECT 1'), /current transaction is aborted/);
        await pg.query('ROLLBACK');
      });
      assert.equal(await count(), n, 'nothing written');
    });
  });
});
