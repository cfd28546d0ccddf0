// Awaiting workflows and what callers get back (issue 12, items 2-5): a cancelled workflow awaited
// from anywhere, a cancelled awaiter, the recorded (not the in-memory) value for direct callers, and a
// returned WorkflowHandle, stored as the official SDK stores it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, DBOSClient, Error as E, PortableWorkflowError, type WorkflowHandle } from 'dbos-native';
import { query, sleep, statusRow, steps, within } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  sum(): number {
    return this.x + this.y;
  }
}

class ValidationError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** What the last run of `Aw.shapes` returned, to tell the caller's copy from the workflow's own object. */
let lastShapes: object | undefined;
let lastThrown: unknown;

class Aw {
  @DBOS.workflow()
  static async sleeper(ms: number): Promise<string> {
    await DBOS.sleep(ms);
    return 'slept';
  }

  /** Waits for a message, then returns it: a child that runs as long as the test wants. */
  @DBOS.workflow()
  static async waiter(): Promise<string> {
    return `got ${await DBOS.recv<string>('go', 60)}`;
  }

  @DBOS.workflow()
  static async parentOfTimedOutChild(mode: 'direct' | 'handle'): Promise<string> {
    if (mode === 'direct') return DBOS.withWorkflowTimeout(200, () => Aw.sleeper(60_000));
    const h = await DBOS.startWorkflow(Aw, { timeoutMS: 200 }).sleeper(60_000);
    return h.getResult();
  }

  @DBOS.workflow()
  static async awaitsByID(childID: string): Promise<string | null> {
    return DBOS.getResult<string>(childID);
  }

  @DBOS.workflow()
  static async awaitsRetrieved(childID: string): Promise<string> {
    return DBOS.retrieveWorkflow<string>(childID).getResult();
  }

  @DBOS.workflow()
  static async awaitsOwnChild(childID: string): Promise<string> {
    const h = await DBOS.startWorkflow(Aw, { workflowID: childID }).waiter();
    return h.getResult();
  }

  @DBOS.workflow()
  static async shapes(): Promise<{ p: Point; at: Date; tagged: { n: number; twice: () => number } }> {
    const value = { p: new Point(1, 2), at: new Date('2026-01-02T03:04:05.006Z'), tagged: { n: 4, twice: () => 8 } };
    lastShapes = value;
    return value;
  }

  @DBOS.workflow()
  static async fails(): Promise<void> {
    lastThrown = new ValidationError('bad field', 'qty');
    throw lastThrown;
  }

  @DBOS.workflow({ serialization: 'portable' })
  static async failsPortable(): Promise<void> {
    throw new ValidationError('bad portable field', 'qty');
  }

  @DBOS.step()
  static async pointStep(): Promise<Point> {
    return new Point(3, 4);
  }

  @DBOS.workflow()
  static async usesPointStep(): Promise<string> {
    const p = await Aw.pointStep();
    assert.equal(Object.getPrototypeOf(p), Object.prototype, 'a step gives its recorded form');
    assert.throws(() => p.sum(), /Functions are not preserved through serialization/);
    return `${p.x},${p.y}`;
  }

  @DBOS.step()
  static async double(n: number): Promise<number> {
    return n * 2;
  }

  @DBOS.workflow()
  static async returnsHandle(n: number): Promise<WorkflowHandle<number>> {
    return DBOS.startWorkflow(Aw, { workflowID: `${DBOS.workflowID}-child` }).doubler(n);
  }

  @DBOS.workflow()
  static async doubler(n: number): Promise<number> {
    return Aw.double(n);
  }
}

/** As code that caught a child's cancellation error (e.g. from an SDK-recorded checkpoint) and let it go. */
const rethrowsCancellation = DBOS.registerWorkflow(
  async (otherID: string): Promise<void> => {
    throw new E.DBOSWorkflowCancelledError(otherID);
  },
  { name: 'rethrowsCancellation' },
);

const db = launchedDatabase('dbosn_awaiting', { name: 'awaiting-test', applicationVersion: 'av1' });

const awaitedCancelled = (id: string) => (e: unknown) =>
  e instanceof E.DBOSAwaitedWorkflowCancelledError && e.workflowID === id && e.message === `Awaited ${id} was cancelled`;

describe('awaiting a cancelled workflow', () => {
  for (const mode of ['direct', 'handle'] as const) {
    test(`a parent awaiting a child (${mode}) that its timeout cancelled fails with DBOSAwaitedWorkflowCancelledError`, async () => {
      const id = `timed-parent-${mode}-${randomUUID()}`;
      const h = await DBOS.startWorkflow(Aw, { workflowID: id }).parentOfTimedOutChild(mode);
      const childID = `${id}-0`; // the child takes function ID 0 either way
      await assert.rejects(within(h.getResult(), 20_000, 'the parent'), awaitedCancelled(childID));
      assert.equal((await statusRow(db.url, childID))?.status, 'CANCELLED');
      const st = await statusRow(db.url, id);
      assert.equal(st?.status, 'ERROR');
      // Replays and other processes see the same error as the first caller.
      await assert.rejects(DBOS.getResult(id), (e: unknown) => e instanceof Error && e.message === `Awaited ${childID} was cancelled`);
    });
  }

  test('plain code awaiting a live run that gets cancelled: DBOS.getResult and retrieved handles reject with the awaited error', async () => {
    const id = `cancelled-${randomUUID()}`;
    const own = await DBOS.startWorkflow(Aw, { workflowID: id }).sleeper(60_000);
    const byID = DBOS.getResult(id);
    const retrieved = DBOS.retrieveWorkflow(id).getResult();
    const client = await DBOSClient.create({ systemDatabaseUrl: db.url });
    try {
      const viaClient = client.retrieveWorkflow(id).getResult({ pollingIntervalMs: 50 });
      await DBOS.cancelWorkflow(id);
      const settled = await within(Promise.allSettled([byID, retrieved, viaClient]), 10_000, 'the awaiters');
      for (const [i, r] of settled.entries()) {
        assert.ok(r.status === 'rejected' && awaitedCancelled(id)(r.reason), `awaiter ${i}: ${r.status === 'rejected' ? String(r.reason) : 'fulfilled'}`);
      }
    } finally {
      await client.destroy();
    }
    // As in the SDK, the handle of the run itself reports the workflow's own cancellation.
    await assert.rejects(own.getResult(), (e: unknown) => e instanceof E.DBOSWorkflowCancelledError && e.workflowID === id);
    await assert.rejects(DBOS.getResult(id), awaitedCancelled(id));
  });
});

describe('a cancelled awaiter', () => {
  const cases: Array<[string, (childID: string) => Promise<WorkflowHandle<string | null>>]> = [
    ['DBOS.getResult', (childID) => DBOS.startWorkflow(Aw).awaitsByID(childID)],
    ['a retrieved handle', (childID) => DBOS.startWorkflow(Aw).awaitsRetrieved(childID)],
    ['its own child', (childID) => DBOS.startWorkflow(Aw).awaitsOwnChild(childID)],
  ];
  for (const [how, start] of cases) {
    test(`a workflow blocked in ${how} stops when cancelled, records nothing, and after resume gets the child's result`, async () => {
      const childID = `long-child-${randomUUID()}`;
      if (how !== 'its own child') await DBOS.startWorkflow(Aw, { workflowID: childID }).waiter();
      const parent = await start(childID);
      while (!(await statusRow(db.url, childID))) await sleep(10);
      await sleep(100); // let it block in the wait (a cancel before that stops it all the same)
      await DBOS.cancelWorkflow(parent.workflowID);
      await assert.rejects(
        within(parent.getResult(), 10_000, 'the cancelled awaiter'),
        (e: unknown) => e instanceof E.DBOSWorkflowCancelledError && e.workflowID === parent.workflowID,
      );
      assert.equal((await statusRow(db.url, parent.workflowID))?.status, 'CANCELLED');
      assert.equal((await statusRow(db.url, childID))?.status, 'PENDING', 'the child was not cancelled');
      const names = (await steps(db.url, parent.workflowID)).map((s) => s.function_name);
      assert.ok(!names.includes('DBOS.getResult'), `the cancellation was not recorded as the awaited outcome: ${names.join(',')}`);

      await DBOS.send(childID, 'done', 'go');
      assert.equal(await DBOS.getResult(childID), 'got done');
      const resumed = await DBOS.resumeWorkflow<string>(parent.workflowID);
      assert.equal(await within(resumed.getResult(), 10_000, 'the resumed awaiter'), 'got done');
      assert.equal((await statusRow(db.url, parent.workflowID))?.status, 'SUCCESS');
    });
  }

  test('a workflow polling for a run of another process stops when cancelled and resumes to its result', async () => {
    // A PENDING row owned by another executor: nothing here runs it, so the awaiter polls the database.
    const childID = `remote-${randomUUID()}`;
    await query(db.url, "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, executor_id) VALUES ($1, 'PENDING', 'remote', 'elsewhere')", [
      childID,
    ]);
    const parent = await DBOS.startWorkflow(Aw).awaitsByID(childID);
    await sleep(100);
    await DBOS.cancelWorkflow(parent.workflowID);
    await assert.rejects(within(parent.getResult(), 10_000, 'the cancelled awaiter'), E.DBOSWorkflowCancelledError);
    assert.deepEqual(await steps(db.url, parent.workflowID), []);
    await query(
      db.url,
      `UPDATE dbos.workflow_status SET status = 'SUCCESS', serialization = 'js_superjson',
         output = '{"json":"remote result","__dbos_serializer":"superjson"}' WHERE workflow_uuid = $1`,
      [childID],
    );
    const resumed = await DBOS.resumeWorkflow<string>(parent.workflowID);
    assert.equal(await within(resumed.getResult(), 10_000, 'the resumed awaiter'), 'remote result');
  });
});

describe('callers get the recorded value', () => {
  test('a direct caller, a handle and a later call of the finished ID get the same (recorded) value', async () => {
    const id = `shapes-${randomUUID()}`;
    const first = await DBOS.withNextWorkflowID(id, () => Aw.shapes());
    assert.notEqual(first, lastShapes, 'not the object the workflow returned');
    assert.equal(Object.getPrototypeOf(first.p), Object.prototype);
    assert.throws(() => first.p.sum(), /Functions are not preserved through serialization/);
    assert.throws(() => first.tagged.twice(), /Functions are not preserved through serialization/);
    assert.ok(first.at instanceof Date);
    const again = await DBOS.withNextWorkflowID(id, () => Aw.shapes());
    assert.deepEqual(first, again);
    assert.deepEqual(await DBOS.getResult(id), first);

    const h = await DBOS.startWorkflow(Aw).shapes();
    const viaHandle = await h.getResult();
    assert.notEqual(viaHandle, lastShapes);
    assert.deepEqual(viaHandle, first);
  });

  test('a failed workflow: its direct caller gets the thrown error, later callers its recorded form', async () => {
    const id = `fails-${randomUUID()}`;
    await assert.rejects(DBOS.withNextWorkflowID(id, () => Aw.fails()), (e: unknown) => e === lastThrown);
    await assert.rejects(DBOS.withNextWorkflowID(id, () => Aw.fails()), (e: unknown) => {
      return e instanceof Error && !(e instanceof ValidationError) && e.name === 'ValidationError' && (e as ValidationError).field === 'qty';
    });
  });

  test('a failed portable workflow: every caller gets the PortableWorkflowError it recorded', async () => {
    const id = `fails-portable-${randomUUID()}`;
    const check = (e: unknown) => e instanceof PortableWorkflowError && e.name === 'ValidationError' && e.message === 'bad portable field';
    await assert.rejects(DBOS.withNextWorkflowID(id, () => Aw.failsPortable()), check);
    await assert.rejects(DBOS.withNextWorkflowID(id, () => Aw.failsPortable()), check);
    await assert.rejects(DBOS.getResult(id), check);
  });

  test('a step result is its recorded form, methods lost become throwing stubs', async () => {
    assert.equal(await Aw.usesPointStep(), '3,4');
  });
});

describe('a workflow returning a WorkflowHandle', () => {
  test('is recorded as the SDK records a handle, and every caller can await it', async () => {
    const id = `returns-handle-${randomUUID()}`;
    const childID = `${id}-child`;
    const h = await DBOS.withNextWorkflowID(id, () => Aw.returnsHandle(21));
    assert.equal(h.workflowID, childID);
    assert.equal(await h.getResult(), 42);
    const out = await query<{ output: string }>(db.url, 'SELECT output FROM dbos.workflow_output WHERE workflow_uuid = $1', [id]);
    assert.equal(out[0]?.output, `{"json":{"wfid":"${childID}"},"meta":{"values":[["custom","DBOS.WorkflowHandle"]]},"__dbos_serializer":"superjson"}`);
    const replayed = await DBOS.getResult<WorkflowHandle<number>>(id);
    assert.equal(replayed?.workflowID, childID);
    assert.equal(await replayed?.getResult(), 42);
    assert.equal((await replayed?.getStatus())?.status, 'SUCCESS');
  });

  test('a handle the official SDK recorded reads as a handle', async () => {
    const childID = `sdk-child-${randomUUID()}`;
    await DBOS.withNextWorkflowID(childID, () => Aw.doubler(8));
    const id = `sdk-parent-${randomUUID()}`;
    const stored = `{"json":{"wfid":"${childID}"},"meta":{"values":[["custom","DBOS.WorkflowHandle"]]},"__dbos_serializer":"superjson"}`;
    await query(db.url, "INSERT INTO dbos.workflow_status (workflow_uuid, status, name, serialization, output) VALUES ($1, 'SUCCESS', 'official', 'js_superjson', $2)", [
      id,
      stored,
    ]);
    const h = await DBOS.retrieveWorkflow<WorkflowHandle<number>>(id).getResult();
    assert.equal(h.workflowID, childID);
    assert.equal(await h.getResult(), 16);
  });
});

describe('a workflow failing on another workflow\'s cancellation', () => {
  test('is recorded, and reported to its caller, as having awaited a cancelled workflow (as the SDK does)', async () => {
    const id = `rethrows-${randomUUID()}`;
    await assert.rejects(DBOS.withNextWorkflowID(id, () => rethrowsCancellation('someone-else')), awaitedCancelled('someone-else'));
    await assert.rejects(DBOS.getResult(id), (e: unknown) => e instanceof Error && e.message === 'Awaited someone-else was cancelled');
  });
});
