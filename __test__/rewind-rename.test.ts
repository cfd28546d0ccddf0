// rewindWorkflow (DBOS and DBOSClient) and DBOSClient.renameApplication against a real Postgres: a rewind leaves
// exactly the rows the official SDK's rewind leaves (compared row by row on one database, three identical workflows
// rewound by us, our client and the SDK's client onto a queue that never runs), then replays in place from its start
// step; a rename moves exactly the rows the SDK's moves and reports the same counts. Bad input: the SDK's errors,
// as rejected promises, nothing written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

const runs: Record<string, number> = {};
const bump = (k: string): void => void (runs[k] = (runs[k] ?? 0) + 1);

/** Every kind of history a rewind treats: steps, events (re-published past the cut), a stream closed past the cut, a message consumed before it. */
const rewindable = DBOS.registerWorkflow(
  async (tag: string): Promise<string> => {
    const a = await DBOS.runStep(async () => (bump(`a:${DBOS.workflowID}`), `a-${tag}`), { name: 'a' });
    await DBOS.setEvent('e', 1);
    await DBOS.writeStream('s', 'x');
    const m = await DBOS.recv<string>('t', 30);
    const b = await DBOS.runStep(async () => (bump(`b:${DBOS.workflowID}`), `b-${tag}`), { name: 'b' });
    await DBOS.setEvent('e', 2);
    await DBOS.setEvent('f', 3);
    await DBOS.writeStream('s', 'y');
    await DBOS.closeStream('s');
    return `${a}/${m}/${b}`;
  },
  { name: 'rewindable' },
);
const blocked = DBOS.registerWorkflow(async () => DBOS.recv<string>('never', 60), { name: 'rewindBlocked' });

let url = '';
let client: DBOSClient;
let official: OfficialClient;
/** The function ID of step b: rewinds cut there, so a, the first event and stream value and the recv survive. */
let bStep = -1;

/** Runs `rewindable` to completion as `id`, with one message consumed and one left unread. */
async function runOne(id: string): Promise<void> {
  const h = await DBOS.startWorkflow(rewindable, { workflowID: id })('t');
  await DBOS.send(id, 'hi', 't');
  assert.equal(await h.getResult(), 'a-t/hi/b-t');
  await DBOS.send(id, 'unread', 'u');
}

before(async () => {
  url = await freshDatabase('dbosn_rewind');
  DBOS.setConfig({ name: 'rewind-app', systemDatabaseUrl: url, applicationVersion: 'v1' });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: 'rewind-app' });
  official = await OfficialClient.create({ systemDatabaseUrl: url, applicationName: 'rewind-app' });
  await query(url, `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) VALUES ('held', 0, 1, false)`);
  for (const id of ['rw-ours', 'rw-client', 'rw-sdk', 'rw-plain-ours', 'rw-plain-sdk', 'rw-run', 'rw-run-client']) await runOne(id);
  bStep = (await DBOS.listWorkflowSteps('rw-ours'))?.find((s) => s.name === 'b')?.functionID ?? -1;
  assert.ok(bStep > 0);
});

after(async () => {
  await client.destroy();
  await official.destroy();
  await DBOS.shutdown();
});

/** Every row of the workflow, without its ID and the columns that differ by construction (times, message IDs). */
async function rowsOf(id: string): Promise<unknown> {
  const strip = (rows: Record<string, unknown>[], ...cols: string[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !cols.includes(k))));
  const q = (sql: string) => query(url, sql, [id]);
  const times = ['workflow_uuid', 'created_at', 'updated_at', 'started_at_epoch_ms', 'completed_at_epoch_ms', 'retention_timestamp', 'creator_xid'];
  // A recv's timeout is recorded as its wake-up time (a DBOS.sleep row), different in each run.
  const steps = (await q('SELECT * FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id')).map((r) => (r.function_name === 'DBOS.sleep' ? { ...r, output: 'time' } : r));
  return {
    status: strip(await q('SELECT * FROM dbos.workflow_status WHERE workflow_uuid = $1'), ...times),
    input: strip(await q('SELECT * FROM dbos.workflow_input WHERE workflow_uuid = $1'), ...times),
    output: strip(await q('SELECT * FROM dbos.workflow_output WHERE workflow_uuid = $1'), ...times),
    steps: strip(steps, ...times),
    streams: strip(await q('SELECT * FROM dbos.streams WHERE workflow_uuid = $1 ORDER BY key, "offset"'), ...times),
    history: strip(await q('SELECT * FROM dbos.workflow_events_history WHERE workflow_uuid = $1 ORDER BY function_id, key'), ...times),
    events: strip(await q('SELECT * FROM dbos.workflow_events WHERE workflow_uuid = $1 ORDER BY key'), ...times),
    messages: strip(await q('SELECT * FROM dbos.notifications WHERE destination_uuid = $1 ORDER BY topic'), 'destination_uuid', 'message_uuid', 'created_at_epoch_ms'),
  };
}

describe('rewindWorkflow', () => {
  test('leaves exactly the rows the official SDK’s rewind leaves (every option, and none)', async () => {
    const options = { startStep: bStep, applicationVersion: 'v9', queueName: 'held', queuePartitionKey: 'pk' };
    const before = (await rowsOf('rw-ours')) as { steps: unknown[]; messages: unknown[] };
    const h = await DBOS.rewindWorkflow('rw-ours', options);
    assert.equal(h.workflowID, 'rw-ours');
    assert.equal((await client.rewindWorkflow('rw-client', options)).workflowID, 'rw-client');
    await official.rewindWorkflow('rw-sdk', options);
    const theirs = (await rowsOf('rw-sdk')) as { steps: unknown[]; events: unknown[]; messages: unknown[] };
    // Not vacuous: the SDK dropped steps, an event and the unread message.
    assert.equal(theirs.steps.length, bStep);
    assert.ok(theirs.steps.length < before.steps.length && theirs.messages.length < before.messages.length);
    assert.deepEqual(await rowsOf('rw-ours'), theirs);
    assert.deepEqual(await rowsOf('rw-client'), theirs);
    // Without a start step: from step 0, the whole history.
    await official.rewindWorkflow('rw-plain-sdk', { queueName: 'held' });
    await client.rewindWorkflow('rw-plain-ours', { queueName: 'held' });
    assert.deepEqual(await rowsOf('rw-plain-ours'), await rowsOf('rw-plain-sdk'));
    for (const id of ['rw-ours', 'rw-sdk']) assert.deepEqual(await client.getWorkflow(id), { ...(await official.getWorkflow(id)) }, id);
  });

  test('a rewound workflow replays here in place from its start step', async () => {
    const h = await DBOS.rewindWorkflow<string>('rw-run', { startStep: bStep });
    assert.equal(await h.getResult(), 'a-t/hi/b-t');
    assert.equal(runs['a:rw-run'], 1, 'step a replayed, not run again');
    assert.equal(runs['b:rw-run'], 2, 'step b ran again');
    assert.equal(await DBOS.getEvent('rw-run', 'f', 0), 3);
    const values: unknown[] = [];
    for await (const v of DBOS.readStream('rw-run', 's')) values.push(v);
    assert.deepEqual(values, ['x', 'y', 'y'], 'values past the cut stay; the replay appends after them');
    // The client's rewind, run by this process (the internal queue).
    assert.equal(await (await client.rewindWorkflow<string>('rw-run-client', { startStep: bStep })).getResult(), 'a-t/hi/b-t');
    assert.equal(runs['b:rw-run-client'], 2);
  });

  test('bad input and live workflows reject with the SDK’s errors and write nothing', async () => {
    const live = await DBOS.startWorkflow(blocked, { workflowID: 'rw-live' })();
    const held = await official.enqueue({ workflowName: 'rewindBlocked', queueName: 'held', workflowID: 'rw-held' });
    const snapshot = async () => [await rowsOf('rw-live'), await rowsOf('rw-held'), await rowsOf('rw-sdk')];
    const was = await snapshot();
    await assert.rejects(DBOS.rewindWorkflow('nope'), E.DBOSNonExistentWorkflowError);
    await assert.rejects(client.rewindWorkflow('nope'), E.DBOSNonExistentWorkflowError);
    for (const [id, status] of [['rw-live', 'PENDING'], ['rw-held', 'ENQUEUED'], ['rw-sdk', 'ENQUEUED']]) {
      const message = `Cannot rewind ${id} (${status}): only a workflow in a terminal state can be rewound, so cancel it first`;
      await assert.rejects(official.rewindWorkflow(id), { message });
      await assert.rejects(DBOS.rewindWorkflow(id), (e: unknown) => e instanceof E.DBOSError && e.message === message);
      await assert.rejects(client.rewindWorkflow(id), (e: unknown) => e instanceof E.DBOSError && e.message === message);
    }
    for (const [id, options] of [
      ['rw-run', { startStep: -1 }],
      ['rw-run', { startStep: 1.5 }],
      ['rw-run', { startStep: '1' }],
      ['rw-run', { queueName: 5 }],
      ['rw-run', { applicationVersion: 5 }],
      ['rw-run', 'opts'],
      [7, {}],
    ] as const) {
      const p = DBOS.rewindWorkflow(id as string, options as object);
      assert.ok(p instanceof Promise);
      await assert.rejects(p, E.DBOSError, JSON.stringify([id, options]));
      await assert.rejects(client.rewindWorkflow(id as string, options as object), E.DBOSError);
    }
    await assert.rejects(DBOS.rewindWorkflow('rw-run', { startStep: -1 }), { message: 'startStep must be >= 0, got -1' });
    assert.deepEqual(await snapshot(), was);
    assert.equal((await DBOS.getWorkflowStatus('rw-run'))?.status, 'SUCCESS');
    await DBOS.cancelWorkflow('rw-live');
    await live.getResult().catch(() => undefined);
    void held;
  });
});

describe('DBOSClient.renameApplication', () => {
  let renameUrl = '';
  let ours: DBOSClient;
  let theirs: OfficialClient;
  const TABLES = { queues: 'name', workflow_schedules: 'schedule_name', application_versions: 'version_name', workflow_status: 'workflow_uuid', operation_outputs: 'workflow_uuid, function_id' };

  before(async () => {
    renameUrl = await freshDatabase('dbosn_rename');
    await DBOS.migrate(renameUrl);
    ours = await DBOSClient.create({ systemDatabaseUrl: renameUrl });
    theirs = await OfficialClient.create({ systemDatabaseUrl: renameUrl });
  });

  after(async () => {
    await ours.destroy();
    await theirs.destroy();
  });

  /** Rows owned by 'ra', 'rb', nobody and 'other', in-flight and terminal, so batches of 2 and 3 take several rounds. */
  async function seed(): Promise<void> {
    const sql = [
      'TRUNCATE dbos.operation_outputs, dbos.workflow_status, dbos.queues, dbos.workflow_schedules, dbos.application_versions CASCADE',
      `INSERT INTO dbos.queues (name, application_name) VALUES ('q1', 'ra'), ('q2', 'rb'), ('q3', NULL)`,
      `INSERT INTO dbos.workflow_schedules (schedule_id, schedule_name, workflow_name, schedule, context, application_name)
         VALUES ('s1', 's1', 'w', '* * * * *', '{}', 'ra'), ('s2', 's2', 'w', '* * * * *', '{}', NULL)`,
      `INSERT INTO dbos.application_versions (version_id, version_name, application_name) VALUES ('1', 'v1', 'ra'), ('2', 'v2', NULL), ('3', 'v3', 'rb')`,
      `INSERT INTO dbos.workflow_status (workflow_uuid, status, name, application_name) VALUES
         ('w-pend', 'PENDING', 'w', 'ra'), ('w-enq', 'ENQUEUED', 'w', 'ra'), ('w-del', 'DELAYED', 'w', NULL), ('w-other', 'PENDING', 'w', 'other'),
         ('w-t1', 'SUCCESS', 'w', 'ra'), ('w-t2', 'ERROR', 'w', 'ra'), ('w-t3', 'SUCCESS', 'w', 'ra'), ('w-t4', 'CANCELLED', 'w', 'ra'),
         ('w-t5', 'SUCCESS', 'w', 'ra'), ('w-t6', 'SUCCESS', 'w', NULL), ('w-t7', 'SUCCESS', 'w', 'rb'), ('w-t8', 'SUCCESS', 'w', NULL)`,
      `INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, application_name)
         SELECT workflow_uuid, f, application_name FROM dbos.workflow_status, generate_series(0, 1) f WHERE workflow_uuid LIKE 'w-t%'`,
    ];
    for (const s of sql) await query(renameUrl, s);
  }

  async function owners(): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    for (const [table, key] of Object.entries(TABLES)) out[table] = await query(renameUrl, `SELECT ${key}, application_name FROM dbos.${table} ORDER BY ${key}`);
    return out;
  }

  test('moves exactly the rows the official SDK’s rename moves, with the same counts', async () => {
    const cases: [string | undefined, string, { batchSize?: number | null; adoptUnclaimedRows?: boolean } | undefined][] = [
      ['ra', 'rc', { batchSize: 2 }],
      ['ra', 'rc', { batchSize: null }],
      ['ra', 'rc', undefined],
      [undefined, 'rc', { adoptUnclaimedRows: true, batchSize: 3 }],
      ['ra', 'rb', { adoptUnclaimedRows: true, batchSize: 1 }],
    ];
    for (const [oldName, newName, options] of cases) {
      const what = JSON.stringify([oldName, newName, options]);
      await seed();
      const original = await owners();
      const sdkCounts = await theirs.renameApplication(oldName, newName, options);
      const sdkRows = await owners();
      assert.notDeepEqual(sdkRows, original, `${what}: the case moves rows`);
      await seed();
      assert.deepEqual(await ours.renameApplication(oldName, newName, options), sdkCounts, what);
      assert.deepEqual(await owners(), sdkRows, what);
    }
  });

  test('bad input rejects with the SDK’s message and moves nothing', async () => {
    await seed();
    const original = await owners();
    const bad: [unknown, unknown, unknown][] = [
      ['', 'x', undefined],
      [undefined, 'x', undefined],
      [undefined, 'x', { adoptUnclaimedRows: false }],
      ['ra', 'ra', undefined],
      ['ra', 'x', { batchSize: 0 }],
      ['ra', 'x', { batchSize: Number.NaN }],
      ['ra', 'x', { batchSize: 1.5 }],
      ['ra', 'x', { batchSize: -3 }],
    ];
    for (const [oldName, newName, options] of bad) {
      const what = JSON.stringify([oldName, newName, options]);
      const call = (c: DBOSClient | OfficialClient) => c.renameApplication(oldName as string, newName as string, options as { batchSize?: number });
      const sdkError = await call(theirs).then(
        () => assert.fail(`the SDK accepted ${what}`),
        (e: unknown) => e as Error,
      );
      const p = call(ours);
      assert.ok(p instanceof Promise);
      await assert.rejects(p, (e: unknown) => e instanceof E.DBOSError && e.message === sdkError.message, what);
    }
    // Beyond what the SDK's types allow (it would fail later, in SQL): a typed error up front.
    for (const [oldName, newName, options] of [[5, 'x', undefined], ['ra', 5, undefined], ['ra', 'x', { adoptUnclaimedRows: 'yes' }], ['ra', 'x', 'opts']]) {
      await assert.rejects(ours.renameApplication(oldName as string, newName as string, options as object), E.DBOSError);
    }
    assert.deepEqual(await owners(), original);
  });
});
