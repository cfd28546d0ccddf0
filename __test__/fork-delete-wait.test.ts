// forkWorkflow, deleteWorkflow(s), waitFirst/waitAll on DBOS and DBOSClient against a real Postgres: a fork
// writes exactly the rows the official SDK's fork writes (compared row by row on one database, the forks held on
// a queue that never runs), runs from its start step replaying what came before; deletes remove every row of the
// workflows (and descendants when asked); waits wake on completions, not on their polling interval.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { killAll, spawnApp } from './helpers/child';
import { freshDatabase, query } from './helpers/db';

/** The `dbos` bin of the installed SDK (as in cli-interop.test.ts). */
const sdkRoot = path.resolve(path.dirname(require.resolve('@dbos-inc/dbos-sdk')), '..', '..');
const cli = path.join(sdkRoot, (JSON.parse(readFileSync(path.join(sdkRoot, 'package.json'), 'utf8')) as { bin: { dbos: string } }).bin.dbos);

const runs: Record<string, number> = {};
const bump = (k: string): void => void (runs[k] = (runs[k] ?? 0) + 1);

const kid = DBOS.registerWorkflow(async (s: string) => `kid ${s}`, { name: 'forkKid' });
const forkable = DBOS.registerWorkflow(
  async (tag: string): Promise<string> => {
    const a = await DBOS.runStep(async () => (bump(`a:${DBOS.workflowID}`), `a-${tag}`), { name: 'a' });
    await DBOS.setEvent('e', 1);
    await DBOS.writeStream('s', 'x');
    const k = await (await DBOS.startWorkflow(kid, { workflowID: `${DBOS.workflowID}-kid` })(tag)).getResult();
    const b = await DBOS.runStep(async () => (bump(`b:${DBOS.workflowID}`), `b-${tag}`), { name: 'b' });
    await DBOS.setEvent('e', 2);
    await DBOS.writeStream('s', 'y');
    return `${a}/${k}/${b}`;
  },
  { name: 'forkable' },
);
const parent = DBOS.registerWorkflow(
  async (id: string) => (await DBOS.startWorkflow(kid, { workflowID: `${id}-child` })('p')).getResult(),
  { name: 'deleteParent' },
);
const waiter = DBOS.registerWorkflow(async (topic: string) => DBOS.recv<string>(topic, 60), { name: 'waitRecv' });

let url = '';
let client: DBOSClient;
let official: OfficialClient;
/** The function ID of step b in `orig`: forks start there, so a, the events/stream writes before it and the child are copied. */
let bStep = -1;

before(async () => {
  url = await freshDatabase('dbosn_fork_delete');
  DBOS.setConfig({ name: 'fork-app', systemDatabaseUrl: url, applicationVersion: 'v1' });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: 'fork-app' });
  official = await OfficialClient.create({ systemDatabaseUrl: url, applicationName: 'fork-app' });
  await query(url, `INSERT INTO dbos.queues (name, concurrency, polling_interval_sec, priority_enabled) VALUES ('held', 0, 1, false)`);
  assert.equal(await (await DBOS.startWorkflow(forkable, { workflowID: 'orig' })('t')).getResult(), 'a-t/kid t/b-t');
  bStep = (await DBOS.listWorkflowSteps('orig'))?.find((s) => s.name === 'b')?.functionID ?? -1;
  assert.ok(bStep > 0);
});

after(async () => {
  await killAll();
  await client.destroy();
  await official.destroy();
  await DBOS.shutdown();
});

/** Every row a fork wrote, with the fork's ID and the columns that differ by construction blanked. */
async function forkRows(id: string): Promise<unknown> {
  const strip = <T extends Record<string, unknown>>(rows: T[], ...cols: string[]) =>
    rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !cols.includes(k))));
  const q = (sql: string) => query(url, sql, [id]);
  return {
    status: strip(await q('SELECT * FROM dbos.workflow_status WHERE workflow_uuid = $1'), 'workflow_uuid', 'created_at', 'updated_at'),
    input: strip(await q('SELECT * FROM dbos.workflow_input WHERE workflow_uuid = $1'), 'workflow_uuid', 'retention_timestamp'),
    steps: strip(await q('SELECT * FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id'), 'workflow_uuid', 'retention_timestamp'),
    streams: strip(await q('SELECT * FROM dbos.streams WHERE workflow_uuid = $1 ORDER BY key, "offset"'), 'workflow_uuid'),
    history: strip(await q('SELECT * FROM dbos.workflow_events_history WHERE workflow_uuid = $1 ORDER BY function_id, key'), 'workflow_uuid'),
    events: strip(await q('SELECT * FROM dbos.workflow_events WHERE workflow_uuid = $1 ORDER BY key'), 'workflow_uuid'),
  };
}

describe('forkWorkflow', () => {
  test('writes exactly the rows the official SDK’s fork writes (every option)', async () => {
    const options = { applicationVersion: 'v9', timeoutMS: 5000, queueName: 'held', queuePartitionKey: 'pk', replacementChildren: { 'orig-kid': 'other-kid' } };
    const h = await DBOS.forkWorkflow('orig', bStep, { ...options, newWorkflowID: 'ours-held' });
    assert.equal(h.workflowID, 'ours-held');
    assert.equal(await client.forkWorkflow('orig', bStep, { ...options, newWorkflowID: 'client-held' }), 'client-held');
    await official.forkWorkflow('orig', bStep, { ...options, newWorkflowID: 'sdk-held' });
    const theirs = await forkRows('sdk-held');
    assert.equal((theirs as { steps: unknown[] }).steps.length, bStep);
    assert.deepEqual(await forkRows('ours-held'), theirs);
    assert.deepEqual(await forkRows('client-held'), theirs);
    // Without options, and from step 0 (nothing copied) and past the end (everything copied).
    for (const step of [0, bStep, 99]) {
      await official.forkWorkflow('orig', step, { newWorkflowID: `sdk-plain-${step}`, queueName: 'held' });
      await client.forkWorkflow('orig', step, { newWorkflowID: `ours-plain-${step}`, queueName: 'held' });
      assert.deepEqual(await forkRows(`ours-plain-${step}`), await forkRows(`sdk-plain-${step}`), `step ${step}`);
    }
    // Every WorkflowStatus field of a fork (forkedFrom, partition key, timeout, version...) as the SDK shows it.
    for (const id of ['ours-held', 'sdk-held', 'orig']) {
      assert.deepEqual(await DBOS.getWorkflowStatus(id), { ...(await official.getWorkflow(id)) }, id);
      assert.deepEqual(await client.getWorkflow(id), { ...(await official.getWorkflow(id)) }, id);
    }
    assert.equal((await DBOS.getWorkflowStatus('orig'))?.wasForkedFrom, true);
    assert.equal((await DBOS.getWorkflowStatus('ours-held'))?.forkedFrom, 'orig');
  });

  test('a fork runs here from its start step, replaying the steps before it', async () => {
    const h = await DBOS.forkWorkflow<string>('orig', bStep, { newWorkflowID: 'ours-run' });
    assert.equal(await h.getResult(), 'a-t/kid t/b-t');
    assert.equal(runs['a:ours-run'], undefined, 'step a was copied, not run');
    assert.equal(runs['b:ours-run'], 1, 'step b ran again');
    assert.deepEqual(await DBOS.getEvent('ours-run', 'e', 0), 2);
    // The client's fork of an unforked workflow gets a fresh ID; this process runs it from the start.
    const id = await client.forkWorkflow('orig', 0);
    assert.notEqual(id, 'orig');
    assert.equal(await client.retrieveWorkflow<string>(id).getResult(), 'a-t/kid t/b-t');
    assert.equal(runs[`a:${id}`], 1);
  });

  test('the official CLI’s `dbos workflow fork` runs here', async () => {
    const app = spawnApp(cli, {}, 'dbos workflow fork', { args: ['workflow', 'fork', 'orig', '-S', String(bStep), '-f', 'cli-run', '-s', url], cwd: tmpdir() });
    assert.equal(await app.exited, 0, app.stderr());
    // It ENQUEUEs on the internal queue, which this process serves.
    assert.equal(await DBOS.retrieveWorkflow<string>('cli-run').getResult(), 'a-t/kid t/b-t');
    assert.equal(runs['a:cli-run'], undefined);
    assert.equal(runs['b:cli-run'], 1);
  });

  test('bad input rejects with a typed error and writes nothing', async () => {
    const count = async () => (await query<{ n: string }>(url, 'SELECT count(*) AS n FROM dbos.workflow_status'))[0].n;
    const before = await count();
    await assert.rejects(DBOS.forkWorkflow('nope', 0), E.DBOSNonExistentWorkflowError);
    await assert.rejects(client.forkWorkflow('nope', 0), E.DBOSNonExistentWorkflowError);
    await assert.rejects(DBOS.forkWorkflow('orig', 1, { newWorkflowID: 'ours-held' }), {
      name: 'DBOSWorkflowIDInUseError',
      message: 'Workflow ID ours-held is already in use by workflow forkable with status ENQUEUED.',
    });
    await assert.rejects(client.forkWorkflow('orig', 1, { newWorkflowID: 'orig' }), E.DBOSWorkflowIDInUseError);
    for (const [step, options] of [
      [1.5, {}],
      ['1', {}],
      [1, { newWorkflowID: 5 }],
      [1, { timeoutMS: 'soon' }],
      [1, { replacementChildren: { a: 1 } }],
      [1, 'opts'],
    ] as const) {
      const p = DBOS.forkWorkflow('orig', step as number, options as object);
      assert.ok(p instanceof Promise);
      await assert.rejects(p, E.DBOSError, JSON.stringify([step, options]));
      await assert.rejects(client.forkWorkflow('orig', step as number, options as object), E.DBOSError);
    }
    assert.equal(await count(), before);
  });
});

describe('deleteWorkflow(s)', () => {
  const rowsOf = async (ids: string[]) => {
    const tables = ['workflow_status', 'workflow_input', 'workflow_output', 'operation_outputs', 'workflow_events', 'workflow_events_history', 'streams'];
    let n = 0;
    for (const t of tables) n += Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM dbos.${t} WHERE workflow_uuid = ANY($1)`, [ids]))[0].n);
    return n;
  };

  test('deletes every row of the workflows; children only when asked', async () => {
    for (const id of ['del-1', 'del-2']) await (await DBOS.startWorkflow(parent, { workflowID: id })(id)).getResult();
    await (await DBOS.startWorkflow(forkable, { workflowID: 'del-3' })('d')).getResult();
    assert.ok((await rowsOf(['del-3'])) > 5);
    await DBOS.deleteWorkflow('del-1');
    assert.equal(await DBOS.getWorkflowStatus('del-1'), null);
    assert.notEqual(await DBOS.getWorkflowStatus('del-1-child'), null, 'the child stays');
    await client.deleteWorkflows(['del-2', 'del-3', 'unknown'], true);
    assert.equal(await rowsOf(['del-1', 'del-2', 'del-2-child', 'del-3', 'del-3-kid']), 0);
    await DBOS.deleteWorkflows(['del-1-child']);
    assert.equal(await rowsOf(['del-1-child']), 0);
  });

  test('bad input rejects and deletes nothing', async () => {
    for (const call of [() => DBOS.deleteWorkflows('orig' as unknown as string[]), () => client.deleteWorkflow('orig', 'yes' as unknown as boolean), () => DBOS.deleteWorkflow(7 as unknown as string)]) {
      const p = call();
      assert.ok(p instanceof Promise);
      await assert.rejects(p, E.DBOSError);
    }
    assert.notEqual(await DBOS.getWorkflowStatus('orig'), null);
  });
});

describe('waitFirst / waitAll', () => {
  // A 10-minute polling interval: only a completion's signal can end these waits within the test's timeout.
  const slow = { pollingIntervalMs: 600_000 };

  test('DBOS.waitFirst returns the first to finish, woken by a local run ending', { timeout: 30_000 }, async () => {
    const a = await DBOS.startWorkflow(waiter, { workflowID: 'wait-a' })('go');
    const b = await DBOS.startWorkflow(waiter, { workflowID: 'wait-b' })('go');
    const first = DBOS.waitFirst([a, b], slow);
    await DBOS.send('wait-b', 'now', 'go');
    assert.equal((await first).workflowID, 'wait-b');
    const all = DBOS.waitAll([a, b], slow);
    await DBOS.send('wait-a', 'now', 'go');
    assert.deepEqual((await all).map((h) => h.workflowID), ['wait-a', 'wait-b']);
  });

  test('the client’s waits are woken by queued completions', { timeout: 30_000 }, async () => {
    const a = await client.enqueue({ queueName: '_dbos_internal_queue', workflowName: 'waitRecv', workflowID: 'cwait-a' }, 'go');
    const b = await client.enqueue({ queueName: '_dbos_internal_queue', workflowName: 'waitRecv', workflowID: 'cwait-b' }, 'go');
    const first = client.waitFirst([a, b], slow);
    await client.send('cwait-a', 'now', 'go');
    assert.equal((await first).workflowID, 'cwait-a');
    const all = client.waitAll([b, a], slow);
    await client.send('cwait-b', 'now', 'go');
    assert.deepEqual((await all).map((h) => h.workflowID), ['cwait-b', 'cwait-a']);
  });

  test('bad input rejects as the SDK does', async () => {
    const h = DBOS.retrieveWorkflow('orig');
    await assert.rejects(DBOS.waitFirst([]), /handles must not be empty/);
    await assert.rejects(client.waitFirst([h, h]), /Duplicate workflow ID in waitFirst: orig/);
    await assert.rejects(DBOS.waitAll([h], { pollingIntervalMs: 0 }), /pollingIntervalMs must be a positive finite number/);
    assert.deepEqual(await client.waitAll([]), []);
    assert.equal((await DBOS.waitAll([h, h])).length, 2);
  });
});
