// Shutdown: DBOS.shutdown() while workflows wait in recv, getEvent, readStream and sleep returns at once
// and leaves them PENDING, and the next launch recovers and completes them (in this process and in a
// new one); every call after shutdown rejects cleanly (a TypeError, as in DBOS), never hangs; a process
// that shuts down (or destroys its DBOSClient) while waits are in progress then exits by itself, with
// none of its connections left in pg_stat_activity.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { DBOS, DBOSClient, Error as E, type WorkflowHandle } from 'dbos-native';
import { eventWaiter, hub, sleeper, streamWaiter } from './apps/waiters';
import { killAll, spawnApp, waitFor, type App } from './helpers/child';
import { freshDatabase, query, sleep, statusRow, steps, within } from './helpers/db';

const script = path.join(__dirname, 'apps', 'shutdown-app.js');
const EXECUTOR = 'shutdown-test';
const VERSION = 'shutdown-test-v1';
const OWN = [`dbos_native_${EXECUTOR}_${VERSION}`, `dbos_native_listener_${EXECUTOR}`];
const CLIENT = ['dbos_native_dbos-client_', 'dbos_native_listener_dbos-client'];
/** "Promptly": far below any poll interval or timeout involved (those are 10 s and more). */
const PROMPT_MS = 5000;

const echo = DBOS.registerWorkflow(async (x: unknown) => x, { name: 'shutdownEcho' });

let url = '';

before(async () => {
  url = await freshDatabase('dbosn_shutdown');
  DBOS.setConfig({ name: 'shutdown-test', systemDatabaseUrl: url, executorID: EXECUTOR, applicationVersion: VERSION });
});

after(async () => {
  await killAll();
  await DBOS.shutdown();
});

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The promise's outcome (handled at once, so an early rejection is not an unhandled one). */
function outcome(p: Promise<unknown>): Promise<Outcome> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

const settle = (p: Promise<unknown>, what: string): Promise<Outcome> => within(outcome(p), 3000, what);

async function connections(names: string[]): Promise<string[]> {
  const rows = await query<{ application_name: string }>(
    url,
    'SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY($1) ORDER BY 1',
    [names],
  );
  return rows.map((r) => r.application_name);
}

/** Connections go away when their backends notice the closed socket: allow a moment, then none may remain. */
async function noConnections(names: string[], what: string): Promise<void> {
  await waitFor(`${what}: no connection named ${names.join(' or ')}`, async () => (await connections(names)).length === 0, [], 3000);
}

async function statuses(ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => String((await statusRow(url, id))?.status)));
}

/** Waits until recv / getEvent have recorded their deadline (function 1) and the sleep its end (0). */
async function waiting(hubID: string, eventID: string, sleepID: string): Promise<void> {
  await waitFor('the workflows to wait', async () => {
    const has = async (id: string, fid: number) => (await steps(url, id)).some((s) => s.function_id === fid && s.function_name === 'DBOS.sleep');
    return (await has(hubID, 1)) && (await has(eventID, 1)) && (await has(sleepID, 0));
  });
  await sleep(300); // the stream reader records nothing: give it time to be in its wait too
}

async function exitsByItself(app: App, ms = 20_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), ms);
  });
  const code = await Promise.race([app.exited, late]).finally(() => clearTimeout(timer));
  const exitedAt = Date.now();
  assert.notEqual(code, 'late', `${app.name} did not exit by itself within ${ms} ms (stderr: ${app.stderr()})`);
  assert.equal(code, 0, `${app.name} exited with ${String(code)}: ${app.stderr()}`);
  // From returning out of main to the end of the process: nothing kept it alive.
  const returned = Number(/returned (\d+)/.exec(app.stderr())?.[1]);
  assert.ok(Number.isFinite(returned), `${app.name} reports when main returned`);
  assert.ok(exitedAt - returned < 3000, `${app.name} exited ${exitedAt - returned} ms after main returned`);
}

interface Report {
  shutdownMs: number;
  before: string[];
  after: string[];
  outcomes: string[];
  results?: unknown[];
}

function report(app: App): Report {
  return JSON.parse(app.stdout().trim().split('\n').pop() ?? '{}') as Report;
}

describe('in this process', () => {
  const prefix = `inproc-${randomUUID()}`;
  const ids = { hub: `${prefix}-hub`, event: `${prefix}-event`, stream: `${prefix}-stream`, sleep: `${prefix}-sleep` };

  test('shutdown while workflows wait in recv, getEvent, readStream and sleep returns promptly and leaves them PENDING', async () => {
    await DBOS.launch();
    const handles: WorkflowHandle<unknown>[] = [
      await DBOS.startWorkflow(hub, { workflowID: ids.hub })(),
      await DBOS.startWorkflow(eventWaiter, { workflowID: ids.event })(ids.hub),
      await DBOS.startWorkflow(streamWaiter, { workflowID: ids.stream })(ids.hub),
      await DBOS.startWorkflow(sleeper, { workflowID: ids.sleep })(3000),
    ];
    const results = handles.map((h) => outcome(h.getResult()));
    await waiting(ids.hub, ids.event, ids.sleep);
    const open = await connections(OWN);
    assert.ok(OWN.every((n) => open.includes(n)), `pool and listener open while waiting: ${open.join(', ')}`);

    const t0 = Date.now();
    await DBOS.shutdown();
    const took = Date.now() - t0;
    assert.ok(took < PROMPT_MS, `shutdown took ${took} ms`);
    assert.equal(DBOS.isInitialized(), false);
    // The runs in this process end (they do not hang), with the shutdown as their error...
    for (const r of await within(Promise.all(results), 5000, 'the waiting runs')) {
      assert.ok(!r.ok, 'a waiting run cannot finish once the database is shut down');
      assert.ok(r.error instanceof E.DBOSShutdownError && E.getDBOSErrorCode(r.error) === E.SystemDatabaseShutdown, `got ${String(r.error)}`);
      assert.match(r.error.message, /The system database has been shut down/);
    }
    // ...and nothing was recorded for them: they stay PENDING, for the next launch.
    assert.deepEqual(await statuses(Object.values(ids)), ['PENDING', 'PENDING', 'PENDING', 'PENDING']);
    await noConnections(OWN, 'after DBOS.shutdown()');
  });

  test('the next launch recovers them and they complete', async () => {
    await DBOS.launch();
    await DBOS.send(ids.hub, 'go', 'go');
    const results = await Promise.all([ids.hub, ids.event, ids.stream, ids.sleep].map((id) => DBOS.getResult(id, 20)));
    assert.deepEqual(results, ['go!', 'go!', ['go!'], 'slept']);
    assert.deepEqual(await statuses(Object.values(ids)), ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
    // The sleep kept its recorded end: it completed about 3 s after it started, not 3 s after recovery.
    const sleepRow = await statusRow(url, ids.sleep);
    assert.ok(Number(sleepRow?.completed_at) - Number(sleepRow?.created_at) >= 3000);
    // Recovery ran them again from their checkpoints: one recovery attempt each, on top of the first run.
    assert.equal(Number((await statusRow(url, ids.hub))?.recovery_attempts), 2);
  });

  test('every call after DBOS.shutdown() rejects at once with the TypeError DBOS throws', async () => {
    await DBOS.launch();
    const done = await DBOS.startWorkflow(echo)('before');
    await done.getResult();
    const retrieved = DBOS.retrieveWorkflow(done.workflowID);
    await DBOS.shutdown();
    await DBOS.shutdown(); // idempotent

    const calls: [string, () => Promise<unknown>][] = [
      ['DBOS.startWorkflow', () => DBOS.startWorkflow(echo)(1)],
      ['calling a workflow', () => echo(1)],
      ['DBOS.send', () => DBOS.send(done.workflowID, 1)],
      ['DBOS.recv', () => DBOS.recv('t', 1)],
      ['DBOS.setEvent', () => DBOS.setEvent('k', 1)],
      ['DBOS.getEvent', () => DBOS.getEvent(done.workflowID, 'k', 1)],
      ['DBOS.writeStream', () => DBOS.writeStream('k', 1)],
      ['DBOS.closeStream', () => DBOS.closeStream('k')],
      ['DBOS.readStream', async () => DBOS.readStream(done.workflowID, 'k').next()],
      ['DBOS.readStreamOffset', () => DBOS.readStreamOffset(done.workflowID, 'k', 0)],
      ['DBOS.getResult', () => DBOS.getResult(done.workflowID, 1)],
      ['DBOS.retrieveWorkflow', async () => DBOS.retrieveWorkflow(done.workflowID)],
      ['DBOS.getWorkflowStatus', () => DBOS.getWorkflowStatus(done.workflowID)],
      ['DBOS.cancelWorkflow', () => DBOS.cancelWorkflow(done.workflowID)],
      ['DBOS.resumeWorkflow', () => DBOS.resumeWorkflow(done.workflowID)],
      ['DBOS.runStep', () => DBOS.runStep(async () => 1)],
      ['DBOS.executorID', async () => DBOS.executorID],
    ];
    for (const [what, call] of calls) {
      const r = await settle(Promise.resolve().then(call), what);
      assert.ok(!r.ok, `${what} after shutdown must reject`);
      assert.ok(r.error instanceof TypeError, `${what}: got ${String(r.error)}`);
      assert.match(r.error.message, /^`DBOS\.launch\(\)` must be called before running /, what);
    }
    // A handle from before the shutdown rejects too: its database is gone.
    for (const [what, call] of [
      ['handle.getStatus', () => retrieved.getStatus()],
      ['handle.getResult', () => retrieved.getResult()],
      ['handle.getStatus of a started workflow', () => done.getStatus()],
    ] as const) {
      const r = await settle(call(), what);
      if (what === 'handle.getResult' && r.ok) continue; // a handle of a local run may already hold its result
      assert.ok(!r.ok, `${what} after shutdown must reject`);
      assert.ok(r.error instanceof E.DBOSShutdownError && E.getDBOSErrorCode(r.error) === E.SystemDatabaseShutdown, `${what}: got ${String(r.error)}`);
      assert.match(r.error.message, /The system database has been shut down/);
    }
    // Outside a workflow DBOS.sleep is a plain timer, as in DBOS: no launch needed.
    const t0 = Date.now();
    await DBOS.sleep(20);
    assert.ok(Date.now() - t0 >= 15);
    await assert.rejects(DBOS.sleep(Number.NaN), E.DBOSError);
  });

  test('DBOSClient.destroy() while getEvent and readStream wait: both reject at once, and its connections close', async () => {
    await DBOS.launch();
    const target = await DBOS.startWorkflow(hub)();
    const client = await DBOSClient.create({ systemDatabaseUrl: url });
    const waits = [
      outcome(client.getEvent(target.workflowID, 'never', 60)),
      outcome(client.readStream(target.workflowID, 'never').next()),
      outcome(client.readStreamOffset(target.workflowID, 'never', 0)),
    ];
    await waitFor('the client to listen', async () => (await connections(CLIENT)).includes('dbos_native_listener_dbos-client'));
    await sleep(200);
    const t0 = Date.now();
    await client.destroy();
    for (const r of await within(Promise.all(waits), PROMPT_MS, 'the client waits')) {
      assert.ok(!r.ok, 'a wait of a destroyed client rejects');
      assert.ok(r.error instanceof E.DBOSShutdownError && E.getDBOSErrorCode(r.error) === E.SystemDatabaseShutdown, `got ${String(r.error)}`);
      assert.match(r.error.message, /The system database has been shut down/);
    }
    assert.ok(Date.now() - t0 < PROMPT_MS, `the waits ended ${Date.now() - t0} ms after destroy()`);
    await assert.rejects(client.getEvent(target.workflowID, 'k', 0), /The system database has been shut down/);
    await assert.rejects(client.send(target.workflowID, 1), E.DBOSShutdownError);
    await client.destroy(); // idempotent
    await noConnections(CLIENT, 'after DBOSClient.destroy()');
    await DBOS.send(target.workflowID, 'release', 'go');
    assert.equal(await target.getResult(), 'release!');
    await DBOS.shutdown();
  });
});

describe('in a child process', () => {
  const executor = `shutdown-child-${randomUUID().slice(0, 8)}`;
  const prefix = `child-${randomUUID()}`;
  const ids = [`${prefix}-hub`, `${prefix}-event`, `${prefix}-stream`, `${prefix}-sleep`];
  const env = () => ({ DBOS_SYSTEM_DATABASE_URL: url, EXECUTOR: executor, PREFIX: prefix });
  const childNames = [`dbos_native_${executor}_shutdown-v1`, `dbos_native_listener_${executor}`];

  test('a process that shuts down while its workflows wait then returns from main exits by itself, with no connection left', async () => {
    const app = spawnApp(script, { ...env(), MODE: 'app' }, 'shutdown-app');
    await exitsByItself(app);
    const r = report(app);
    assert.ok(r.shutdownMs < PROMPT_MS, `shutdown took ${r.shutdownMs} ms`);
    // While waiting it had its pool and its listener open (so these names are the ones to look for)...
    assert.ok(r.before.includes(childNames[0] ?? ''), `pool connections while waiting: ${r.before.join(', ')}`);
    assert.ok(r.before.includes(childNames[1] ?? ''), `listener while waiting: ${r.before.join(', ')}`);
    // ...and none after DBOS.shutdown(), before the process even exited.
    assert.deepEqual(r.after, []);
    assert.deepEqual(r.outcomes, Array(4).fill('rejected DBOSShutdownError: The system database has been shut down'));
    await noConnections(childNames, 'after the process exited');
    assert.deepEqual(await statuses(ids), ['PENDING', 'PENDING', 'PENDING', 'PENDING']);
    assert.equal((await statusRow(url, ids[0] ?? ''))?.executor_id, executor);
  });

  test('the next process of that executor recovers them and they complete', async () => {
    const app = spawnApp(script, { ...env(), MODE: 'recover' }, 'shutdown-app recover');
    await exitsByItself(app);
    assert.deepEqual(report(app).results, ['go!', 'go!', ['go!'], 'slept']);
    assert.deepEqual(await statuses(ids), ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
    await noConnections(childNames, 'after the recovering process exited');
  });

  test('a process whose DBOSClient is destroyed while getEvent and readStream wait exits by itself', async () => {
    await DBOS.launch();
    const target = await DBOS.startWorkflow(hub)();
    const app = spawnApp(script, { ...env(), MODE: 'client', TARGET: target.workflowID }, 'shutdown-app client');
    await exitsByItself(app);
    const r = report(app);
    assert.ok(r.before.includes('dbos_native_listener_dbos-client'), `client connections while waiting: ${r.before.join(', ')}`);
    assert.ok(r.before.includes('dbos_native_dbos-client_'), `client pool while waiting: ${r.before.join(', ')}`);
    assert.deepEqual(r.after, []);
    assert.deepEqual(r.outcomes, Array(2).fill('rejected DBOSShutdownError: The system database has been shut down'));
    assert.ok(r.shutdownMs < PROMPT_MS, `the waits ended ${r.shutdownMs} ms after destroy()`);
    await noConnections(CLIENT, 'after the client process exited');
    await DBOS.send(target.workflowID, 'release', 'go');
    assert.equal(await target.getResult(), 'release!');
  });
});
