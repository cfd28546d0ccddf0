// Workflows and steps through the public API: decorators and register forms, handles, idempotent
// starts, retries, errors, children, context and recorded values, checked against the stored rows.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, Error as DBOSErrors } from 'dbos-native';
import { query, statusRow, steps } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

const runs: Record<string, number> = {};
const bump = (k: string) => {
  runs[k] = (runs[k] ?? 0) + 1;
};

class ValidationError extends Error {
  readonly field: string;
  constructor(message: string, field: string) {
    super(message);
    this.name = 'ValidationError';
    this.field = field;
  }
}

class Shop {
  @DBOS.step()
  static async reserve(item: string): Promise<number> {
    bump(`reserve:${item}`);
    return item.length;
  }

  @DBOS.step()
  static async stamp(): Promise<Date> {
    return new Date('2025-01-02T03:04:05.678Z');
  }

  @DBOS.workflow()
  static async order(item: string, qty: number): Promise<string> {
    bump(`order:${item}`);
    const n = await Shop.reserve(item);
    return `${item}x${qty}:${n}`;
  }

  @DBOS.workflow()
  static async withDates(when: Date, tags: Map<string, bigint>): Promise<{ when: Date; tags: Map<string, bigint>; stamp: Date }> {
    assert.ok(when instanceof Date);
    assert.ok(tags instanceof Map);
    const stamp = await Shop.stamp();
    assert.ok(stamp instanceof Date, 'a step returns the stored form of its value');
    return { when, tags, stamp };
  }

  @DBOS.workflow()
  static async fails(field: string): Promise<void> {
    throw new ValidationError(`bad ${field}`, field);
  }

  @DBOS.workflow()
  static async slow(ms: number): Promise<string> {
    await DBOS.sleep(ms);
    return 'slow-done';
  }

  @DBOS.workflow()
  static async napThenStep(ms: number): Promise<string> {
    const n = await Shop.reserve('before-nap');
    await DBOS.sleep(ms);
    const m = await Shop.reserve('after-nap');
    return `${n}/${m}`;
  }

  @DBOS.workflow()
  static async parentOfSleepers(ms: number): Promise<string> {
    await DBOS.startWorkflow(Shop).slow(ms);
    return Shop.slow(ms);
  }

  @DBOS.workflow()
  static async parent(): Promise<string[]> {
    const h = await DBOS.startWorkflow(Shop).order('child', 1);
    const direct = await Shop.order('direct', 2);
    return [h.workflowID, await h.getResult(), direct];
  }

  @DBOS.workflow()
  static async introspect(): Promise<Record<string, unknown>> {
    const inStep = await DBOS.runStep(async () => ({ wf: DBOS.workflowID, inStep: DBOS.isInStep(), stepID: DBOS.stepID }), {
      name: 'peek',
    });
    return {
      workflowID: DBOS.workflowID,
      within: DBOS.isWithinWorkflow(),
      inWorkflow: DBOS.isInWorkflow(),
      inStep: DBOS.isInStep(),
      step: inStep,
      now: await DBOS.now(),
      uuid: await DBOS.randomUUID(),
    };
  }
}

let attemptsSeen = 0;
const flaky = DBOS.registerStep(
  async (failTimes: number): Promise<string> => {
    attemptsSeen++;
    if (attemptsSeen <= failTimes) throw new Error(`flake ${attemptsSeen}`);
    return `ok after ${attemptsSeen}`;
  },
  { name: 'flaky', retriesAllowed: true, maxAttempts: 3, intervalSeconds: 0.01, backoffRate: 1 },
);
const flakyWorkflow = DBOS.registerWorkflow(async (failTimes: number) => flaky(failTimes), { name: 'flakyWorkflow' });

const pickyStep = DBOS.registerStep(
  async (): Promise<string> => {
    attemptsSeen++;
    throw new TypeError('not retryable');
  },
  { name: 'pickyStep', retriesAllowed: true, maxAttempts: 5, intervalSeconds: 0.01, shouldRetry: (e) => !(e instanceof TypeError) },
);
const pickyWorkflow = DBOS.registerWorkflow(async () => pickyStep(), { name: 'pickyWorkflow' });

const plain = DBOS.registerWorkflow(
  async (a: number, b: number) => {
    const sum = await DBOS.runStep(async () => a + b, { name: 'add' });
    const doubled = await DBOS.runStep(async () => sum * 2);
    return { sum, doubled };
  },
  { name: 'plainWorkflow' },
);

const db = launchedDatabase('dbosn_workflows', { name: 'workflows-test', applicationVersion: 'v1' });

describe('decorated and registered workflows', () => {
  test('a decorated workflow called directly runs its step once and records it', async () => {
    const id = `order-${randomUUID()}`;
    const result = await DBOS.withNextWorkflowID(id, () => Shop.order('apple', 3));
    assert.equal(result, 'applex3:5');
    const rows = await steps(db.url, id);
    assert.deepEqual(
      rows.map((r) => [r.function_id, r.function_name, r.output, r.serialization]),
      [[0, 'reserve', '{"json":5,"__dbos_serializer":"superjson"}', 'js_superjson']],
    );
    const st = await statusRow(db.url, id);
    assert.equal(st?.status, 'SUCCESS');
    assert.equal(st?.name, 'order');
    assert.equal(st?.class_name, 'Shop');
    assert.equal(st?.application_name, 'workflows-test');
    assert.equal(st?.owner_xid, null);
    const out = await query<{ output: string }>(db.url, 'SELECT output FROM dbos.workflow_output WHERE workflow_uuid = $1', [id]);
    assert.equal(out[0]?.output, '{"json":"applex3:5","__dbos_serializer":"superjson"}');
    const inp = await query<{ inputs: string }>(db.url, 'SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = $1', [id]);
    assert.equal(inp[0]?.inputs, '{"json":["apple",3],"__dbos_serializer":"superjson"}');
  });

  test('registerWorkflow with runStep records the given names, and the function name otherwise', async () => {
    const h = await DBOS.startWorkflow(plain, { workflowID: `plain-${randomUUID()}` })(2, 3);
    assert.deepEqual(await h.getResult(), { sum: 5, doubled: 10 });
    const rows = await steps(db.url, h.workflowID);
    assert.deepEqual(
      rows.map((r) => r.function_name),
      ['add', ''],
    );
  });

  test('startWorkflow on a class returns a handle with status and result; retrieve and getResult agree', async () => {
    const id = `handle-${randomUUID()}`;
    const handle = await DBOS.startWorkflow(Shop, { workflowID: id }).order('pear', 1);
    assert.equal(handle.workflowID, id);
    assert.equal(await handle.getResult(), 'pearx1:4');
    const status = await handle.getStatus();
    assert.equal(status?.status, 'SUCCESS');
    assert.equal(status?.workflowName, 'order');
    assert.equal(status?.workflowClassName, 'Shop');
    assert.deepEqual(status?.input, ['pear', 1]);
    assert.equal(status?.output, 'pearx1:4');
    assert.equal(status?.recoveryAttempts, 1);
    assert.equal(await DBOS.retrieveWorkflow<string>(id).getResult(), 'pearx1:4');
    assert.equal(await DBOS.getResult<string>(id), 'pearx1:4');
    assert.equal((await DBOS.getWorkflowStatus(id))?.status, 'SUCCESS');
    assert.equal(await DBOS.getWorkflowStatus(`missing-${randomUUID()}`), null);
  });

  test('arguments and results keep their types (Date, Map, BigInt) through storage', async () => {
    const when = new Date('2024-05-06T07:08:09.000Z');
    const r = await Shop.withDates(when, new Map([['k', 12n]]));
    assert.equal(r.when.getTime(), when.getTime());
    assert.equal(r.tags.get('k'), 12n);
    assert.ok(r.stamp instanceof Date);
  });
});

describe('idempotent starts', () => {
  test('the same workflow ID started twice runs once and both get the result', async () => {
    const id = `once-${randomUUID()}`;
    const first = await DBOS.startWorkflow(Shop, { workflowID: id }).order('kiwi', 2);
    const second = await DBOS.startWorkflow(Shop, { workflowID: id }).order('kiwi', 2);
    assert.equal(await first.getResult(), 'kiwix2:4');
    assert.equal(await second.getResult(), 'kiwix2:4');
    const third = await DBOS.startWorkflow(Shop, { workflowID: id }).order('kiwi', 2);
    assert.equal(await third.getResult(), 'kiwix2:4');
    assert.equal(runs['order:kiwi'], 1);
    assert.equal(runs['reserve:kiwi'], 1);
    const st = await statusRow(db.url, id);
    assert.equal(st?.recovery_attempts, '1');
  });

  test('reusing an ID for a different workflow is a conflict and changes nothing', async () => {
    const id = `conflict-${randomUUID()}`;
    await (await DBOS.startWorkflow(Shop, { workflowID: id }).order('fig', 1)).getResult();
    await assert.rejects(
      DBOS.startWorkflow(plain, { workflowID: id })(1, 2),
      (e: unknown) => e instanceof DBOSErrors.DBOSConflictingWorkflowError && /different function name/.test((e as Error).message),
    );
    assert.equal((await statusRow(db.url, id))?.name, 'order');
  });
});

describe('steps', () => {
  test('a retried step succeeds within its attempts and records only the success', async () => {
    attemptsSeen = 0;
    const h = await DBOS.startWorkflow(flakyWorkflow)(2);
    assert.equal(await h.getResult(), 'ok after 3');
    const rows = await steps(db.url, h.workflowID);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.error, null);
  });

  test('exhausted retries raise DBOSMaxStepRetriesError with every attempt, recorded as the step error', async () => {
    attemptsSeen = 0;
    const h = await DBOS.startWorkflow(flakyWorkflow)(10);
    await assert.rejects(h.getResult(), (e: unknown) => {
      assert.ok(e instanceof DBOSErrors.DBOSMaxStepRetriesError);
      assert.equal(e.dbosErrorCode, 23);
      assert.equal(e.errors.length, 3);
      assert.match(e.message, /Step flaky has exceeded its maximum of 3 retries/);
      return true;
    });
    assert.equal(attemptsSeen, 3);
    const rows = await steps(db.url, h.workflowID);
    assert.match(rows[0]?.error ?? '', /exceeded its maximum of 3 retries/);
    assert.equal((await statusRow(db.url, h.workflowID))?.status, 'ERROR');
    // A handle that reads the database gets the stored error back.
    await assert.rejects(DBOS.retrieveWorkflow(h.workflowID).getResult(), /exceeded its maximum of 3 retries/);
  });

  test('shouldRetry returning false stops after the first attempt', async () => {
    attemptsSeen = 0;
    await assert.rejects(pickyWorkflow(), (e: unknown) => e instanceof TypeError && e.message === 'not retryable');
    assert.equal(attemptsSeen, 1);
  });

  test('steps outside a workflow are plain calls and write nothing', async () => {
    const before = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM dbos.operation_outputs');
    assert.equal(await Shop.reserve('outside'), 7);
    assert.equal(await DBOS.runStep(async () => 'plain'), 'plain');
    const after = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM dbos.operation_outputs');
    assert.equal(after[0]?.n, before[0]?.n);
  });
});

describe('errors', () => {
  test('a workflow error keeps its class in process and its name, message and fields from the database', async () => {
    const id = `fails-${randomUUID()}`;
    const h = await DBOS.startWorkflow(Shop, { workflowID: id }).fails('email');
    await assert.rejects(h.getResult(), (e: unknown) => e instanceof ValidationError && e.field === 'email');
    await assert.rejects(DBOS.retrieveWorkflow(id).getResult(), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'ValidationError');
      assert.equal(e.message, 'bad email');
      assert.equal((e as Error & { field?: string }).field, 'email');
      return true;
    });
    const st = await DBOS.getWorkflowStatus(id);
    assert.equal(st?.status, 'ERROR');
    assert.equal((st?.error as Error).message, 'bad email');
  });
});

describe('children, context and recorded values', () => {
  test('children get <parent>-<n> IDs; a direct call takes two function IDs', async () => {
    const id = `parent-${randomUUID()}`;
    const r = await DBOS.withNextWorkflowID(id, () => Shop.parent());
    assert.deepEqual(r, [`${id}-0`, 'childx1:5', 'directx2:6']);
    const rows = await steps(db.url, id);
    assert.deepEqual(
      rows.map((x) => [x.function_id, x.function_name, x.child_workflow_id]),
      [
        [0, 'order', `${id}-0`],
        [1, 'order', `${id}-1`],
        [2, 'DBOS.getResult', `${id}-1`],
        [3, 'DBOS.getResult', `${id}-0`],
      ],
    );
    assert.equal((await statusRow(db.url, `${id}-0`))?.parent_workflow_id, id);
  });

  test('context getters, and DBOS.now / randomUUID recorded as steps', async () => {
    const id = `ctx-${randomUUID()}`;
    const r = await DBOS.withNextWorkflowID(id, () => Shop.introspect());
    assert.equal(r.workflowID, id);
    assert.equal(r.within, true);
    assert.equal(r.inWorkflow, true);
    assert.equal(r.inStep, false);
    assert.deepEqual(r.step, { wf: id, inStep: true, stepID: 0 });
    const rows = await steps(db.url, id);
    assert.deepEqual(
      rows.map((x) => [x.function_id, x.function_name, x.serialization]),
      [
        [0, 'peek', 'js_superjson'],
        [1, 'DBOS.now', null],
        [2, 'DBOS.randomUUID', null],
      ],
    );
    assert.equal(rows[2]?.output, JSON.stringify({ json: r.uuid, __dbos_serializer: 'superjson' }));
    assert.equal(DBOS.workflowID, undefined);
    assert.equal(DBOS.isWithinWorkflow(), false);
  });

  test('getResult with a timeout returns null while the workflow still runs', async () => {
    const h = await DBOS.startWorkflow(Shop).slow(400);
    assert.equal(await DBOS.getResult(h.workflowID, 0.05), null);
    assert.equal(await DBOS.getResult(h.workflowID, { timeoutSeconds: 5 }), 'slow-done');
    const st = await h.getStatus();
    assert.equal(st?.status, 'SUCCESS');
  });

  test('durable sleep records its wake-up time once', async () => {
    const h = await DBOS.startWorkflow(Shop).slow(30);
    await h.getResult();
    const rows = await steps(db.url, h.workflowID);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.function_name, 'DBOS.sleep');
    assert.equal(rows[0]?.serialization, 'portable_json');
    assert.ok(Number(rows[0]?.output) > Date.now() - 60_000);
  });
});

describe('cancel, resume and timeouts', () => {
  test('a workflow past its timeout is cancelled, and so are the children that inherit its deadline', async () => {
    const id = `timeout-${randomUUID()}`;
    const t0 = Date.now();
    const h = await DBOS.startWorkflow(Shop, { workflowID: id, timeoutMS: 300 }).parentOfSleepers(10_000);
    await assert.rejects(h.getResult(), (e: unknown) => e instanceof DBOSErrors.DBOSWorkflowCancelledError && e.dbosErrorCode === 24);
    assert.ok(Date.now() - t0 < 5000, 'cancelled by the sweep within seconds, not after the sleep');
    const st = await statusRow(db.url, id);
    assert.equal(st?.status, 'CANCELLED');
    assert.equal(st?.workflow_timeout_ms, '300');
    for (const child of [`${id}-0`, `${id}-1`]) {
      const c = await statusRow(db.url, child);
      assert.equal(c?.workflow_deadline_epoch_ms, st?.workflow_deadline_epoch_ms, 'children inherit the deadline');
      for (let i = 0; i < 100 && (await statusRow(db.url, child))?.status !== 'CANCELLED'; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await statusRow(db.url, child))?.status, 'CANCELLED');
    }
    await assert.rejects(DBOS.retrieveWorkflow(id).getResult(), DBOSErrors.DBOSAwaitedWorkflowCancelledError);
  });

  test('cancelWorkflow stops a sleeping workflow at once; resumeWorkflow continues it from its checkpoints', async () => {
    const id = `cancel-${randomUUID()}`;
    runs['reserve:before-nap'] = 0;
    runs['reserve:after-nap'] = 0;
    const h = await DBOS.startWorkflow(Shop, { workflowID: id }).napThenStep(300);
    while ((await steps(db.url, id)).length < 2) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    await DBOS.cancelWorkflow(id);
    await assert.rejects(h.getResult(), DBOSErrors.DBOSWorkflowCancelledError);
    assert.ok(Date.now() - t0 < 250, 'the durable sleep was interrupted');
    assert.equal((await DBOS.getWorkflowStatus(id))?.status, 'CANCELLED');
    await new Promise((r) => setTimeout(r, 350)); // past the recorded wake-up time

    const resumed = await DBOS.resumeWorkflow<string>(id);
    assert.equal(await resumed.getResult(), '10/9');
    assert.equal(runs['reserve:before-nap'], 1, 'the recorded step was replayed, not re-run');
    assert.equal(runs['reserve:after-nap'], 1);
    const st = await statusRow(db.url, id);
    assert.equal(st?.status, 'SUCCESS');
    assert.equal(st?.recovery_attempts, '1');
    assert.equal(st?.queue_name, '_dbos_internal_queue');
    await assert.rejects(DBOS.resumeWorkflow(`missing-${randomUUID()}`), DBOSErrors.DBOSNonExistentWorkflowError);
  });

  test('a cancel written by another process (as the DBOS CLI does) stops the local run within seconds', async () => {
    const id = `ext-cancel-${randomUUID()}`;
    const h = await DBOS.startWorkflow(Shop, { workflowID: id }).slow(20_000);
    while ((await steps(db.url, id)).length < 1) await new Promise((r) => setTimeout(r, 10));
    await query(db.url, "UPDATE dbos.workflow_status SET status = 'CANCELLED', owner_xid = NULL WHERE workflow_uuid = $1", [id]);
    const t0 = Date.now();
    await assert.rejects(h.getResult(), DBOSErrors.DBOSWorkflowCancelledError);
    assert.ok(Date.now() - t0 < 3000);
  });
});
