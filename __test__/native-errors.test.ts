// Errors across the native boundary: the addon rejects with an Error whose `code` is a stable NativeErrorCode and
// whose fields (workflowId, stepId, stepName, sqlstate) are properties; the TS layer builds the DBOS class from the
// code and the fields alone. Each engine condition is provoked for real, on a real Postgres.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { freshDatabase } from './helpers/db';

type Binding = typeof import('../native/binding');
type NativeModule = typeof import('../ts/native');
type ErrorModule = typeof import('../ts/error');
type NativeError = import('../ts/native').NativeError;

// The built package (dist/, native/), as an app loads it: one copy of the error classes.
const repo = path.join(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(repo, 'native', 'binding.js')) as Binding;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const native = require(path.join(repo, 'dist', 'native.js')) as NativeModule;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const E = require(path.join(repo, 'dist', 'error.js')) as ErrorModule;

let url = '';
const identity = { appName: 'native-errors', executorId: 'local', appVersion: 'v1' };
const options = (schemaMode: 'migrate' | 'lazy') => ({ url, schema: 'dbos', poolSize: 2, schemaMode, listen: false, listenNotify: true, listenUrl: null, transactionPooling: false, ...identity });

function workflow(workflowId: string, token: string) {
  return {
    workflowId,
    status: 'PENDING' as const,
    name: 'wf',
    className: null,
    configName: null,
    queueName: null,
    inputs: '[]',
    serialization: null,
    token,
    timeoutMs: null,
    deadlineEpochMs: null,
    parentWorkflowId: null,
    deduplicationId: null,
    priority: null,
    queuePartitionKey: null,
    delayUntilEpochMs: null,
    appName: null,
    appVersion: null,
    authenticatedUser: null,
    authenticatedRoles: null,
    attributes: null,
    isDebounced: null,
    debounceDeadlineEpochMs: null,
  };
}

function checkpoint(functionId: number, output: string) {
  return { functionId, name: 'step', output, error: null, childWorkflowId: null, startedAt: Date.now(), completedAt: Date.now(), serialization: null };
}

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error, `rejected with ${String(e)}`);
    return e as Error & Record<string, unknown>;
  }
  assert.fail('expected a rejection');
}

/** The native error's data, exactly as the engine sent it. */
function fields(e: Record<string, unknown>) {
  return { code: e.code, workflowId: e.workflowId, stepId: e.stepId, stepName: e.stepName, sqlstate: e.sqlstate };
}

let raw: InstanceType<Binding['NativeEngine']>;
let engine: Awaited<ReturnType<NativeModule['connectEngine']>>;
before(async () => {
  url = await freshDatabase('native_errors');
  raw = await binding.connect(options('migrate'));
  engine = await native.connectEngine(options('migrate'));
});
after(() => {
  raw.close();
  engine.close();
});

test('a step recorded differently by another execution: STEP_NONDETERMINISM with the workflow, step and name', async () => {
  const id = randomUUID();
  await raw.startWorkflow(workflow(id, 'tok'));
  await raw.recordCheckpoint(id, 'tok', checkpoint(3, '"a"'), true);

  const e = await rejection(raw.recordCheckpoint(id, 'tok', checkpoint(3, '"b"'), true));
  assert.deepEqual(fields(e), { code: 'STEP_NONDETERMINISM', workflowId: id, stepId: 3, stepName: 'step', sqlstate: null });

  const dbos = await rejection(engine.recordCheckpoint(id, 'tok', checkpoint(3, '"b"'), true));
  assert.ok(dbos instanceof E.DBOSStepNondeterminismError);
  assert.equal(E.getDBOSErrorCode(dbos), E.StepNondeterminism);
  assert.deepEqual([dbos.workflowID, dbos.stepID], [id, 3]);
  assert.equal(dbos.message, new E.DBOSStepNondeterminismError(id, 3).message);
});

test('a write by an execution that does not own the row: WORKFLOW_CONFLICT with the workflow', async () => {
  const id = randomUUID();
  await raw.startWorkflow(workflow(id, 'tok'));
  const e = await rejection(raw.recordCheckpoint(id, 'someone-else', checkpoint(1, '1'), true));
  assert.deepEqual(fields(e), { code: 'WORKFLOW_CONFLICT', workflowId: id, stepId: null, stepName: null, sqlstate: null });

  const dbos = await rejection(engine.recordCheckpoint(id, 'someone-else', checkpoint(1, '1'), true));
  assert.ok(dbos instanceof E.DBOSWorkflowConflictError);
  assert.equal(dbos.message, `Workflow ${id} is no longer owned by this execution`);
});

test('a send or a stream read naming no workflow: NON_EXISTENT_WORKFLOW with the workflow', async () => {
  const id = `missing-${randomUUID()}`;
  const message = { destinationId: id, topic: 't', message: '1', serialization: null, messageUuid: randomUUID() };
  const e = await rejection(raw.send(message, native.OUTSIDE));
  assert.deepEqual(fields(e), { code: 'NON_EXISTENT_WORKFLOW', workflowId: id, stepId: null, stepName: null, sqlstate: null });
  assert.equal(e.message, `Sent to non-existent destination workflow UUID: ${id}`);

  const sent = await rejection(engine.send({ ...message, messageUuid: randomUUID() }, native.OUTSIDE));
  assert.ok(sent instanceof E.DBOSNonExistentWorkflowError);
  assert.equal(E.getDBOSErrorCode(sent), E.NonExistentWorkflowError);
  assert.equal(sent.message, `Sent to non-existent destination workflow UUID: ${id}`);

  const read = { workflowId: id, key: 'k', offset: 0, limit: 10, deadlineEpochMs: null, pollMs: 100, guard: null };
  const r = await rejection(raw.readStream(read));
  assert.deepEqual(fields(r), { code: 'NON_EXISTENT_WORKFLOW', workflowId: id, stepId: null, stepName: null, sqlstate: null });
  assert.equal(r.message, `Workflow ${id} does not exist`);
});

test('a statement Postgres refuses: DATABASE with its SQLSTATE, and nothing written', async () => {
  const id = randomUUID();
  // A NUL character cannot be stored in a text column: 22021 (invalid byte sequence for UTF8).
  const bad = { ...workflow(id, 'tok'), inputs: 'a\u0000b' };
  const e = await rejection(raw.startWorkflow(bad));
  assert.deepEqual(fields(e), { code: 'DATABASE', workflowId: null, stepId: null, stepName: null, sqlstate: '22021' });

  const dbos = await rejection(engine.startWorkflow(bad));
  assert.ok(dbos instanceof E.DBOSDatabaseError);
  assert.equal(E.getDBOSErrorCode(dbos), E.SystemDatabaseError);
  assert.equal(dbos.sqlstate, '22021');
  assert.equal(await engine.getWorkflowStatus(id), null);
});

test('a call after close: SHUTDOWN, as a rejection, never a synchronous throw', async () => {
  const closedRaw = await binding.connect(options('migrate'));
  closedRaw.close();
  const e = await rejection(closedRaw.getWorkflowStatus('any'));
  assert.deepEqual(fields(e), { code: 'SHUTDOWN', workflowId: null, stepId: null, stepName: null, sqlstate: null });

  const closed = await native.connectEngine(options('migrate'));
  closed.close();
  let pending: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    pending = closed.holdStart(workflow(randomUUID(), 'tok'));
  });
  const dbos = await rejection(pending!);
  assert.ok(dbos instanceof E.DBOSShutdownError);
  assert.equal(E.getDBOSErrorCode(dbos), E.SystemDatabaseShutdown);
  assert.equal(dbos.message, 'The system database has been shut down');
  assert.equal(dbos.name, 'DBOSShutdownError');
});

test('a server that cannot be reached at connect: INITIALIZATION', async () => {
  const nowhere = { ...options('migrate'), url: 'postgresql://postgres:x@127.0.0.1:1/none?connect_timeout=2' };
  const e = await rejection(binding.connect(nowhere));
  assert.equal(e.code, 'INITIALIZATION');
  assert.equal(e.sqlstate, null);
  assert.doesNotMatch(e.message, /postgres:x@/, 'the password is not in the message');
  const dbos = await rejection(native.connectEngine(nowhere));
  assert.ok(dbos instanceof E.DBOSInitializationError);
});

test('an argument the engine refuses: INVALID_ARGUMENT, thrown where the call is synchronous', () => {
  const write = { workflowId: 'w', token: 't', functionId: 1, checkpointName: null, startedAt: 0, key: 'k', value: '1', serialization: null };
  assert.throws(
    () => raw.writeStreamBehind(write),
    (e: Error & Record<string, unknown>) => e.code === 'INVALID_ARGUMENT' && e.workflowId === null && /checkpoint name/.test(e.message),
  );
  assert.throws(
    () => engine.writeStreamBehind(write),
    (e: unknown) => e instanceof E.DBOSError && e.constructor === E.DBOSError && E.getDBOSErrorCode(e) === 1,
  );
});

test('every code maps to its class from the code and the fields alone (the message is carried, never parsed)', () => {
  const none = { workflowId: null, stepId: null, stepName: null, sqlstate: null };
  const cases: Array<[NativeError, new (...args: never[]) => Error, number]> = [
    [{ code: 'SHUTDOWN', message: 'ignored', ...none }, E.DBOSShutdownError, 100],
    [{ code: 'DATABASE', message: 'duplicate key (SQLSTATE 23505)', ...none, sqlstate: '23505' }, E.DBOSDatabaseError, 101],
    [{ code: 'CONNECTION', message: 'connection reset', ...none, sqlstate: '08006' }, E.DBOSConnectionError, 102],
    [{ code: 'INITIALIZATION', message: 'cannot connect', ...none }, E.DBOSInitializationError, 3],
    [{ code: 'WORKFLOW_CONFLICT', message: 'ignored', ...none, workflowId: 'w1' }, E.DBOSWorkflowConflictError, 5],
    [{ code: 'NON_EXISTENT_WORKFLOW', message: 'Workflow w2 does not exist', ...none, workflowId: 'w2' }, E.DBOSNonExistentWorkflowError, 16],
    [{ code: 'STEP_NONDETERMINISM', message: 'Workflow w3: step 4 (s) was already recorded', ...none, workflowId: 'w3', stepId: 4, stepName: 's' }, E.DBOSStepNondeterminismError, 37],
    [{ code: 'INVALID_ARGUMENT', message: 'bad', ...none }, E.DBOSError, 1],
    [{ code: 'INTERNAL', message: 'a batch returned too few results', ...none }, E.DBOSError, 1],
  ];
  for (const [n, Cls, code] of cases) {
    const e = native.dbosErrorFromNative(n);
    assert.equal(e.constructor, Cls, n.code);
    assert.equal(E.getDBOSErrorCode(e), code, n.code);
  }
  const [conflict, missing, nd, db, conn] = [cases[4], cases[5], cases[6], cases[1], cases[2]].map(([n]) => native.dbosErrorFromNative(n));
  assert.equal(conflict.message, 'Workflow w1 is no longer owned by this execution');
  assert.equal(missing.message, 'Workflow w2 does not exist');
  assert.deepEqual([(nd as InstanceType<ErrorModule['DBOSStepNondeterminismError']>).workflowID, (nd as InstanceType<ErrorModule['DBOSStepNondeterminismError']>).stepID], ['w3', 4]);
  assert.equal((db as InstanceType<ErrorModule['DBOSDatabaseError']>).sqlstate, '23505');
  assert.equal((conn as InstanceType<ErrorModule['DBOSConnectionError']>).sqlstate, '08006');

  // Not the engine's: passed through as it is (napi's own argument errors carry PascalCase codes).
  const napiOwn = Object.assign(new TypeError('Failed to convert'), { code: 'InvalidArg' });
  assert.equal(native.errorFromNative(napiOwn), napiOwn);
  const plain = new Error('{"code":16,"message":"x"}');
  assert.equal(native.errorFromNative(plain), plain);
  const wrapped = native.errorFromNative('a string');
  assert.ok(wrapped instanceof Error);
  assert.equal(wrapped.message, 'a string');
});
