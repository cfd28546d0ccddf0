// The bad-input matrix: one row per (public function, input class, calling context) with the expected
// outcome, either "works" (with a check that the value was stored and comes back intact, or that odd
// but valid input is kept verbatim) or a typed error (exact class and message). Every rejected call must
// also leave no row behind: the six tables are counted before and after it (the harness workflow that
// hosts an in-workflow or in-step call is not counted, its other rows are). Rows marked `records` name
// what DBOS records on purpose for a failure, so that a replay fails the same way.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DBOS, DBOSClient, Debouncer, DebouncerClient, Error as E, type WorkflowHandle } from 'dbos-native';
import { freshDatabase, steps } from './helpers/db';

// ---------------------------------------------------------------- inputs

/** 10 MiB of UTF-8 (2-, 3- and 4-byte characters, so an encoding slip shows). */
const BIG = 'é€😀x'.repeat(1 << 20);
const SQL_TOPIC = `t'); DROP TABLE dbos.notifications; --`;
const SQL_KEY = `k'); DELETE FROM dbos.workflow_events; -- "\\`;
const sqlID = () => `o'; DROP TABLE dbos.workflow_status; -- "${randomUUID()}" \\ ;`;
const unknownID = () => `unknown-${randomUUID()}`;
/** A destination + topic whose NOTIFY payload would be 8000 bytes or more. */
const LONG_TOPIC = 't'.repeat(8000);

interface Loop {
  name: string;
  self?: Loop;
  list: Loop[];
}
function circular(): Loop {
  const a: Loop = { name: 'loop', list: [] };
  a.self = a;
  a.list.push(a);
  return a;
}
function assertCircular(v: unknown): void {
  const r = v as Loop;
  assert.equal(r?.name, 'loop');
  assert.equal(r.self, r, 'the self reference survives');
  assert.equal(r.list[0], r, 'the reference in an array survives');
}
function assertBig(v: unknown): void {
  assert.equal(typeof v, 'string');
  assert.equal((v as string).length, BIG.length, 'the 10 MB value keeps its length');
  assert.ok(v === BIG, 'the 10 MB value comes back intact');
}
/** An object that carries methods and a symbol: DBOS drops them as JSON.stringify does. */
const withMethods = () => ({ v: 1, cb: () => 1, nested: [{ f() {}, s: Symbol('s'), w: 2 }] });
const WITHOUT_METHODS = { v: 1, nested: [{ w: 2 }] };
/** A value of the wrong type, where the signature wants a T. */
const bad = <T>(v: unknown): T => v as T;

// ---------------------------------------------------------------- workflows

const echo = DBOS.registerWorkflow(async (x: unknown) => x, { name: 'matrixEcho' });
/** A workflow of the scheduled shape (`(Date, context) => Promise<void>`). */
const scheduled = DBOS.registerWorkflow(async (_at: Date, _context: unknown): Promise<void> => undefined, { name: 'matrixScheduled' });
const receiveOne = DBOS.registerWorkflow(async (topic: string | null) => DBOS.recv<unknown>(topic ?? undefined, 20), {
  name: 'matrixReceive',
});
class Plain {
  static async hello(): Promise<string> {
    return 'hi';
  }
}
const returnsFunction = DBOS.registerWorkflow(async () => (() => 1) as unknown, { name: 'matrixReturnsFunction' });
const returnsMethods = DBOS.registerWorkflow(async () => ({ v: 1, f: () => 1, nested: [{ s: Symbol('s'), w: 2 }] }), { name: 'matrixReturnsMethods' });
const receiveIsBig = DBOS.registerWorkflow(async () => (await DBOS.recv<unknown>('big', 20)) === BIG, { name: 'matrixReceiveBig' });
const sink = DBOS.registerWorkflow(async () => DBOS.recv('release', 300), { name: 'matrixSink' });
const finished = DBOS.registerWorkflow(
  async () => {
    await DBOS.setEvent('k', 'v');
    await DBOS.setEvent(SQL_KEY, 'sql');
    for (const v of [0, 1, 2]) await DBOS.writeStream('k', v);
    await DBOS.writeStream(SQL_KEY, 'sql');
    await DBOS.closeStream('k');
  },
  { name: 'matrixFinished' },
);

// The harness: runs a row's call in workflow code or in a step. Its own status row and its step
// checkpoint are not counted; anything else it writes is.
const HARNESS_STEP = 'matrixStep';
const bodies = new Map<string, () => Promise<unknown>>();
const harnessIDs: string[] = [];
function body(): () => Promise<unknown> {
  const fn = bodies.get(DBOS.workflowID ?? '');
  if (!fn) throw new Error(`no body for ${DBOS.workflowID}`);
  return fn;
}
const inWorkflowHarness = DBOS.registerWorkflow(async () => body()(), { name: 'matrixInWorkflow' });
const inStepHarness = DBOS.registerWorkflow(async () => DBOS.runStep(() => body()(), { name: HARNESS_STEP }), { name: 'matrixInStep' });

/** Calls `fn`; a synchronous throw (where a rejected promise is due) is noted in `syncThrows`, then rejects. */
const syncThrows: unknown[] = [];
function callAsync(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return fn();
  } catch (e) {
    syncThrows.push(e);
    return Promise.reject(e);
  }
}

async function runIn(where: 'workflow' | 'step', id: string, fn: () => Promise<unknown>): Promise<unknown> {
  bodies.set(id, () => callAsync(fn));
  harnessIDs.push(id);
  try {
    const h = await DBOS.startWorkflow(where === 'workflow' ? inWorkflowHarness : inStepHarness, { workflowID: id })();
    return await h.getResult();
  } finally {
    bodies.delete(id);
  }
}

// ---------------------------------------------------------------- rows and counts

const TABLES = ['workflow_status', 'notifications', 'workflow_events', 'workflow_events_history', 'streams', 'operation_outputs'] as const;
type Table = (typeof TABLES)[number];
type Counts = Record<Table, number>;
type ErrorClass = abstract new (...args: never[]) => Error;

interface Ctx<S> {
  /** What `setup` returned (run outside, before the counts are taken). */
  s: S;
  /** The harness workflow's ID for rows run in a workflow or step. */
  wf: string;
}
type Expect<S> =
  | { works: (result: unknown, ctx: Ctx<S>) => void | Promise<void> }
  | { rejects: ErrorClass; message: RegExp };

interface Row<S> {
  fn: string;
  input: string;
  /** Where the call is made (default: outside any workflow). */
  at?: 'workflow' | 'step';
  setup?(): Promise<S>;
  call(s: S): Promise<unknown>;
  expect: Expect<S>;
  /** Rows a rejected call writes on purpose (default: none). */
  records?: Partial<Counts>;
  /** A call that works and must not write any row either (a lookup, a no-op). */
  writesNothing?: boolean;
}

const works = <S>(check: (result: unknown, ctx: Ctx<S>) => void | Promise<void> = () => undefined): Expect<S> => ({ works: check });
const rejects = <S>(cls: ErrorClass, message: RegExp): Expect<S> => ({ rejects: cls, message });
const NOT_STRING = /it must be a non-empty string/;

let url = '';
let client: DBOSClient;
let pg: Client;
let SINK = '';
let FINISHED = '';

async function counts(): Promise<Counts> {
  const r = await pg.query<Record<Table, string>>(
    `SELECT (SELECT count(*) FROM dbos.workflow_status WHERE NOT (workflow_uuid = ANY($1))) AS workflow_status,
            (SELECT count(*) FROM dbos.notifications) AS notifications,
            (SELECT count(*) FROM dbos.workflow_events) AS workflow_events,
            (SELECT count(*) FROM dbos.workflow_events_history) AS workflow_events_history,
            (SELECT count(*) FROM dbos.streams) AS streams,
            (SELECT count(*) FROM dbos.operation_outputs WHERE NOT (workflow_uuid = ANY($1) AND function_name = $2)) AS operation_outputs`,
    [harnessIDs, HARNESS_STEP],
  );
  const row = r.rows[0];
  assert.ok(row);
  const out = {} as Counts;
  for (const t of TABLES) out[t] = Number(row[t]);
  return out;
}

async function rows<T>(sql: string, params: unknown[]): Promise<T[]> {
  return (await pg.query(sql, params)).rows as T[];
}

async function collect(gen: AsyncGenerator<unknown, void, unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const v of gen) out.push(v);
  return out;
}

/** The call's outcome, or a failure if it neither resolves nor rejects in time. */
async function settle(p: Promise<unknown>, ms: number): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: no outcome after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ ok: true as const, value })), hang]);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('HANG')) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 300)}` : String(e);
}

// ---------------------------------------------------------------- the matrix

/** A receiver of one topic-less message, started before the counts are taken. */
const toReceiver = { setup: () => DBOS.startWorkflow(receiveOne)(null) };
type Rx = WorkflowHandle<unknown>;

/** The message and destination rows that DBOS.send and DBOSClient.send share; `send` is the one under test. */
function sendRows(send: (destination: string, message: unknown, topic?: string) => Promise<void>): Omit<Row<unknown>, 'fn'>[] {
  return [
    row<Rx>({ input: 'message: an object carrying methods and a symbol (dropped)', ...toReceiver, call: (h) => send(h.workflowID, withMethods()), expect: works(async (_, { s }) => assert.deepEqual(await s.getResult(), WITHOUT_METHODS)) }),
    row({ input: 'message: a function itself', call: () => send(SINK, () => 1), expect: rejects(E.DBOSError, /^Cannot serialize the message \(a function\)/) }),
    row({ input: 'message: a symbol itself', call: () => send(SINK, Symbol('s')), expect: rejects(E.DBOSError, /^Cannot serialize the message \(Symbol\(s\)\)/) }),
    row<Rx>({ input: 'message: a circular object', ...toReceiver, call: (h) => send(h.workflowID, circular()), expect: works(async (_, { s }) => assertCircular(await s.getResult())) }),
    row<WorkflowHandle<boolean>>({
      input: 'message: 10 MB',
      setup: () => DBOS.startWorkflow(receiveIsBig)(),
      call: (h) => send(h.workflowID, BIG, 'big'),
      expect: works(async (_, { s }) => assert.equal(await s.getResult(), true, 'the receiver got the 10 MB message intact')),
    }),
    row({ input: 'destination: empty', call: () => send('', 1), expect: rejects(E.DBOSNonExistentWorkflowError, /^Sent to non-existent destination workflow UUID: $/) }),
    row({ input: 'destination: a number', call: () => send(bad<string>(42), 1), expect: rejects(E.DBOSError, /Invalid destination workflow ID 42/) }),
  ];
}

const MATRIX: Row<unknown>[] = [
  // ---- DBOS.startWorkflow (and the workflow's arguments)
  ...[
    row({
      input: 'argument: an object carrying methods and a symbol (dropped)',
      call: async () => {
        const h = await DBOS.startWorkflow(echo)(withMethods());
        return { result: await h.getResult(), stored: (await DBOS.getWorkflowStatus(h.workflowID))?.input?.[0] };
      },
      expect: works((r) => {
        const { result, stored } = r as { result: unknown; stored: unknown };
        assert.deepEqual(result, WITHOUT_METHODS);
        assert.deepEqual(stored, WITHOUT_METHODS);
      }),
    }),
    row({ input: 'argument: a function itself', call: () => DBOS.startWorkflow(echo)(() => 1), expect: rejects(E.DBOSInvalidWorkflowInputError, /^Could not serialize the arguments to workflow matrixEcho: Cannot serialize argument 0 \(a function\)/) }),
    row({ input: 'argument: a symbol itself', call: () => (DBOS.startWorkflow(echo) as unknown as (...args: unknown[]) => Promise<unknown>)(1, Symbol('s')), expect: rejects(E.DBOSInvalidWorkflowInputError, /^Could not serialize the arguments to workflow matrixEcho: Cannot serialize argument 1 \(Symbol\(s\)\)/) }),
    // The stored result, as any reader (a recovery, another process) sees it.
    row({
      input: 'returns an object carrying methods and a symbol (dropped)',
      call: async () => {
        const h = await DBOS.startWorkflow(returnsMethods)();
        await h.getResult();
        return (await DBOS.getWorkflowStatus(h.workflowID))?.output;
      },
      expect: works((r) => assert.deepEqual(r, { v: 1, nested: [{ w: 2 }] })),
    }),
    // The workflow ran, so its row stays, in ERROR.
    row({
      input: 'returns a function itself',
      call: async () => (await DBOS.startWorkflow(returnsFunction)()).getResult(),
      expect: rejects(E.DBOSError, /^Cannot serialize the return value of workflow matrixReturnsFunction \(a function\)/),
      records: { workflow_status: 1 },
    }),
    row({
      input: 'enqueueOptions without a queueName',
      call: () => DBOS.startWorkflow(echo, { enqueueOptions: { deduplicationID: 'd', priority: 1, queuePartitionKey: 'p', delaySeconds: 1, applicationName: 'a' } })(1),
      expect: rejects(
        E.DBOSError,
        /^Enqueue option\(s\) deduplicationID, priority, queuePartitionKey, delaySeconds, applicationName set on a workflow that is not being enqueued\. These options are only supported when enqueueing a workflow onto a queue\.$/,
      ),
    }),
    row({ input: 'enqueueOptions: one option without a queueName', at: 'workflow', call: () => DBOS.startWorkflow(echo, { enqueueOptions: { priority: 0 } })(1), expect: rejects(E.DBOSError, /^Enqueue option\(s\) priority set on a workflow that is not being enqueued/) }),
    row({ input: 'enqueue: priority below 0', call: () => DBOS.startWorkflow(echo, { queueName: 'mq', enqueueOptions: { priority: -1 } })(1), expect: rejects(E.DBOSInvalidQueuePriorityError, /^Invalid priority -1\. Priority must be between 0 and 2147483647\.$/) }),
    row({ input: 'enqueue: priority above 2^31-1', call: () => DBOS.startWorkflow(echo, { queueName: 'mq', enqueueOptions: { priority: 2 ** 31 } })(1), expect: rejects(E.DBOSInvalidQueuePriorityError, /^Invalid priority 2147483648\./) }),
    row({ input: 'enqueue: a fractional priority', call: () => DBOS.startWorkflow(echo, { queueName: 'mq', enqueueOptions: { priority: 1.5 } })(1), expect: rejects(E.DBOSInvalidQueuePriorityError, /^Invalid priority 1\.5\./) }),
    row({ input: 'enqueue: a deduplicationID that is not a string', call: () => DBOS.startWorkflow(echo, { queueName: 'mq', enqueueOptions: { deduplicationID: 7 as unknown as string } })(1), expect: rejects(E.DBOSError, /^Invalid deduplication ID 7/) }),
    row({ input: 'enqueue: a queuePartitionKey that is not a string', call: () => DBOS.startWorkflow(echo, { queueName: 'mq', enqueueOptions: { queuePartitionKey: 7 as unknown as string } })(1), expect: rejects(E.DBOSError, /^Invalid queuePartitionKey 7/) }),
    row({ input: 'enqueueOptions: none set (allowed)', call: async () => (await DBOS.startWorkflow(echo, { enqueueOptions: { priority: undefined } })('v')).getResult(), expect: works((r) => assert.equal(r, 'v')) }),
    row({ input: 'an unregistered member of a class', call: () => (DBOS.startWorkflow(Plain) as unknown as { hello(): Promise<unknown> }).hello(), expect: rejects(E.DBOSNotRegisteredError, /hello is not a registered DBOS workflow/) }),
    row({
      input: 'argument: a circular object',
      call: async () => {
        const h = await DBOS.startWorkflow(echo)(circular());
        return { result: await h.getResult(), stored: (await DBOS.getWorkflowStatus(h.workflowID))?.input?.[0] };
      },
      expect: works((r) => {
        const { result, stored } = r as { result: unknown; stored: unknown };
        assertCircular(result);
        assertCircular(stored);
      }),
    }),
    row({
      input: 'argument: 10 MB',
      call: async () => {
        const h = await DBOS.startWorkflow(echo)(BIG);
        const same = (await h.getResult()) === BIG;
        return { same, stored: (await DBOS.getWorkflowStatus(h.workflowID))?.input?.[0] };
      },
      expect: works((r) => {
        const { same, stored } = r as { same: boolean; stored: unknown };
        assert.ok(same, 'the workflow got and returned the 10 MB argument intact');
        assertBig(stored);
      }),
    }),
    row({ input: 'workflowID: empty', call: () => DBOS.startWorkflow(echo, { workflowID: '' })(1), expect: rejects(E.DBOSError, /Invalid workflow ID "": it must be a non-empty string/) }),
    row({ input: 'workflowID: a number', call: () => DBOS.startWorkflow(echo, { workflowID: bad<string>(42) })(1), expect: rejects(E.DBOSError, /Invalid workflow ID 42: it must be a non-empty string/) }),
    row({ input: 'workflowID: a NUL character', call: () => DBOS.startWorkflow(echo, { workflowID: 'a\u0000b' })(1), expect: rejects(E.DBOSError, /NUL character/) }),
    row({ input: 'workflowID: a lone surrogate', call: () => DBOS.startWorkflow(echo, { workflowID: 'a\ud800' })(1), expect: rejects(E.DBOSError, /lone UTF-16 surrogate/) }),
    row({
      input: 'workflowID: SQL-shaped',
      call: async () => {
        const id = sqlID();
        const h = await DBOS.startWorkflow(echo, { workflowID: id })(SQL_TOPIC);
        return { id, result: await h.getResult(), status: await DBOS.getWorkflowStatus(id) };
      },
      expect: works(async (r) => {
        const { id, result, status } = r as { id: string; result: unknown; status: { workflowID: string; status: string } | null };
        assert.equal(result, SQL_TOPIC);
        assert.equal(status?.workflowID, id);
        assert.equal(status?.status, 'SUCCESS');
        assert.deepEqual(await rows('SELECT workflow_uuid FROM dbos.workflow_status WHERE workflow_uuid = $1', [id]), [{ workflow_uuid: id }]);
      }),
    }),
    row({ input: 'timeoutMS: NaN', call: () => DBOS.startWorkflow(echo, { timeoutMS: NaN })(1), expect: rejects(E.DBOSError, /Invalid workflow timeout NaN/) }),
    row({ input: 'timeoutMS: negative', call: () => DBOS.startWorkflow(echo, { timeoutMS: -1 })(1), expect: rejects(E.DBOSError, /Invalid workflow timeout -1/) }),
    row({ input: 'timeoutMS: Infinity', call: () => DBOS.startWorkflow(echo, { timeoutMS: Infinity })(1), expect: rejects(E.DBOSError, /Invalid workflow timeout Infinity/) }),
    row({ input: 'timeoutMS: a string', call: () => DBOS.startWorkflow(echo, { timeoutMS: '5' as unknown as number })(1), expect: rejects(E.DBOSError, /Invalid workflow timeout "5"/) }),
    row({ input: 'an unregistered function', call: async () => DBOS.startWorkflow(async () => 1)(), expect: rejects(E.DBOSNotRegisteredError, /is not a registered DBOS workflow/) }),
    row({ input: 'called in a step', at: 'step', call: () => DBOS.startWorkflow(echo)(1), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /inside a `step`/) }),
  ].map(named('DBOS.startWorkflow')),

  // ---- DBOS.send
  ...[
    ...sendRows((destination, message, topic) => DBOS.send(destination, message, topic)),
    row({ input: 'destination: a NUL character', call: () => DBOS.send('a\u0000b', 1), expect: rejects(E.DBOSError, /NUL character/) }),
    row({ input: 'destination: unknown workflow', call: () => DBOS.send(unknownID(), 1), expect: rejects(E.DBOSNonExistentWorkflowError, /^Sent to non-existent destination workflow UUID: unknown-/) }),
    row({ input: 'topic: a number', call: () => DBOS.send(SINK, 1, bad<string>(7)), expect: rejects(E.DBOSError, /Invalid topic 7/) }),
    row({ input: 'topic: a lone surrogate', call: () => DBOS.send(SINK, 1, 'x\udc00'), expect: rejects(E.DBOSError, /lone UTF-16 surrogate/) }),
    row({ input: 'topic: 8000 bytes', call: () => DBOS.send(SINK, 1, LONG_TOPIC), expect: rejects(E.DBOSError, /notification trigger allows at most 7999/) }),
    row<Rx>({ input: 'topic: empty string', setup: () => DBOS.startWorkflow(receiveOne)(''), call: (h) => DBOS.send(h.workflowID, 'to empty', ''), expect: works(async (_, { s }) => assert.equal(await s.getResult(), 'to empty')) }),
    row({ input: 'idempotencyKey: a number', call: () => DBOS.send(SINK, 1, undefined, bad<string>(5)), expect: rejects(E.DBOSError, /Invalid idempotency key 5/) }),
    row({ input: 'idempotencyKey: empty', call: () => DBOS.send(SINK, 1, undefined, ''), expect: rejects(E.DBOSError, /Invalid idempotency key ""/) }),
    row({ input: 'serializationType: unknown', call: () => DBOS.send(SINK, 1, undefined, undefined, { serializationType: bad<'portable'>('bogus') }), expect: rejects(E.DBOSError, /Invalid serializationType "bogus"/) }),
    row<{ id: string; h: Rx }>({
      input: 'SQL-shaped destination, topic and idempotency key',
      setup: async () => {
        const id = sqlID();
        return { id, h: await DBOS.startWorkflow(receiveOne, { workflowID: id })(SQL_TOPIC) };
      },
      call: ({ id }) => DBOS.send(id, 'sql ok', SQL_TOPIC, SQL_KEY),
      expect: works(async (_, { s }) => {
        assert.equal(await s.h.getResult(), 'sql ok');
        const stored = await rows<{ destination_uuid: string; topic: string; message_uuid: string }>(
          'SELECT destination_uuid, topic, message_uuid FROM dbos.notifications WHERE destination_uuid = $1',
          [s.id],
        );
        assert.deepEqual(stored, [{ destination_uuid: s.id, topic: SQL_TOPIC, message_uuid: `${SQL_KEY}::${s.id}` }]);
      }),
    }),
    row({ input: 'message: a function itself', at: 'workflow', call: () => DBOS.send(SINK, () => 1), expect: rejects(E.DBOSError, /^Cannot serialize the message \(a function\)/) }),
    row({ input: 'destination: empty', at: 'workflow', call: () => DBOS.send('', 1), expect: rejects(E.DBOSNonExistentWorkflowError, /^Sent to non-existent destination workflow UUID: $/), records: { operation_outputs: 1 } }),
    // Recorded at the send's function ID, so a replay fails the same way without sending.
    row({ input: 'destination: unknown workflow', at: 'workflow', call: () => DBOS.send(unknownID(), 1), expect: rejects(E.DBOSNonExistentWorkflowError, /Sent to non-existent destination/), records: { operation_outputs: 1 } }),
    row({ input: 'destination: empty', at: 'step', call: () => DBOS.send('', 1), expect: rejects(E.DBOSNonExistentWorkflowError, /^Sent to non-existent destination workflow UUID: $/) }),
    row<Rx>({ input: 'a valid send (allowed in a step)', at: 'step', setup: () => DBOS.startWorkflow(receiveOne)('s'), call: (h) => DBOS.send(h.workflowID, 'from a step', 's'), expect: works(async (_, { s }) => assert.equal(await s.getResult(), 'from a step')) }),
  ].map(named('DBOS.send')),

  // ---- DBOS.recv
  ...[
    row({ input: 'called outside a workflow', call: () => DBOS.recv('t', 1), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /outside of a workflow/) }),
    row({ input: 'called in a step', at: 'step', call: () => DBOS.recv('t', 1), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /inside a `step`/) }),
    row({ input: 'timeout: NaN', at: 'workflow', call: () => DBOS.recv('t', NaN), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: negative', at: 'workflow', call: () => DBOS.recv('t', -1), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: Infinity', at: 'workflow', call: () => DBOS.recv('t', Infinity), expect: rejects(E.DBOSError, /^Invalid timeout Infinity: timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'deadlineEpochMS: NaN', at: 'workflow', call: () => DBOS.recv('t', { deadlineEpochMS: NaN }), expect: rejects(E.DBOSError, /Invalid deadlineEpochMS/) }),
    row({ input: 'pollingIntervalMs: 0', at: 'workflow', call: () => DBOS.recv('t', { timeoutSeconds: 1, pollingIntervalMs: 0 }), expect: rejects(E.DBOSError, /pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'topic: a number', at: 'workflow', call: () => DBOS.recv(bad<string>(7), 0), expect: rejects(E.DBOSError, /Invalid topic 7/) }),
    row({ input: 'topic: a NUL character', at: 'workflow', call: () => DBOS.recv('a\u0000', 0), expect: rejects(E.DBOSError, /NUL character/) }),
    row({ input: 'timeout 0, nothing sent', at: 'workflow', call: () => DBOS.recv('t', 0), expect: works((r) => assert.equal(r, null)) }),
  ].map(named('DBOS.recv')),

  // ---- DBOS.setEvent
  ...[
    row({ input: 'called outside a workflow', call: () => DBOS.setEvent('k', 1), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /outside of a workflow/) }),
    row({ input: 'called in a step', at: 'step', call: () => DBOS.setEvent('k', 1), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /inside a `step`/) }),
    row({ input: 'value: an object carrying methods and a symbol (dropped)', at: 'workflow', call: () => DBOS.setEvent('m', withMethods()), expect: works(async (_, { wf }) => assert.deepEqual(await DBOS.getEvent(wf, 'm', 0), WITHOUT_METHODS)) }),
    row({ input: 'value: a function itself', at: 'workflow', call: () => DBOS.setEvent('k', () => 1), expect: rejects(E.DBOSError, /^Cannot serialize the value of event "k" \(a function\)/) }),
    row({ input: 'value: a symbol itself', at: 'workflow', call: () => DBOS.setEvent('k', Symbol('s')), expect: rejects(E.DBOSError, /^Cannot serialize the value of event "k" \(Symbol\(s\)\)/) }),
    row({ input: 'value: a circular object', at: 'workflow', call: () => DBOS.setEvent('c', circular()), expect: works(async (_, { wf }) => assertCircular(await DBOS.getEvent(wf, 'c', 0))) }),
    row({ input: 'value: 10 MB', at: 'workflow', call: () => DBOS.setEvent('big', BIG), expect: works(async (_, { wf }) => assertBig(await DBOS.getEvent(wf, 'big', 0))) }),
    row({ input: 'key: a number', at: 'workflow', call: () => DBOS.setEvent(bad<string>(5), 1), expect: rejects(E.DBOSError, /Invalid event key 5/) }),
    row({ input: 'key: a lone surrogate', at: 'workflow', call: () => DBOS.setEvent('\ud800', 1), expect: rejects(E.DBOSError, /lone UTF-16 surrogate/) }),
    row({ input: 'key: empty string', at: 'workflow', call: () => DBOS.setEvent('', 'empty key'), expect: works(async (_, { wf }) => assert.equal(await DBOS.getEvent(wf, '', 0), 'empty key')) }),
    row({
      input: 'key: SQL-shaped',
      at: 'workflow',
      call: () => DBOS.setEvent(SQL_KEY, 'sql ok'),
      expect: works(async (_, { wf }) => {
        assert.equal(await DBOS.getEvent(wf, SQL_KEY, 0), 'sql ok');
        assert.deepEqual(await rows('SELECT key FROM dbos.workflow_events WHERE workflow_uuid = $1', [wf]), [{ key: SQL_KEY }]);
      }),
    }),
    row({ input: 'serializationType: unknown', at: 'workflow', call: () => DBOS.setEvent('k', 1, { serializationType: bad<'native'>('bogus') }), expect: rejects(E.DBOSError, /Invalid serializationType "bogus"/) }),
  ].map(named('DBOS.setEvent')),

  // ---- DBOS.getEvent
  ...[
    row({ input: 'workflowID: empty', call: () => DBOS.getEvent('', 'k', 0), expect: rejects(E.DBOSError, /Invalid workflow ID "": it must be a non-empty string/) }),
    row({ input: 'workflowID: a number', call: () => DBOS.getEvent(bad<string>(42), 'k', 0), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'key: a number', call: () => DBOS.getEvent(FINISHED, bad<string>(5), 0), expect: rejects(E.DBOSError, /Invalid event key 5/) }),
    row({ input: 'timeout: NaN', call: () => DBOS.getEvent(FINISHED, 'k', NaN), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: negative', call: () => DBOS.getEvent(FINISHED, 'k', -1), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: Infinity', call: () => DBOS.getEvent(FINISHED, 'k', Infinity), expect: rejects(E.DBOSError, /^Invalid timeout Infinity: timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeoutSeconds: -Infinity in options', call: () => DBOS.getEvent(FINISHED, 'k', { timeoutSeconds: -Infinity }), expect: rejects(E.DBOSError, /^Invalid timeout -Infinity:/) }),
    row({ input: 'pollingIntervalMs: NaN', call: () => DBOS.getEvent(FINISHED, 'k', { pollingIntervalMs: NaN }), expect: rejects(E.DBOSError, /pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'unknown workflow, timeout 0', call: () => DBOS.getEvent(unknownID(), 'k', 0), expect: works((r) => assert.equal(r, null)) , writesNothing: true }),
    row({ input: 'SQL-shaped key', call: () => DBOS.getEvent(FINISHED, SQL_KEY, 0), expect: works((r) => assert.equal(r, 'sql')) }),
    row({ input: 'called in a step', at: 'step', call: () => DBOS.getEvent(FINISHED, 'k', 0), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /inside a `step`/) }),
    row({ input: 'timeout: NaN', at: 'workflow', call: () => DBOS.getEvent(FINISHED, 'k', NaN), expect: rejects(E.DBOSError, /timeoutSeconds/) }),
    row({ input: 'unknown workflow, timeout 0', at: 'workflow', call: () => DBOS.getEvent(unknownID(), 'k', 0), expect: works((r) => assert.equal(r, null)) }),
  ].map(named('DBOS.getEvent')),

  // ---- DBOS.writeStream
  ...[
    row({ input: 'called outside a workflow', call: () => DBOS.writeStream('k', 1), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /outside of a workflow or step/) }),
    row({ input: 'value: an object carrying methods and a symbol (dropped)', at: 'workflow', call: () => DBOS.writeStream('m', withMethods()), expect: works(async (_, { wf }) => assert.deepEqual(await collect(DBOS.readStream(wf, 'm')), [WITHOUT_METHODS])) }),
    row({ input: 'value: a function itself', at: 'workflow', call: () => DBOS.writeStream('k', () => 1), expect: rejects(E.DBOSError, /^Cannot serialize the value written to stream "k" \(a function\)/) }),
    row({ input: 'value: a symbol itself', at: 'workflow', call: () => DBOS.writeStream('k', Symbol('s')), expect: rejects(E.DBOSError, /^Cannot serialize the value written to stream "k" \(Symbol\(s\)\)/) }),
    row({ input: 'value: a circular object', at: 'workflow', call: () => DBOS.writeStream('c', circular()), expect: works(async (_, { wf }) => {
      const got = await collect(DBOS.readStream(wf, 'c'));
      assert.equal(got.length, 1);
      assertCircular(got[0]);
    }) }),
    row({ input: 'value: 10 MB', at: 'workflow', call: () => DBOS.writeStream('big', BIG), expect: works(async (_, { wf }) => {
      const got = await collect(DBOS.readStream(wf, 'big'));
      assert.equal(got.length, 1);
      assertBig(got[0]);
    }) }),
    row({ input: 'key: a number', at: 'workflow', call: () => DBOS.writeStream(bad<string>(7), 1), expect: rejects(E.DBOSError, /Invalid stream key 7/) }),
    row({ input: 'key: empty string', at: 'workflow', call: () => DBOS.writeStream('', 'e'), expect: works(async (_, { wf }) => assert.deepEqual(await collect(DBOS.readStream(wf, '')), ['e'])) }),
    row({ input: 'key: SQL-shaped', at: 'workflow', call: () => DBOS.writeStream(SQL_KEY, 'sql ok'), expect: works(async (_, { wf }) => {
      assert.deepEqual(await collect(DBOS.readStream(wf, SQL_KEY)), ['sql ok']);
      assert.deepEqual(await rows('SELECT key FROM dbos.streams WHERE workflow_uuid = $1', [wf]), [{ key: SQL_KEY }]);
    }) }),
    row({ input: 'serializationType: unknown', at: 'workflow', call: () => DBOS.writeStream('k', 1, { serializationType: bad<'native'>('bogus') }), expect: rejects(E.DBOSError, /Invalid serializationType "bogus"/) }),
    row({ input: 'value: a function itself', at: 'step', call: () => DBOS.writeStream('k', () => 1), expect: rejects(E.DBOSError, /^Cannot serialize the value written to stream "k" \(a function\)/) }),
    row({ input: 'value: an object carrying methods (dropped)', at: 'step', call: () => DBOS.writeStream('m', withMethods()), expect: works(async (_, { wf }) => assert.deepEqual(await collect(DBOS.readStream(wf, 'm')), [WITHOUT_METHODS])) }),
    row({ input: 'a valid write (allowed in a step)', at: 'step', call: () => DBOS.writeStream('k', 'from a step'), expect: works(async (_, { wf }) => assert.deepEqual(await collect(DBOS.readStream(wf, 'k')), ['from a step'])) }),
  ].map(named('DBOS.writeStream')),

  // ---- DBOS.closeStream
  ...[
    row({ input: 'called outside a workflow', call: () => DBOS.closeStream('k'), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /outside of a workflow or step/) }),
    row({ input: 'key: a number', at: 'workflow', call: () => DBOS.closeStream(bad<string>(7)), expect: rejects(E.DBOSError, /Invalid stream key 7/) }),
    row({ input: 'a valid close (allowed in a step)', at: 'step', call: () => DBOS.closeStream('k'), expect: works(async (_, { wf }) => assert.deepEqual(await collect(DBOS.readStream(wf, 'k')), [])) }),
  ].map(named('DBOS.closeStream')),

  // ---- DBOS.readStream (the stream `k` of FINISHED holds 0, 1, 2 and is closed)
  ...[
    row({ input: 'workflowID: empty', call: () => collect(DBOS.readStream('', 'k')), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => collect(DBOS.readStream(bad<string>(42), 'k')), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'key: a number', call: () => collect(DBOS.readStream(FINISHED, bad<string>(7))), expect: rejects(E.DBOSError, /Invalid stream key 7/) }),
    row({ input: 'offset: negative', call: () => collect(DBOS.readStream(FINISHED, 'k', { offset: -1 })), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'offset: fractional', call: () => collect(DBOS.readStream(FINISHED, 'k', { offset: 1.5 })), expect: rejects(E.DBOSError, /^Invalid offset 1\.5: offset must be a non-negative integer/) }),
    row({ input: 'offset: a string', call: () => collect(DBOS.readStream(FINISHED, 'k', { offset: bad<number>('1') })), expect: rejects(E.DBOSError, /^Invalid offset "1": offset must be a non-negative integer/) }),
    row({ input: 'offset: NaN', call: () => collect(DBOS.readStream(FINISHED, 'k', { offset: NaN })), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'timeoutSeconds: negative', call: () => collect(DBOS.readStream(FINISHED, 'k', { timeoutSeconds: -1 })), expect: rejects(E.DBOSError, /timeoutSeconds must not be negative/) }),
    row({ input: 'timeoutSeconds: NaN', call: () => collect(DBOS.readStream(FINISHED, 'k', { timeoutSeconds: NaN })), expect: rejects(E.DBOSError, /timeoutSeconds must not be negative/) }),
    row({ input: 'timeoutSeconds: Infinity', call: () => collect(DBOS.readStream(FINISHED, 'k', { timeoutSeconds: Infinity })), expect: rejects(E.DBOSError, /timeoutSeconds must not be negative/) }),
    row({ input: 'pollingIntervalMs: 0', call: () => collect(DBOS.readStream(FINISHED, 'k', { pollingIntervalMs: 0 })), expect: rejects(E.DBOSError, /pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'pollingIntervalMs: 0.5', call: () => collect(DBOS.readStream(FINISHED, 'k', { pollingIntervalMs: 0.5 })), expect: rejects(E.DBOSError, /pollingIntervalMs must be at least 1 millisecond/) }),
    row({ input: 'unknown workflow', call: () => collect(DBOS.readStream(unknownID(), 'k')), expect: rejects(E.DBOSNonExistentWorkflowError, /^Workflow unknown-.* does not exist$/) }),
    row({ input: 'offset past the end of a closed stream', call: () => collect(DBOS.readStream(FINISHED, 'k', { offset: 7 })), expect: works((r) => assert.deepEqual(r, [])) , writesNothing: true }),
    row({ input: 'SQL-shaped key', call: () => collect(DBOS.readStream(FINISHED, SQL_KEY)), expect: works((r) => assert.deepEqual(r, ['sql'])) }),
    row({ input: 'unknown workflow', at: 'workflow', call: () => collect(DBOS.readStream(unknownID(), 'k')), expect: rejects(E.DBOSNonExistentWorkflowError, /does not exist/) }),
    row({ input: 'a read (a plain read in a step)', at: 'step', call: () => collect(DBOS.readStream(FINISHED, 'k')), expect: works((r) => assert.deepEqual(r, [0, 1, 2])) }),
  ].map(named('DBOS.readStream')),

  // ---- DBOS.readStreamOffset
  ...[
    row({ input: 'offset: negative', call: () => DBOS.readStreamOffset(FINISHED, 'k', -1), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'offset: NaN', call: () => DBOS.readStreamOffset(FINISHED, 'k', NaN), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'offset: a string', call: () => DBOS.readStreamOffset(FINISHED, 'k', bad<number>('1')), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'offset: 2^31', call: () => DBOS.readStreamOffset(FINISHED, 'k', 2 ** 31), expect: rejects(E.DBOSError, /offset must be below 2\^31/) }),
    row({ input: 'offset: Infinity', call: () => DBOS.readStreamOffset(FINISHED, 'k', Infinity), expect: rejects(E.DBOSError, /^Invalid offset Infinity: offset must be a non-negative integer/) }),
    row({ input: 'pollingIntervalMs: Infinity', call: () => DBOS.readStreamOffset(FINISHED, 'k', 0, { pollingIntervalMs: Infinity }), expect: rejects(E.DBOSError, /^Invalid pollingIntervalMs Infinity: pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'timeoutSeconds: -Infinity', call: () => DBOS.readStreamOffset(FINISHED, 'k', 0, { timeoutSeconds: -Infinity }), expect: rejects(E.DBOSError, /^Invalid timeoutSeconds -Infinity: timeoutSeconds must not be negative/) }),
    row({ input: 'timeoutSeconds: negative', call: () => DBOS.readStreamOffset(FINISHED, 'k', 0, { timeoutSeconds: -1 }), expect: rejects(E.DBOSError, /timeoutSeconds must not be negative/) }),
    row({ input: 'workflowID: empty', call: () => DBOS.readStreamOffset('', 'k', 0), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'unknown workflow', call: () => DBOS.readStreamOffset(unknownID(), 'k', 0), expect: rejects(E.DBOSNonExistentWorkflowError, /does not exist/) }),
    row({ input: 'offset past the end of a closed stream', call: () => DBOS.readStreamOffset(FINISHED, 'k', 3), expect: rejects(E.DBOSStreamTimeoutError, /stream k/) }),
    row({ input: 'a valid offset', call: () => DBOS.readStreamOffset(FINISHED, 'k', 2), expect: works((r) => assert.equal(r, 2)) }),
    // The end is recorded, so a replay ends at the same place.
    row({ input: 'offset past the end of a closed stream', at: 'workflow', call: () => DBOS.readStreamOffset(FINISHED, 'k', 3), expect: rejects(E.DBOSStreamTimeoutError, /stream k/), records: { operation_outputs: 1 } }),
  ].map(named('DBOS.readStreamOffset')),

  // ---- DBOS.getResult
  ...[
    row({ input: 'workflowID: empty', call: () => DBOS.getResult('', 0), expect: rejects(E.DBOSError, /Invalid workflow ID "": it must be a non-empty string/) }),
    row({ input: 'workflowID: a number', call: () => DBOS.getResult(bad<string>(42), 0), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'timeout: NaN', call: () => DBOS.getResult(SINK, NaN), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: negative', call: () => DBOS.getResult(SINK, -1), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: Infinity', call: () => DBOS.getResult(SINK, Infinity), expect: rejects(E.DBOSError, /^Invalid timeout Infinity: timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeoutSeconds: a string', call: () => DBOS.getResult(SINK, { timeoutSeconds: bad<number>('1') }), expect: rejects(E.DBOSError, /^Invalid timeout "1": timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'pollingIntervalMs: -Infinity', call: () => DBOS.getResult(SINK, { timeoutSeconds: 1, pollingIntervalMs: -Infinity }), expect: rejects(E.DBOSError, /^Invalid pollingIntervalMs -Infinity: pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'deadlineEpochMS: NaN', call: () => DBOS.getResult(SINK, { deadlineEpochMS: NaN }), expect: rejects(E.DBOSError, /Invalid deadlineEpochMS NaN/) }),
    row({ input: 'pollingIntervalMs: 0', call: () => DBOS.getResult(SINK, { timeoutSeconds: 1, pollingIntervalMs: 0 }), expect: rejects(E.DBOSError, /pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'unknown workflow, timeout 0.05', call: () => DBOS.getResult(unknownID(), 0.05), expect: works((r) => assert.equal(r, null)) , writesNothing: true }),
    row({ input: 'timeout: NaN', at: 'workflow', call: () => DBOS.getResult(SINK, NaN), expect: rejects(E.DBOSError, /timeoutSeconds/) }),
    row({ input: 'unknown workflow, timeout 0', at: 'workflow', call: () => DBOS.getResult(unknownID(), 0), expect: works((r) => assert.equal(r, null)) }),
  ].map(named('DBOS.getResult')),

  // ---- DBOS.retrieveWorkflow
  ...[
    row({ input: 'workflowID: empty', call: async () => DBOS.retrieveWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: async () => DBOS.retrieveWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({
      input: 'unknown workflow',
      call: async () => {
        const id = unknownID();
        const h = DBOS.retrieveWorkflow(id);
        return { id, handleID: h.workflowID, status: await h.getStatus() };
      },
      expect: works((r) => {
        const { id, handleID, status } = r as { id: string; handleID: string; status: unknown };
        assert.equal(handleID, id);
        assert.equal(status, null);
      }),
      writesNothing: true,
    }),
    row({ input: 'called in a step', at: 'step', call: async () => DBOS.retrieveWorkflow(SINK), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /inside a `step`/) }),
  ].map(named('DBOS.retrieveWorkflow')),

  // ---- DBOS.getWorkflowStatus
  ...[
    row({ input: 'workflowID: empty', call: () => DBOS.getWorkflowStatus(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => DBOS.getWorkflowStatus(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'workflowID: a NUL character', call: () => DBOS.getWorkflowStatus('\u0000'), expect: rejects(E.DBOSError, /NUL character/) }),
    row({ input: 'unknown workflow', call: () => DBOS.getWorkflowStatus(unknownID()), expect: works((r) => assert.equal(r, null)) , writesNothing: true }),
    row({ input: 'workflowID: a number', at: 'workflow', call: () => DBOS.getWorkflowStatus(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
  ].map(named('DBOS.getWorkflowStatus')),

  // ---- DBOS.cancelWorkflow
  ...[
    row({ input: 'workflowID: empty', call: () => DBOS.cancelWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => DBOS.cancelWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    // As in DBOS: cancelling an unknown workflow is a no-op (and creates no row).
    row({ input: 'unknown workflow', call: () => DBOS.cancelWorkflow(unknownID()), expect: works((r) => assert.equal(r, undefined)), writesNothing: true }),
    row({ input: 'workflowID: a number', at: 'workflow', call: () => DBOS.cancelWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
  ].map(named('DBOS.cancelWorkflow')),

  // ---- DBOS.resumeWorkflow
  ...[
    row({ input: 'workflowID: empty', call: () => DBOS.resumeWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => DBOS.resumeWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'unknown workflow', call: () => DBOS.resumeWorkflow(unknownID()), expect: rejects(E.DBOSNonExistentWorkflowError, /^Workflow unknown-.* does not exist$/) }),
    row({ input: 'queueName: a number', call: () => DBOS.resumeWorkflow(SINK, { queueName: bad<string>(42) }), expect: rejects(E.DBOSError, /Invalid queueName 42/) }),
    // Recorded like a step, so a replay fails the same way.
    row({ input: 'unknown workflow', at: 'workflow', call: () => DBOS.resumeWorkflow(unknownID()), expect: rejects(E.DBOSNonExistentWorkflowError, /does not exist/), records: { operation_outputs: 1 } }),
  ].map(named('DBOS.resumeWorkflow')),

  // ---- DBOS.sleep
  ...[
    row({ input: 'duration: NaN', call: () => DBOS.sleep(NaN), expect: rejects(E.DBOSError, /Invalid sleep duration NaN: it must be a finite number/) }),
    row({ input: 'duration: Infinity', call: () => DBOS.sleep(Infinity), expect: rejects(E.DBOSError, /Invalid sleep duration Infinity/) }),
    row({ input: 'duration: a string', call: () => DBOS.sleep(bad<number>('10')), expect: rejects(E.DBOSError, /^Invalid sleep duration "10"/) }),
    row({ input: 'duration: negative (returns at once)', call: () => DBOS.sleep(-5), expect: works() , writesNothing: true }),
    row({ input: 'duration: NaN', at: 'workflow', call: () => DBOS.sleep(NaN), expect: rejects(E.DBOSError, /Invalid sleep duration NaN/) }),
    row({ input: 'duration: negative (returns at once, records nothing)', at: 'workflow', call: () => DBOS.sleep(-5), expect: works(async (_, { wf }) => assert.deepEqual(await steps(url, wf), [])) }),
    row({ input: 'duration: 10 ms (a plain timer in a step)', at: 'step', call: () => DBOS.sleep(10), expect: works(async (_, { wf }) => assert.deepEqual((await steps(url, wf)).map((s) => s.function_name), [HARNESS_STEP])) }),
  ].map(named('DBOS.sleep')),

  // ---- DBOS.runStep
  ...[
    row({ input: 'func: not a function', call: () => DBOS.runStep(bad<() => Promise<number>>(5)), expect: rejects(TypeError, /DBOS.runStep needs a function to run, got number/) }),
    row({ input: 'timeoutMS: NaN', call: () => DBOS.runStep(async () => 1, { timeoutMS: NaN }), expect: rejects(E.DBOSError, /timeoutMS must be a positive finite number/) }),
    row({ input: 'timeoutMS: negative', call: () => DBOS.runStep(async () => 1, { timeoutMS: -1 }), expect: rejects(E.DBOSError, /timeoutMS must be a positive finite number/) }),
    row({ input: 'timeoutMS: Infinity', call: () => DBOS.runStep(async () => 1, { timeoutMS: Infinity }), expect: rejects(E.DBOSError, /timeoutMS must be a positive finite number/) }),
    row({ input: 'maxAttempts: 0', call: () => DBOS.runStep(async () => 1, { retriesAllowed: true, maxAttempts: 0 }), expect: rejects(E.DBOSError, /maxAttempts must be a positive integer/) }),
    row({ input: 'intervalSeconds: negative', call: () => DBOS.runStep(async () => 1, { retriesAllowed: true, intervalSeconds: -1 }), expect: rejects(E.DBOSError, /intervalSeconds must be a non-negative number/) }),
    row({ input: 'a plain call outside a workflow', call: () => DBOS.runStep(async () => 'plain'), expect: works((r) => assert.equal(r, 'plain')) }),
    // The step's failure is its checkpoint: a replay fails the same way without running it again.
    row({ input: 'returns a function', at: 'workflow', call: () => DBOS.runStep(async () => (() => 1) as unknown, { name: 'fnStep' }), expect: rejects(E.DBOSError, /Cannot serialize/), records: { operation_outputs: 1 } }),
    row({ input: 'returns a symbol', at: 'workflow', call: () => DBOS.runStep(async () => Symbol('s') as unknown, { name: 'symStep' }), expect: rejects(E.DBOSError, /^Cannot serialize the return value of step symStep \(Symbol\(s\)\)/), records: { operation_outputs: 1 } }),
    row({ input: 'returns an object carrying methods and a symbol (dropped)', at: 'workflow', call: () => DBOS.runStep(async () => withMethods(), { name: 'methodsStep' }), expect: works((r) => assert.deepEqual(r, WITHOUT_METHODS)) }),
    row({ input: 'returns a circular object', at: 'workflow', call: () => DBOS.runStep(async () => circular(), { name: 'loopStep' }), expect: works((r) => assertCircular(r)) }),
    row({ input: 'returns 10 MB', at: 'workflow', call: async () => (await DBOS.runStep(async () => BIG, { name: 'bigStep' })) === BIG, expect: works((r) => assert.equal(r, true)) }),
    row({ input: 'timeoutMS: NaN', at: 'workflow', call: () => DBOS.runStep(async () => 1, { timeoutMS: NaN }), expect: rejects(E.DBOSError, /timeoutMS must be a positive finite number/) }),
    row({ input: 'nested in a step (a plain call)', at: 'step', call: () => DBOS.runStep(async () => 'nested', { name: 'inner' }), expect: works((r) => assert.equal(r, 'nested')) }),
  ].map(named('DBOS.runStep')),

  // ---- DBOSClient.send
  ...[
    ...sendRows((destination, message, topic) => client.send(destination, message, topic)),
    row({ input: 'destination: unknown workflow', call: () => client.send(unknownID(), 1), expect: rejects(E.DBOSNonExistentWorkflowError, /Sent to non-existent destination workflow UUID/) }),
    row({ input: 'topic: a number', call: () => client.send(SINK, 1, bad<string>(7)), expect: rejects(E.DBOSError, /Invalid topic 7/) }),
    row({ input: 'topic: 8000 bytes', call: () => client.send(SINK, 1, LONG_TOPIC), expect: rejects(E.DBOSError, /notification trigger allows at most 7999/) }),
    row<{ id: string; h: Rx }>({
      input: 'SQL-shaped destination, topic and idempotency key',
      setup: async () => {
        const id = sqlID();
        return { id, h: await DBOS.startWorkflow(receiveOne, { workflowID: id })(SQL_TOPIC) };
      },
      call: ({ id }) => client.send(id, 'sql ok', SQL_TOPIC, SQL_KEY),
      expect: works(async (_, { s }) => {
        assert.equal(await s.h.getResult(), 'sql ok');
        assert.deepEqual(await rows('SELECT topic, message_uuid FROM dbos.notifications WHERE destination_uuid = $1', [s.id]), [
          { topic: SQL_TOPIC, message_uuid: `${SQL_KEY}::${s.id}` },
        ]);
      }),
    }),
    // A client is never part of the calling workflow: nothing is checkpointed.
    row<Rx>({
      input: 'called from workflow code (not recorded)',
      at: 'workflow',
      setup: () => DBOS.startWorkflow(receiveOne)('c'),
      call: (h) => client.send(h.workflowID, 'via client', 'c'),
      expect: works(async (_, { s, wf }) => {
        assert.equal(await s.getResult(), 'via client');
        assert.deepEqual(await steps(url, wf), []);
      }),
    }),
  ].map(named('DBOSClient.send')),

  // ---- DBOSClient.getEvent
  ...[
    row({ input: 'workflowID: empty', call: () => client.getEvent('', 'k', 0), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => client.getEvent(bad<string>(42), 'k', 0), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'key: a number', call: () => client.getEvent(FINISHED, bad<string>(5), 0), expect: rejects(E.DBOSError, /Invalid event key 5/) }),
    row({ input: 'timeout: NaN', call: () => client.getEvent(FINISHED, 'k', NaN), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: negative', call: () => client.getEvent(FINISHED, 'k', -1), expect: rejects(E.DBOSError, /timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'timeout: Infinity', call: () => client.getEvent(FINISHED, 'k', Infinity), expect: rejects(E.DBOSError, /^Invalid timeout Infinity: timeoutSeconds must be a finite, non-negative number/) }),
    row({ input: 'pollingIntervalMs: Infinity', call: () => client.getEvent(FINISHED, 'k', { pollingIntervalMs: Infinity }), expect: rejects(E.DBOSError, /^Invalid pollingIntervalMs Infinity: pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'unknown workflow, timeout 0', call: () => client.getEvent(unknownID(), 'k', 0), expect: works((r) => assert.equal(r, null)) , writesNothing: true }),
    row({ input: 'SQL-shaped key', call: () => client.getEvent(FINISHED, SQL_KEY, 0), expect: works((r) => assert.equal(r, 'sql')) }),
    row({ input: 'called in a step (allowed for a client)', at: 'step', call: () => client.getEvent(FINISHED, 'k', 0), expect: works((r) => assert.equal(r, 'v')) }),
  ].map(named('DBOSClient.getEvent')),

  // ---- DBOSClient.readStream
  ...[
    row({ input: 'workflowID: empty', call: () => collect(client.readStream('', 'k')), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => collect(client.readStream(bad<string>(42), 'k')), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'key: a number', call: () => collect(client.readStream(FINISHED, bad<string>(7))), expect: rejects(E.DBOSError, /Invalid stream key 7/) }),
    row({ input: 'offset: negative', call: () => collect(client.readStream(FINISHED, 'k', { offset: -1 })), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'timeoutSeconds: NaN', call: () => collect(client.readStream(FINISHED, 'k', { timeoutSeconds: NaN })), expect: rejects(E.DBOSError, /timeoutSeconds must not be negative/) }),
    row({ input: 'unknown workflow', call: () => collect(client.readStream(unknownID(), 'k')), expect: rejects(E.DBOSNonExistentWorkflowError, /does not exist/) }),
    row({ input: 'SQL-shaped key', call: () => collect(client.readStream(FINISHED, SQL_KEY)), expect: works((r) => assert.deepEqual(r, ['sql'])) }),
    row<string>({
      input: 'a 10 MB value',
      setup: async () => {
        const id = `matrix-big-stream-${randomUUID()}`;
        await runIn('workflow', id, () => DBOS.writeStream('big', BIG));
        return id;
      },
      call: (id) => collect(client.readStream(id, 'big')),
      expect: works((r) => {
        assert.equal((r as unknown[]).length, 1);
        assertBig((r as unknown[])[0]);
      }),
    }),
  ].map(named('DBOSClient.readStream')),

  // ---- DBOSClient.readStreamOffset
  ...[
    row({ input: 'offset: negative', call: () => client.readStreamOffset(FINISHED, 'k', -1), expect: rejects(E.DBOSError, /offset must be a non-negative integer/) }),
    row({ input: 'offset: NaN', call: () => client.readStreamOffset(FINISHED, 'k', NaN), expect: rejects(E.DBOSError, /^Invalid offset NaN: offset must be a non-negative integer/) }),
    row({ input: 'unknown workflow', call: () => client.readStreamOffset(unknownID(), 'k', 0), expect: rejects(E.DBOSNonExistentWorkflowError, /does not exist/) }),
    row({ input: 'offset past the end of a closed stream', call: () => client.readStreamOffset(FINISHED, 'k', 3), expect: rejects(E.DBOSStreamTimeoutError, /stream k/) }),
    row({ input: 'a valid offset', call: () => client.readStreamOffset(FINISHED, 'k', 1), expect: works((r) => assert.equal(r, 1)) }),
  ].map(named('DBOSClient.readStreamOffset')),

  // ---- DBOSClient.retrieveWorkflow
  ...[
    row({ input: 'workflowID: empty', call: async () => client.retrieveWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: async () => client.retrieveWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'unknown workflow', call: () => client.retrieveWorkflow(unknownID()).getStatus(), expect: works((r) => assert.equal(r, null)) , writesNothing: true }),
  ].map(named('DBOSClient.retrieveWorkflow')),

  // ---- DBOSClient.getWorkflow
  ...[
    row({ input: 'workflowID: empty', call: () => client.getWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => client.getWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'workflowID: Infinity', call: () => client.getWorkflow(bad<string>(Infinity)), expect: rejects(E.DBOSError, /^Invalid workflow ID Infinity:/) }),
    row({ input: 'workflowID: a lone surrogate', call: () => client.getWorkflow('\udfff'), expect: rejects(E.DBOSError, /lone UTF-16 surrogate/) }),
    row({ input: 'unknown workflow', call: () => client.getWorkflow(unknownID()), expect: works((r) => assert.equal(r, undefined)) , writesNothing: true }),
    row<string>({
      input: 'workflowID: SQL-shaped',
      setup: async () => {
        const id = sqlID();
        await (await DBOS.startWorkflow(echo, { workflowID: id })('x')).getResult();
        return id;
      },
      call: (id) => client.getWorkflow(id),
      expect: works((r, { s }) => {
        const status = r as { workflowID: string; status: string } | undefined;
        assert.equal(status?.workflowID, s);
        assert.equal(status?.status, 'SUCCESS');
      }),
    }),
  ].map(named('DBOSClient.getWorkflow')),

  // ---- DBOSClient.cancelWorkflow
  ...[
    row({ input: 'workflowID: empty', call: () => client.cancelWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => client.cancelWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'unknown workflow (a no-op)', call: () => client.cancelWorkflow(unknownID()), expect: works((r) => assert.equal(r, undefined)) , writesNothing: true }),
  ].map(named('DBOSClient.cancelWorkflow')),

  // ---- DBOSClient.resumeWorkflow
  ...[
    row({ input: 'workflowID: empty', call: () => client.resumeWorkflow(''), expect: rejects(E.DBOSError, /Invalid workflow ID ""/) }),
    row({ input: 'workflowID: a number', call: () => client.resumeWorkflow(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'unknown workflow', call: () => client.resumeWorkflow(unknownID()), expect: rejects(E.DBOSNonExistentWorkflowError, /^Workflow unknown-.* does not exist$/) }),
  ].map(named('DBOSClient.resumeWorkflow')),

  // ---- MGMT2: introspection and management (DBOS and DBOSClient)
  ...[
    row({ input: 'workflowID: a number', call: () => DBOS.listWorkflowSteps(bad<string>(42)), expect: rejects(E.DBOSError, /Invalid workflow ID 42/) }),
    row({ input: 'limit: negative', call: () => client.listWorkflowSteps(FINISHED, { limit: -1 }), expect: rejects(E.DBOSError, /Invalid limit -1/) }),
    row({ input: 'unknown workflow (undefined)', call: () => client.listWorkflowSteps(unknownID()), expect: works((r) => assert.equal(r, undefined)), writesNothing: true }),
  ].map(named('listWorkflowSteps')),
  ...[
    row({ input: 'unknown workflow', call: () => DBOS.forkWorkflow(unknownID(), 0), expect: rejects(E.DBOSNonExistentWorkflowError, /^Workflow unknown-.* does not exist$/) }),
    row({ input: 'startStep: a fraction', call: () => client.forkWorkflow(FINISHED, 1.5), expect: rejects(E.DBOSError, /Invalid startStep 1.5/) }),
    row({ input: 'newWorkflowID: taken', call: () => client.forkWorkflow(FINISHED, 0, { newWorkflowID: FINISHED }), expect: rejects(E.DBOSWorkflowIDInUseError, /^Workflow ID .* is already in use by workflow matrixFinished with status SUCCESS\.$/) }),
    row({ input: 'SQL in the new ID', call: () => client.forkWorkflow(FINISHED, 0, { newWorkflowID: sqlID(), queueName: 'never-served' }), expect: works((r) => assert.match(String(r), /DROP TABLE/)) }),
  ].map(named('forkWorkflow')),
  ...[
    row({ input: 'IDs: not an array', call: () => DBOS.deleteWorkflows(bad<string[]>('x')), expect: rejects(E.DBOSError, /workflow ID/) }),
    row({ input: 'deleteChildren: a string', call: () => client.deleteWorkflow(FINISHED, bad<boolean>('yes')), expect: rejects(E.DBOSError, /Invalid deleteChildren "yes"/) }),
    row({ input: 'unknown workflow (a no-op)', call: () => client.deleteWorkflow(unknownID()), expect: works(), writesNothing: true }),
  ].map(named('deleteWorkflows')),
  ...[
    row({ input: 'no handles', call: () => DBOS.waitFirst([]), expect: rejects(E.DBOSError, /handles must not be empty/) }),
    row({ input: 'pollingIntervalMs: 0', call: () => client.waitAll([client.retrieveWorkflow(FINISHED)], { pollingIntervalMs: 0 }), expect: rejects(E.DBOSError, /pollingIntervalMs must be a positive finite number/) }),
    row({ input: 'handles: not an array', call: () => client.waitFirst(bad<[]>('h')), expect: rejects(E.DBOSError, /Invalid handles "h"/) }),
  ].map(named('waitFirst/waitAll')),
  ...[
    row({ input: 'versionName: a number', call: () => DBOS.setLatestApplicationVersion(bad<string>(7)), expect: rejects(E.DBOSError, /Invalid versionName 7/) }),
    row({ input: 'unknown version (a no-op)', call: () => client.setLatestApplicationVersion(unknownID()), expect: works(), writesNothing: true }),
  ].map(named('setLatestApplicationVersion')),

  // --- schedules (CRUD): typed errors that leave dbos.workflow_schedules as it was (checked around each call)
  ...(() => {
    const table = async () => rows('SELECT * FROM dbos.workflow_schedules ORDER BY schedule_name', []);
    const unchanged = async (call: () => Promise<unknown>) => {
      const before = await table();
      try {
        return await call();
      } catch (e) {
        assert.deepEqual(await table(), before, 'no schedule written');
        throw e;
      }
    };
    const create = (over: Record<string, unknown>) => unchanged(() => DBOS.createSchedule({ scheduleName: `m-${randomUUID()}`, workflowFn: scheduled, schedule: '0 0 1 1 *', ...over }));
    const dup = { setup: () => DBOS.createSchedule({ scheduleName: 'm-dup', workflowFn: scheduled, schedule: '0 0 1 1 *' }).catch(() => undefined) };
    const dbosRows = [
      row({ input: 'scheduleName: a number', call: () => create({ scheduleName: 42 }), expect: rejects(E.DBOSError, /^Invalid scheduleName 42/) }),
      row({ input: 'schedule: illegal characters', call: () => create({ schedule: '* * * * * %' }), expect: rejects(TypeError, /^pattern includes illegal characters!$/) }),
      row({ input: 'schedule: not a string', call: () => create({ schedule: 5 }), expect: rejects(TypeError, /^pattern must be a string!$/) }),
      row({ input: 'schedule: 4 fields', at: 'workflow', call: () => create({ schedule: '* * * *' }), expect: rejects(Error, /^expected 5 or 6 fields but got 4$/) }),
      row({ input: 'cronTimezone: unknown', call: () => create({ options: { cronTimezone: 'Mars/Olympus' } }), expect: rejects(Error, /^Invalid timezone: 'Mars\/Olympus'$/) }),
      row({ input: 'cronTimezone: a number', call: () => create({ options: { cronTimezone: 3 } }), expect: rejects(E.DBOSError, /^Invalid cronTimezone 3/) }),
      row({ input: 'automaticBackfill: a string', call: () => create({ options: { automaticBackfill: 'yes' } }), expect: rejects(E.DBOSError, /^Invalid automaticBackfill "yes"/) }),
      row({ input: 'options: not an object', call: () => create({ options: 'x' }), expect: rejects(E.DBOSError, /^Invalid schedule options "x"/) }),
      row({ input: 'workflowFn: not a function', call: () => create({ workflowFn: 'tick' }), expect: rejects(E.DBOSError, /^Invalid workflowFn tick/) }),
      row({ input: 'scheduleName: taken', ...dup, call: () => create({ scheduleName: 'm-dup' }), expect: rejects(Error, /^Schedule 'm-dup' already exists$/) }),
      row({ input: 'SQL in the name (stored verbatim)', call: async () => { const n = sqlID(); await create({ scheduleName: n }); return [n, (await DBOS.getSchedule(n))?.scheduleName]; }, expect: works((r) => assert.equal((r as string[])[0], (r as string[])[1])) }),
    ].map(named('DBOS.createSchedule'));
    const otherRows = [
      row({ input: 'not an array', call: () => unchanged(() => DBOS.applySchedules(bad<[]>('x'))), expect: rejects(E.DBOSError, /must be an array of schedules/) }),
      row({ input: 'in a workflow', at: 'workflow', call: () => unchanged(() => DBOS.applySchedules([])), expect: rejects(E.DBOSError, /^applySchedules cannot be called from within a workflow$/) }),
      row({ input: 'one bad entry of two: nothing written', call: () => unchanged(() => DBOS.applySchedules([{ scheduleName: 'm-ok', workflowFn: scheduled, schedule: '0 0 1 1 *' }, { scheduleName: 'm-bad', workflowFn: scheduled, schedule: '* * * * * !' }])), expect: rejects(TypeError, /^pattern includes illegal characters!$/) }),
    ].map(named('DBOS.applySchedules'));
    const readRows = [
      row({ input: 'status: a number', call: () => DBOS.listSchedules({ status: bad<string>(1) }), expect: rejects(E.DBOSError, /^Invalid status filter 1/) }),
      row({ input: 'filters: not an object', call: () => client.listSchedules(bad<object>('x')), expect: rejects(E.DBOSError, /^Invalid listSchedules filters "x"/) }),
      row({ input: 'name: a number', call: () => DBOS.getSchedule(bad<string>(7)), expect: rejects(E.DBOSError, /^Invalid schedule name 7/) }),
      row({ input: 'unknown name (null)', call: () => client.getSchedule(unknownID()), expect: works((r) => assert.equal(r, null)), writesNothing: true }),
    ].map(named('listSchedules/getSchedule'));
    const changeRows = [
      row({ input: 'unknown schedule', call: () => unchanged(() => DBOS.updateSchedule('m-none', { queueName: 'q' })), expect: rejects(E.DBOSError, /^Schedule 'm-none' not found$/) }),
      row({ input: 'in a workflow: unknown schedule (the step records it)', at: 'workflow', call: () => unchanged(() => DBOS.updateSchedule('m-none', {})), expect: rejects(E.DBOSError, /^Schedule 'm-none' not found$/), records: { operation_outputs: 1 } }),
      row({ input: 'updates: not an object', call: () => unchanged(() => client.updateSchedule('m-dup', bad<object>(null))), expect: rejects(E.DBOSError, /^Invalid schedule updates null/) }),
      row({ input: 'automaticBackfill: null', ...dup, call: () => unchanged(() => DBOS.updateSchedule('m-dup', { automaticBackfill: bad<boolean>(null) })), expect: rejects(E.DBOSError, /^Invalid automaticBackfill null/) }),
      row({ input: 'schedule: illegal characters', ...dup, call: () => unchanged(() => client.updateSchedule('m-dup', { schedule: '@reboot' })), expect: rejects(TypeError, /^pattern includes illegal characters!$/) }),
      row({ input: 'pause, resume, delete an unknown schedule (no-ops)', call: async () => { await DBOS.pauseSchedule('m-none'); await client.resumeSchedule('m-none'); await DBOS.deleteSchedule('m-none'); }, expect: works(), writesNothing: true }),
      row({ input: 'name: a number', call: () => DBOS.pauseSchedule(bad<string>(7)), expect: rejects(E.DBOSError, /^Invalid schedule name 7/) }),
    ].map(named('updateSchedule/pause/resume/delete'));
    const clientRows = [
      row({ input: 'workflowName: a number', call: () => unchanged(() => client.createSchedule({ scheduleName: 'm-c', workflowName: bad<string>(1), schedule: '0 0 1 1 *' })), expect: rejects(E.DBOSError, /^Invalid workflowName 1/) }),
      row({ input: 'applicationName: a number', call: () => unchanged(() => client.createSchedule({ scheduleName: 'm-c', workflowName: 'w', schedule: '0 0 1 1 *', applicationName: bad<string>(1) })), expect: rejects(E.DBOSError, /^Invalid applicationName 1/) }),
      row({ input: 'schedule: 7 fields', call: () => unchanged(() => client.applySchedules([{ scheduleName: 'm-c', workflowName: 'w', schedule: '* * * * * * *' }])), expect: rejects(Error, /^expected 5 or 6 fields but got 7$/) }),
      row({ input: 'applySchedules: not an array', call: () => unchanged(() => client.applySchedules(bad<[]>(1))), expect: rejects(E.DBOSError, /must be an array of schedules/) }),
    ].map(named('DBOSClient schedules'));
    return [...dbosRows, ...otherRows, ...readRows, ...changeRows, ...clientRows];
  })(),
  // ---- REST: rewindWorkflow (DBOS and DBOSClient), DBOSClient.renameApplication
  ...[
    row({ input: 'unknown workflow', call: () => DBOS.rewindWorkflow(unknownID()), expect: rejects(E.DBOSNonExistentWorkflowError, /^Workflow unknown-.* does not exist$/) }),
    row({ input: 'a live (PENDING) workflow', call: () => client.rewindWorkflow(SINK), expect: rejects(E.DBOSError, /^Cannot rewind .* \(PENDING\): only a workflow in a terminal state can be rewound, so cancel it first$/) }),
    row({ input: 'startStep: negative', call: () => client.rewindWorkflow(FINISHED, { startStep: -1 }), expect: rejects(E.DBOSError, /^startStep must be >= 0, got -1$/) }),
    row({ input: 'startStep: a fraction', call: () => DBOS.rewindWorkflow(FINISHED, { startStep: 1.5 }), expect: rejects(E.DBOSError, /Invalid startStep 1.5/) }),
    row({ input: 'queueName: a number', call: () => client.rewindWorkflow(FINISHED, { queueName: bad<string>(5) }), expect: rejects(E.DBOSError, /Invalid queueName 5/) }),
  ].map(named('rewindWorkflow')),
  ...[
    row({ input: 'oldName: empty', call: () => client.renameApplication('', 'x'), expect: rejects(E.DBOSError, /^The application's previous name cannot be empty\.$/) }),
    row({ input: 'nothing to move', call: () => client.renameApplication(undefined, 'x'), expect: rejects(E.DBOSError, /^Nothing to re-own/) }),
    row({ input: 'batchSize: 0', call: () => client.renameApplication('a', 'b', { batchSize: 0 }), expect: rejects(E.DBOSError, /^batchSize must be a positive integer, got 0$/) }),
    row({ input: 'unknown application (a no-op)', call: () => client.renameApplication(unknownID(), 'b'), expect: works((r) => assert.deepEqual(r, { queues: 0, schedules: 0, versions: 0, workflows: 0, steps: 0 })), writesNothing: true }),
  ].map(named('DBOSClient.renameApplication')),
  // ---- schedules (firing): triggerSchedule / backfillSchedule (DBOS and DBOSClient)
  ...[
    row({ input: 'unknown schedule', call: () => DBOS.triggerSchedule('nope'), expect: rejects(E.DBOSError, /^Schedule "nope" not found$/) }),
    row({ input: 'name: a number', call: () => client.triggerSchedule(bad<string>(42)), expect: rejects(E.DBOSError, NOT_STRING) }),
    row({ input: 'inside a workflow', at: 'workflow', call: () => DBOS.triggerSchedule('nope'), expect: rejects(E.DBOSError, /^triggerSchedule cannot be called from within a workflow$/) }),
  ].map(named('triggerSchedule')),
  ...[
    row({ input: 'unknown schedule', call: () => client.backfillSchedule('nope', new Date(0), new Date()), expect: rejects(E.DBOSError, /^Schedule "nope" not found$/) }),
    row({ input: 'start: not a Date', call: () => DBOS.backfillSchedule('nope', bad<Date>('2026-01-01'), new Date()), expect: rejects(E.DBOSError, /start must be a Date/) }),
    row({ input: 'inside a workflow', at: 'workflow', call: () => DBOS.backfillSchedule('nope', new Date(0), new Date()), expect: rejects(E.DBOSError, /^backfillSchedule cannot be called from within a workflow$/) }),
  ].map(named('backfillSchedule')),
  // --- debouncer
  ...[
    row({ input: 'debouncePeriodMs: 0', call: () => new Debouncer({ workflow: echo }).debounce('k', 0, 1), expect: rejects(E.DBOSError, /^debouncePeriodMs must be positive, not 0$/) }),
    row({ input: 'debouncePeriodMs: NaN', call: () => new Debouncer({ workflow: echo }).debounce('k', NaN, 1), expect: rejects(E.DBOSError, /must be positive, not NaN/) }),
    row({ input: 'debouncePeriodMs: a string', call: () => new Debouncer({ workflow: echo }).debounce('k', bad<number>('5'), 1), expect: rejects(E.DBOSError, /must be positive, not 5/) }),
    row({ input: 'debounceTimeoutMs: a string', call: () => new Debouncer({ workflow: echo, debounceTimeoutMs: bad<number>('x') }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /debounceTimeoutMs must be a finite number/) }),
    row({ input: 'a deduplicationID set', call: () => new Debouncer({ workflow: echo, startWorkflowParams: { enqueueOptions: { deduplicationID: 'd' } } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /Cannot debounce a workflow with a deduplicationID set/) }),
    row({ input: 'a delay set', call: () => new Debouncer({ workflow: echo, startWorkflowParams: { enqueueOptions: { delaySeconds: 1 } } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /with a delay set: the debounce period controls the delay/) }),
    row({ input: 'a priority set', call: () => new Debouncer({ workflow: echo, startWorkflowParams: { enqueueOptions: { priority: 1 } } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /priority is not supported for debounced workflows/) }),
    row({ input: 'a partition key set', call: () => new Debouncer({ workflow: echo, startWorkflowParams: { enqueueOptions: { queuePartitionKey: 'p' } } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /partition keys are not supported/) }),
    row({ input: 'an applicationName in the start options', call: () => new Debouncer({ workflow: echo, startWorkflowParams: { enqueueOptions: { applicationName: 'a' } } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /Cannot debounce a workflow with an applicationName set/) }),
    row({ input: "duplicationPolicy 'return-existing'", call: () => new Debouncer({ workflow: echo, startWorkflowParams: { duplicationPolicy: 'return-existing' } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /duplicationPolicy 'return-existing'/) }),
    row({ input: 'an unregistered function', call: () => new Debouncer({ workflow: async function notAWorkflow() { return 1; } }).debounce('k', 10), expect: rejects(E.DBOSError, /^Invalid workflow name provided to debouncer: notAWorkflow$/) }),
    row({ input: 'key: SQL-shaped (works)', call: () => new Debouncer({ workflow: echo }).debounce(SQL_KEY, 1, 'sql'), expect: works(async (h) => assert.equal(await (h as WorkflowHandle<unknown>).getResult(), 'sql')) }),
    row({ at: 'workflow', input: 'period: 0', call: () => new Debouncer({ workflow: echo }).debounce('k', 0, 1), expect: rejects(E.DBOSError, /must be positive, not 0/) }),
    row({ at: 'step', input: 'called in a step (a held key too: nothing is extended)', setup: () => new Debouncer({ workflow: echo }).debounce('k-step', 60_000, 1), call: () => new Debouncer({ workflow: echo }).debounce('k-step', 60_000, 2), expect: rejects(E.DBOSInvalidWorkflowTransitionError, /^Invalid call to `debounce` inside a `step`$/) }),
  ].map(named('Debouncer.debounce')),
  ...[
    row({ input: 'debouncePeriodMs: negative', call: () => new DebouncerClient(client, { workflowName: 'matrixEcho' }).debounce('k', -1, 1), expect: rejects(E.DBOSError, /^debouncePeriodMs must be positive, not -1$/) }),
    row({ input: 'workflowName: missing', call: () => new DebouncerClient(client, bad<{ workflowName: string }>({})).debounce('k', 10, 1), expect: rejects(E.DBOSError, /Invalid workflowName undefined/) }),
    row({ input: 'serializationType: unknown', call: () => new DebouncerClient(client, { workflowName: 'matrixEcho', serializationType: bad<'portable'>('xml') }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /Invalid serializationType "xml"/) }),
    row({ input: 'a delay set', call: () => new DebouncerClient(client, { workflowName: 'matrixEcho', startWorkflowParams: { enqueueOptions: { delaySeconds: 1 } } }).debounce('k', 10, 1), expect: rejects(E.DBOSError, /with a delay set/) }),
    row({ input: 'an argument that is a function', call: () => new DebouncerClient(client, { workflowName: 'matrixEcho' }).debounce('k', 10, () => 1), expect: rejects(E.DBOSError, /function/) }),
  ].map(named('DebouncerClient.debounce')),
  ...[
    row({ input: 'args: not an array', call: () => client.enqueueDebounced({ workflowName: 'matrixEcho', queueName: 'q' }, undefined, bad<unknown[]>('x')), expect: rejects(E.DBOSError, /Invalid args/) }),
    row({ input: 'deadline: NaN', call: () => client.enqueueDebounced({ workflowName: 'matrixEcho', queueName: 'q' }, NaN, []), expect: rejects(E.DBOSError, /Invalid debounceDeadlineEpochMS NaN/) }),
    row({ input: 'queueName: missing', call: () => client.enqueueDebounced(bad<{ workflowName: string; queueName: string }>({ workflowName: 'matrixEcho' }), undefined, []), expect: rejects(E.DBOSError, /Invalid queueName undefined/) }),
  ].map(named('DBOSClient.enqueueDebounced')),
  ...[
    row({ input: 'delayUntilEpochMS: a string', call: () => client.debounceDelayedWorkflow({ workflowName: 'w', workflowClassName: '', queueName: 'q', deduplicationID: 'd', delayUntilEpochMS: bad<number>('soon'), input: null, serialization: null }), expect: rejects(E.DBOSError, /Invalid delayUntilEpochMS soon/) }),
    row({ input: 'workflowClassName: missing', call: () => client.debounceDelayedWorkflow(bad<DebounceParamsArg>({ workflowName: 'w', queueName: 'q', deduplicationID: 'd', delayUntilEpochMS: 1 })), expect: rejects(E.DBOSError, /Invalid workflowClassName/) }),
    row({ input: 'an unheld key (nothing to extend)', call: () => client.debounceDelayedWorkflow({ workflowName: 'w', workflowClassName: '', queueName: 'q', deduplicationID: SQL_KEY, delayUntilEpochMS: 1, input: null, serialization: null }), expect: works((r) => assert.deepEqual(r, { bouncedWorkflowID: null, holderWorkflowID: null, holderIsDebounced: false, holderWorkflowName: null, holderWorkflowClassName: null, holderApplicationName: null })), writesNothing: true }),
  ].map(named('DBOSClient.debounceDelayedWorkflow')),
];
type DebounceParamsArg = Parameters<DBOSClient['debounceDelayedWorkflow']>[0];

function row<S>(r: Omit<Row<S>, 'fn'>): Omit<Row<unknown>, 'fn'> {
  return r as unknown as Omit<Row<unknown>, 'fn'>;
}

function named(fn: string): (r: Omit<Row<unknown>, 'fn'>) => Row<unknown> {
  return (r) => ({ ...r, fn });
}

// ---------------------------------------------------------------- running it

before(async () => {
  url = await freshDatabase('dbosn_bad_input_matrix');
  DBOS.setConfig({ name: 'bad-input-matrix', systemDatabaseUrl: url });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url });
  pg = new Client({ connectionString: url });
  await pg.connect();
  const done = await DBOS.startWorkflow(finished)();
  await done.getResult();
  FINISHED = done.workflowID;
  SINK = (await DBOS.startWorkflow(sink)()).workflowID;
  // The sink's recv records its deadline at function 1: once it is there, the sink writes nothing more.
  for (let i = 0; !(await steps(url, SINK)).some((s) => s.function_id === 1); i++) {
    assert.ok(i < 200, 'the sink workflow started waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
});

after(async () => {
  if (SINK) {
    await DBOS.send(SINK, 'done', 'release').catch(() => undefined);
    await DBOS.retrieveWorkflow(SINK).getResult().catch(() => undefined);
  }
  await pg?.end();
  await client?.destroy();
  await DBOS.shutdown();
});

const fns = [...new Set(MATRIX.map((r) => r.fn))];
for (const fn of fns) {
  describe(fn, () => {
    for (const r of MATRIX.filter((x) => x.fn === fn)) {
      const outcome = 'rejects' in r.expect ? `${r.expect.rejects.name} ${r.expect.message}` : 'works';
      test(`${r.at ? `in a ${r.at}: ` : ''}${r.input} → ${outcome}`, async () => {
        const s = r.setup ? await r.setup() : undefined;
        const wf = `matrix-${r.at ?? 'outside'}-${randomUUID()}`;
        const base = await counts();
        const at = r.at;
        syncThrows.length = 0;
        const run = at ? runIn(at, wf, () => r.call(s)) : callAsync(() => r.call(s));
        const got = await settle(run, 20_000);
        const now = await counts();
        assert.deepEqual(syncThrows.map(describeError), [], 'a promise-returning call rejects; it never throws synchronously');
        if ('rejects' in r.expect) {
          assert.ok(!got.ok, `expected ${r.expect.rejects.name}, but the call succeeded`);
          const e = got.error;
          assert.ok(e instanceof r.expect.rejects, `expected ${r.expect.rejects.name}, got ${describeError(e)}`);
          assert.equal(e.constructor, r.expect.rejects, `expected exactly ${r.expect.rejects.name}, got ${describeError(e)}`);
          assert.match(e.message, r.expect.message);
          const expected = { ...base };
          for (const [t, n] of Object.entries(r.records ?? {}) as [Table, number][]) expected[t] += n;
          assert.deepEqual(now, expected, 'no row left behind');
        } else {
          if (!got.ok) assert.fail(`expected it to work, got ${describeError(got.error)}`);
          await r.expect.works(got.value, { s, wf });
          if (r.writesNothing) assert.deepEqual(now, base, 'it writes no row');
          const later = await counts();
          for (const t of TABLES) assert.ok(later[t] >= base[t], `${t}: nothing was deleted (tables intact)`);
        }
      });
    }
  });
}
