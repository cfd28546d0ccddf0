// Bad input gets a clear, typed error and leaves no row behind; odd but valid input is stored verbatim.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, Error as E } from 'dbos-native';
import { freshDatabase, query, statusRow } from './helpers/db';

const echo = DBOS.registerWorkflow(async (x: unknown) => x, { name: 'echo' });
const portableEcho = DBOS.registerWorkflow(async (x: unknown) => x, { name: 'portableEcho', serialization: 'portable' });
const returnsSymbol = DBOS.registerWorkflow(async () => Symbol('nope') as unknown, { name: 'returnsSymbol' });
const stepReturnsSymbol = DBOS.registerWorkflow(
  async () => DBOS.runStep(async () => Symbol('step') as unknown, { name: 'symbolStep' }),
  { name: 'stepReturnsSymbol' },
);
const plainStep = DBOS.registerStep(async (x: string) => x, { name: 'plainStep' });
const sleeper = DBOS.registerWorkflow(async (ms: number) => DBOS.sleep(ms), { name: 'badSleeper' });

let url = '';
let beforeLaunch: unknown;

async function rowCount(): Promise<number> {
  const r = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM dbos.workflow_status');
  return Number(r[0]?.n);
}

before(async () => {
  url = await freshDatabase('dbosn_bad_input');
  beforeLaunch = await echo(1).catch((e: unknown) => e);
  DBOS.setConfig({ name: 'bad-input-test', systemDatabaseUrl: url });
  await DBOS.launch();
});

after(async () => {
  await DBOS.shutdown();
});

test('calling a workflow before DBOS.launch() is a TypeError that says so', () => {
  assert.ok(beforeLaunch instanceof TypeError);
  assert.match((beforeLaunch as Error).message, /DBOS\.launch\(\)` must be called/);
});

test('an argument that is a function or symbol is refused before anything is stored', async () => {
  const n = await rowCount();
  const id = `fn-arg-${randomUUID()}`;
  await assert.rejects(
    DBOS.startWorkflow(echo, { workflowID: id })(function onDone() {}),
    (e: unknown) =>
      e instanceof E.DBOSInvalidWorkflowInputError &&
      e.dbosErrorCode === 32 &&
      /^Could not serialize the arguments to workflow echo: Cannot serialize argument 0 \(function 'onDone'\)/.test(e.message),
  );
  await assert.rejects(echo(Symbol('s')), E.DBOSInvalidWorkflowInputError);
  // Portable workflows refuse what JSON cannot carry (a Map with non-string keys).
  await assert.rejects(portableEcho(new Map([[1, 'a']])), E.DBOSInvalidWorkflowInputError);
  assert.equal(await statusRow(url, id), undefined);
  assert.equal(await rowCount(), n);
});

test('functions and symbols nested in arguments are dropped, as DBOS (JSON.stringify) does', async () => {
  const order = { id: 7, total: () => 70, tag: Symbol('t'), lines: [{ sku: 'a', price: () => 1 }] };
  assert.deepEqual(await echo(order), { id: 7, lines: [{ sku: 'a' }] });
  assert.deepEqual(await portableEcho(order), { id: 7, lines: [{ sku: 'a' }] });
});

test('circular arguments are fine (superjson keeps the references)', async () => {
  const a: { name: string; self?: unknown } = { name: 'loop' };
  a.self = a;
  const r = (await echo(a)) as typeof a;
  assert.equal(r.name, 'loop');
  assert.equal(r.self, r);
});

test('empty or non-string workflow IDs are rejected and write nothing', async () => {
  const n = await rowCount();
  await assert.rejects(DBOS.startWorkflow(echo, { workflowID: '' })(1), (e: unknown) => e instanceof E.DBOSError && /non-empty string/.test(e.message));
  await assert.rejects(
    DBOS.startWorkflow(echo, { workflowID: 42 as unknown as string })(1),
    (e: unknown) => e instanceof E.DBOSError && /non-empty string/.test(e.message),
  );
  await assert.rejects(DBOS.withNextWorkflowID('', () => echo(1)), E.DBOSError);
  assert.equal(await rowCount(), n);
});

test('a step called outside a workflow inside withNextWorkflowID is a plain call; the ID goes to the next workflow', async () => {
  const id = `next-${randomUUID()}`;
  const got = await DBOS.withNextWorkflowID(id, async () => {
    const viaStep = await plainStep('s');
    const viaRunStep = await DBOS.runStep(async () => 'r', { name: 'plainRunStep' });
    const handle = await DBOS.startWorkflow(echo)('w');
    return { viaStep, viaRunStep, workflowID: handle.workflowID, result: await handle.getResult() };
  });
  assert.deepEqual(got, { viaStep: 's', viaRunStep: 'r', workflowID: id, result: 'w' });
});

test('SQL-shaped workflow IDs are stored and returned verbatim', async () => {
  const id = `x'); DROP TABLE dbos.workflow_status; -- "${randomUUID()}" \\ ;`;
  const h = await DBOS.startWorkflow(echo, { workflowID: id })("'; SELECT 1; --");
  assert.equal(await h.getResult(), "'; SELECT 1; --");
  assert.equal((await DBOS.getWorkflowStatus(id))?.workflowID, id);
  assert.equal((await statusRow(url, id))?.status, 'SUCCESS');
});

test('a result that cannot be stored fails the workflow with a clear error, recorded as ERROR', async () => {
  const h = await DBOS.startWorkflow(returnsSymbol)();
  await assert.rejects(
    h.getResult(),
    (e: unknown) => e instanceof E.DBOSError && /^Cannot serialize the return value of workflow returnsSymbol \(Symbol\(nope\)\)/.test(e.message),
  );
  assert.equal((await statusRow(url, h.workflowID))?.status, 'ERROR');
  const s = await DBOS.startWorkflow(stepReturnsSymbol)();
  await assert.rejects(s.getResult(), /Cannot serialize the return value of step symbolStep \(Symbol\(step\)\)/);
  const rows = await query<{ function_name: string; error: string }>(
    url,
    'SELECT function_name, error FROM dbos.operation_outputs WHERE workflow_uuid = $1',
    [s.workflowID],
  );
  assert.equal(rows[0]?.function_name, 'symbolStep');
  assert.match(rows[0]?.error ?? '', /Cannot serialize/);
});

test('sleep: non-finite durations are refused; outside a workflow it is a plain timer', async () => {
  await assert.rejects(DBOS.sleep(Number.NaN), (e: unknown) => e instanceof E.DBOSError && /finite/.test(e.message));
  await assert.rejects(DBOS.sleepms(Infinity), E.DBOSError);
  await assert.rejects(sleeper(Number.NaN), E.DBOSError);
  const n = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM dbos.operation_outputs');
  const t0 = Date.now();
  await DBOS.sleep(30);
  assert.ok(Date.now() - t0 >= 25);
  const m = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM dbos.operation_outputs');
  assert.equal(m[0]?.n, n[0]?.n, 'a sleep outside a workflow records nothing');
});

test('unregistered functions and members cannot be started', async () => {
  const notAWorkflow = async (x: number) => x;
  assert.throws(() => DBOS.startWorkflow(notAWorkflow), E.DBOSNotRegisteredError);
  class Plain {
    static async hello(): Promise<string> {
      return 'hi';
    }
  }
  // The member's call returns a promise, so it rejects rather than throwing.
  const started = DBOS.startWorkflow(Plain) as unknown as { hello(): Promise<unknown> };
  await assert.rejects(started.hello(), E.DBOSNotRegisteredError);
});

test('registering after launch is refused', () => {
  assert.throws(() => DBOS.registerWorkflow(async () => 1, { name: 'late' }), E.DBOSConflictingRegistrationError);
});

test('invalid step configuration is refused when the step is defined', () => {
  assert.throws(() => DBOS.registerStep(async () => 1, { name: 'bad', retriesAllowed: true, maxAttempts: 0 }), E.DBOSError);
});

test('waiting options are validated; unknown workflows give null, not an error', async () => {
  await assert.rejects(DBOS.getResult('whatever', -1), E.DBOSError);
  await assert.rejects(DBOS.getResult('whatever', Number.NaN), E.DBOSError);
  await assert.rejects(DBOS.getResult('whatever', { timeoutSeconds: 1, pollingIntervalMs: 0 }), /pollingIntervalMs must be a positive finite number/);
  assert.equal(await DBOS.getResult(`unknown-${randomUUID()}`, 0.05), null);
  assert.equal(await DBOS.getWorkflowStatus(`unknown-${randomUUID()}`), null);
});

test('after shutdown, calls reject cleanly and a relaunch works again', async () => {
  await DBOS.shutdown();
  await assert.rejects(echo(1), TypeError);
  await assert.rejects(DBOS.getWorkflowStatus('x'), TypeError);
  await DBOS.shutdown();
  await DBOS.launch();
  assert.equal(await echo('back'), 'back');
});
