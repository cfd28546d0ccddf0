// Schedule CRUD on DBOS and DBOSClient (SDK 5.3.0): the rows are the ones the official SDK's client writes for
// the same calls, reads give the SDK client's WorkflowSchedule, the SDK's errors (classes and messages) leave the
// table unchanged, and in workflow code each call is recorded as the SDK's step.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, DBOSClient, ConfiguredInstance, Error as DBOSErrors, type WorkflowSchedule } from 'dbos-native';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { assertCheckpoints, query, steps } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

const APP = 'sched-app';

const tick = DBOS.registerWorkflow(async (_at: Date, _ctx: unknown): Promise<void> => undefined, { name: 'tick' });

class Jobs extends ConfiguredInstance {
  @DBOS.workflow()
  static async nightly(_at: Date, _ctx: { n: number }): Promise<void> {}

  @DBOS.workflow()
  async perInstance(_at: Date, _ctx: unknown): Promise<void> {}
}
const jobs = new Jobs('jobs');
/** Registered as a method of Jobs's instances (a prototype given): refused like a decorated instance method. */
const protoWorkflow = DBOS.registerWorkflow(async function (this: unknown, _at: Date): Promise<void> {}, { name: 'protoWorkflow', ctorOrProto: Jobs.prototype });

/** Every schedule call from workflow code. */
const scheduleCalls = DBOS.registerWorkflow(
  async (): Promise<string[]> => {
    await DBOS.createSchedule({ scheduleName: 'in-wf', workflowFn: tick, schedule: '0 0 1 1 *', context: 'c' });
    const got = await DBOS.getSchedule('in-wf');
    const listed = await DBOS.listSchedules({ scheduleNamePrefix: 'in-' });
    await DBOS.pauseSchedule('in-wf');
    await DBOS.resumeSchedule('in-wf');
    await DBOS.updateSchedule('in-wf', { context: 'd' });
    await DBOS.deleteSchedule('in-wf');
    await assert.rejects(DBOS.applySchedules([]), { message: 'applySchedules cannot be called from within a workflow' });
    return [String(got?.context), ...listed.map((s) => s.scheduleName)];
  },
  { name: 'scheduleCalls' },
);

async function plain(_at: Date, _ctx: unknown): Promise<void> {}

// Called at load, before the launch: the SDK's TypeError, as a rejection.
const beforeLaunch = DBOS.listSchedules().then(
  () => undefined,
  (e: unknown) => e,
);

// Schedules here never come due during a run (January 1-2 only): this process fires what is due, and a
// firing would change the rows and reads compared with the SDK client's.
const db = launchedDatabase('dbosn_schedules_api', { name: APP });

interface Row {
  schedule_id: string;
  schedule_name: string;
  [column: string]: unknown;
}

async function rows(): Promise<Row[]> {
  return query<Row>(db.url, 'SELECT * FROM dbos.workflow_schedules ORDER BY schedule_name');
}

async function row(name: string): Promise<Row | undefined> {
  return (await rows()).find((r) => r.schedule_name === name);
}

/** A row without its random ID and its name, to compare ours with the SDK's. */
function shape(r: Row | undefined): Record<string, unknown> {
  assert.ok(r, 'the row exists');
  assert.match(r.schedule_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const { schedule_id: _id, schedule_name: _name, ...rest } = r;
  return rest;
}

async function withClients<T>(applicationName: string | undefined, f: (ours: DBOSClient, theirs: OfficialClient) => Promise<T>): Promise<T> {
  const ours = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName });
  const theirs = await OfficialClient.create({ systemDatabaseUrl: db.url, applicationName });
  try {
    return await f(ours, theirs);
  } finally {
    await ours.destroy();
    await theirs.destroy();
  }
}

async function deleteAll(): Promise<void> {
  await query(db.url, 'DELETE FROM dbos.workflow_schedules');
}

const CONTEXT = { n: 1, at: new Date(Date.UTC(2026, 0, 2)), tags: new Set(['a']) };

describe('DBOS', () => {
  test('before launch a call rejects with the TypeError of the SDK', async () => {
    const e = await beforeLaunch;
    assert.ok(e instanceof TypeError);
    assert.equal(e.message, '`DBOS.launch()` must be called before running listSchedules.');
  });

  test('createSchedule writes the row the SDK client writes, and reads give its WorkflowSchedule', async () => {
    await deleteAll();
    await DBOS.createSchedule({ scheduleName: 'ours', workflowFn: Jobs.nightly, schedule: '5 0 0 1 1 *', context: CONTEXT, options: { cronTimezone: 'Europe/Paris', queueName: 'q', automaticBackfill: true } });
    await DBOS.createSchedule({ scheduleName: 'ours-min', workflowFn: tick, schedule: '@daily' });
    await withClients(APP, async (_ours, theirs) => {
      const options = { cronTimezone: 'Europe/Paris', queueName: 'q', automaticBackfill: true };
      await theirs.createSchedule({ scheduleName: 'sdk', workflowName: 'nightly', workflowClassName: 'Jobs', schedule: '5 0 0 1 1 *', context: CONTEXT, options });
      await theirs.createSchedule({ scheduleName: 'sdk-min', workflowName: 'tick', schedule: '@daily' });
      assert.deepEqual(shape(await row('ours')), shape(await row('sdk')));
      assert.deepEqual(shape(await row('ours-min')), shape(await row('sdk-min')));
      assert.equal((await row('ours'))?.status, 'ACTIVE');
      assert.equal((await row('ours'))?.application_name, APP);
      assert.equal((await row('ours-min'))?.cron_timezone, null, 'no zone given: NULL (fired in the host zone)');

      const got = await DBOS.getSchedule('sdk');
      assert.deepEqual(got, await theirs.getSchedule('sdk'));
      assert.deepEqual(got?.context, CONTEXT);
      assert.equal(got?.workflowClassName, 'Jobs');
      assert.deepEqual(await DBOS.listSchedules(), (await theirs.listSchedules()) as WorkflowSchedule[]);
      assert.equal(await DBOS.getSchedule('none'), null);
    });
  });

  test('list filters: a value or a list, by status, workflow, name prefix and application', async () => {
    await deleteAll();
    await DBOS.createSchedule({ scheduleName: 'a-1', workflowFn: tick, schedule: '0 0 1 1 *' });
    await DBOS.createSchedule({ scheduleName: 'a-2', workflowFn: Jobs.nightly, schedule: '0 0 1 1 *', context: { n: 2 } });
    await DBOS.createSchedule({ scheduleName: 'b-1', workflowFn: tick, schedule: '0 0 1 1 *' });
    await DBOS.pauseSchedule('a-2');
    await withClients('other-app', (c) => c.createSchedule({ scheduleName: 'c-other', workflowName: 'tick', schedule: '0 0 1 1 *' }));
    await withClients(undefined, (c) => c.createSchedule({ scheduleName: 'd-unclaimed', workflowName: 'tick', schedule: '0 0 1 1 *' }));
    const names = async (f?: Parameters<typeof DBOS.listSchedules>[0]) => (await DBOS.listSchedules(f)).map((s) => s.scheduleName);
    assert.deepEqual(await names(), ['a-1', 'a-2', 'b-1', 'd-unclaimed'], 'own and unclaimed by default');
    assert.deepEqual(await names({ status: 'PAUSED' }), ['a-2']);
    assert.deepEqual(await names({ status: ['PAUSED', 'ACTIVE'] }), ['a-1', 'a-2', 'b-1', 'd-unclaimed']);
    assert.deepEqual(await names({ workflowName: 'nightly' }), ['a-2']);
    assert.deepEqual(await names({ scheduleNamePrefix: ['a-', 'd'] }), ['a-1', 'a-2', 'd-unclaimed']);
    assert.deepEqual(await names({ applicationName: 'other-app' }), ['c-other', 'd-unclaimed']);
    assert.deepEqual(await names({ applicationName: [APP, 'other-app'], workflowName: ['tick'] }), ['a-1', 'b-1', 'c-other', 'd-unclaimed']);
    await withClients(APP, async (_o, theirs) => {
      for (const f of [{ status: 'PAUSED' }, { applicationName: 'other-app' }, { scheduleNamePrefix: 'a-', workflowName: ['tick', 'nightly'] }]) {
        assert.deepEqual(await DBOS.listSchedules(f), (await theirs.listSchedules(f)) as WorkflowSchedule[], JSON.stringify(f));
      }
    });
  });

  test('pause, resume, update and delete, as the SDK client does them', async () => {
    await deleteAll();
    const base = { schedule: '0 0 * * *', context: { v: 1 }, options: { cronTimezone: 'UTC', queueName: 'q' } };
    await DBOS.createSchedule({ scheduleName: 'ours', workflowFn: tick, ...base });
    await withClients(APP, async (_o, theirs) => {
      await theirs.createSchedule({ scheduleName: 'sdk', workflowName: 'tick', ...base });
      const both = async (f: (name: string, sdk: boolean) => Promise<void>) => {
        await f('ours', false);
        await f('sdk', true);
        assert.deepEqual(shape(await row('ours')), shape(await row('sdk')));
      };
      await both((n, sdk) => (sdk ? theirs.pauseSchedule(n) : DBOS.pauseSchedule(n)));
      assert.equal((await row('ours'))?.status, 'PAUSED');
      await both((n, sdk) => (sdk ? theirs.resumeSchedule(n) : DBOS.resumeSchedule(n)));
      assert.equal((await row('ours'))?.status, 'ACTIVE');
      const updates = [
        { schedule: '10 0 0 1 1 *' },
        { context: undefined },
        { context: { v: 2, d: new Date(0) } },
        { automaticBackfill: true, cronTimezone: null, queueName: null },
        { cronTimezone: 'Asia/Tokyo', queueName: 'q2' },
        { schedule: undefined, automaticBackfill: undefined },
        {},
      ];
      for (const u of updates) await both((n, sdk) => (sdk ? theirs.updateSchedule(n, u) : DBOS.updateSchedule(n, u)));
      const got = await DBOS.getSchedule('ours');
      assert.deepEqual({ ...got, scheduleId: '', scheduleName: '' }, { ...(await theirs.getSchedule('sdk')), scheduleId: '', scheduleName: '' });
      assert.deepEqual(got?.context, { v: 2, d: new Date(0) });
      await DBOS.pauseSchedule('none');
      await DBOS.resumeSchedule('none');
      await DBOS.deleteSchedule('none');
      await DBOS.deleteSchedule('ours');
      await theirs.deleteSchedule('sdk');
      assert.deepEqual(await rows(), []);
    });
  });

  test('applySchedules upserts in one transaction, keeping ID, status and last firing, and leaves others', async () => {
    await deleteAll();
    await DBOS.createSchedule({ scheduleName: 'kept', workflowFn: tick, schedule: '0 0 1 1 *' });
    await DBOS.applySchedules([
      { scheduleName: 'x', workflowFn: tick, schedule: '0 0 1 1 *', context: 1 },
      { scheduleName: 'y', workflowFn: Jobs.nightly, schedule: '0 0 2 1 *', cronTimezone: 'UTC', queueName: 'q', automaticBackfill: true },
    ]);
    const before = await row('x');
    await DBOS.pauseSchedule('x');
    await query(db.url, "UPDATE dbos.workflow_schedules SET last_fired_at = '2026-01-01T00:00:00.000Z' WHERE schedule_name = 'x'");
    await DBOS.applySchedules([{ scheduleName: 'x', workflowFn: Jobs.nightly, schedule: '0 0 * * *', context: 2, queueName: 'q' }]);
    const after = await row('x');
    assert.deepEqual(after, {
      ...before,
      workflow_name: 'nightly',
      workflow_class_name: 'Jobs',
      schedule: '0 0 * * *',
      context: (await row('x'))?.context,
      queue_name: 'q',
      status: 'PAUSED',
      last_fired_at: '2026-01-01T00:00:00.000Z',
    });
    assert.deepEqual((await DBOS.getSchedule('x'))?.context, 2);
    assert.ok(await row('kept'), 'schedules not listed stay');
    await withClients(APP, async (_o, theirs) => {
      await theirs.applySchedules([{ scheduleName: 'y-sdk', workflowName: 'nightly', workflowClassName: 'Jobs', schedule: '0 0 2 1 *', cronTimezone: 'UTC', queueName: 'q', automaticBackfill: true }]);
      assert.deepEqual(shape(await row('y')), shape(await row('y-sdk')));
    });
    // One bad entry (another application's name): nothing of the batch is written.
    await withClients('other-app', (c) => c.createSchedule({ scheduleName: 'theirs', workflowName: 'tick', schedule: '0 0 1 1 *' }));
    const snapshot = await rows();
    await assert.rejects(
      DBOS.applySchedules([
        { scheduleName: 'new-one', workflowFn: tick, schedule: '0 0 1 1 *' },
        { scheduleName: 'theirs', workflowFn: tick, schedule: '0 0 1 1 *' },
      ]),
      (e: Error) => e instanceof DBOSErrors.DBOSError && /already registered by application 'other-app'/.test(e.message),
    );
    assert.deepEqual(await rows(), snapshot);
  });

  test("the SDK's errors, with nothing written", async () => {
    await deleteAll();
    await DBOS.createSchedule({ scheduleName: 'dup', workflowFn: tick, schedule: '0 0 1 1 *' });
    await withClients('other-app', (c) => c.createSchedule({ scheduleName: 'taken', workflowName: 'tick', schedule: '0 0 1 1 *' }));
    const snapshot = await rows();
    const create = (over: Record<string, unknown>) => DBOS.createSchedule({ scheduleName: 'n', workflowFn: tick, schedule: '0 0 1 1 *', ...over } as Parameters<typeof DBOS.createSchedule>[0]);
    const cases: [() => Promise<unknown>, (e: Error) => boolean][] = [
      [() => create({ scheduleName: 'dup' }), (e) => e.constructor === Error && e.message === "Schedule 'dup' already exists"],
      [() => create({ scheduleName: 'taken' }), (e) => e instanceof DBOSErrors.DBOSError && e.message.startsWith("Schedule 'taken' is already registered by application 'other-app'")],
      [() => create({ schedule: '* * * * * $' }), (e) => e.constructor === TypeError && e.message === 'pattern includes illegal characters!'],
      [() => create({ schedule: 42 }), (e) => e.constructor === TypeError && e.message === 'pattern must be a string!'],
      [() => create({ schedule: '* * * *' }), (e) => e.constructor === Error && e.message === 'expected 5 or 6 fields but got 4'],
      [() => create({ schedule: '0 0 30 2 *' }), (e) => e.constructor === Error && e.message === '30 2 is an impossible day of month for the given month'],
      [() => create({ options: { cronTimezone: 'Mars/Olympus' } }), (e) => e.constructor === Error && e.message === "Invalid timezone: 'Mars/Olympus'"],
      [() => create({ workflowFn: jobs.perInstance }), (e) => e instanceof DBOSErrors.DBOSError && e.message === 'Cannot schedule instance method "perInstance". Only static methods and free functions can be used in schedules.'],
      [() => create({ workflowFn: protoWorkflow }), (e) => e instanceof DBOSErrors.DBOSError && e.message.startsWith('Cannot schedule instance method "protoWorkflow"')],
      [() => DBOS.updateSchedule('none', { queueName: 'q' }), (e) => e instanceof DBOSErrors.DBOSError && e.message === "Schedule 'none' not found"],
      [() => DBOS.updateSchedule('none', {}), (e) => e instanceof DBOSErrors.DBOSError && e.message === "Schedule 'none' not found"],
      [() => DBOS.updateSchedule('dup', { schedule: 'nope' }), (e) => e.constructor === Error && e.message === 'expected 5 or 6 fields but got 1'],
      [() => DBOS.updateSchedule('dup', { schedule: null as unknown as string }), (e) => e.constructor === TypeError && e.message === 'pattern must be a string!'],
      [() => DBOS.updateSchedule('dup', { cronTimezone: 'Nowhere/Town' }), (e) => e.constructor === Error && e.message === "Invalid timezone: 'Nowhere/Town'"],
      [() => DBOS.applySchedules([{ scheduleName: 'n', workflowFn: tick, schedule: '61 * * * *' }]), (e) => e.constructor === Error && e.message === '61 is a invalid expression for minute'],
    ];
    // Each call made only when its turn comes: a promise made early would reject unhandled meanwhile.
    for (const [call, check] of cases) await assert.rejects(call(), check);
    assert.deepEqual(await rows(), snapshot);
  });

  test('an unregistered function is accepted, as the SDK accepts it, under its JS name', async () => {
    await DBOS.createSchedule({ scheduleName: 'unregistered', workflowFn: plain, schedule: '0 0 * * *' });
    const row = (await rows()).find((r) => r.schedule_name === 'unregistered');
    assert.equal(row?.workflow_name, 'plain');
    assert.equal(row?.workflow_class_name, '');
    await DBOS.deleteSchedule('unregistered');
  });

  test('in workflow code each call is the SDK step; applySchedules is refused', async () => {
    await deleteAll();
    const handle = await DBOS.startWorkflow(scheduleCalls, { workflowID: 'sched-calls' })();
    assert.deepEqual(await handle.getResult(), ['c', 'in-wf']);
    await assertCheckpoints(db.url, 'sched-calls', [
      'DBOS.createSchedule',
      'DBOS.getSchedule',
      'DBOS.listSchedules',
      'DBOS.pauseSchedule',
      'DBOS.resumeSchedule',
      'DBOS.updateSchedule',
      'DBOS.deleteSchedule',
    ]);
    // As the SDK records it: the row as its system database returns it, the context still serialized.
    const [, get] = await steps(db.url, 'sched-calls');
    const recorded = (JSON.parse(get?.output ?? 'null') as { json: { scheduleName: string; context: unknown } }).json;
    assert.equal(recorded.scheduleName, 'in-wf');
    assert.equal(recorded.context, '{"json":"c","__dbos_serializer":"superjson"}');
    assert.deepEqual(await rows(), []);
  });
});

describe('DBOSClient', () => {
  test('every call, with the rows and reads of the SDK client', async () => {
    await deleteAll();
    await withClients(APP, async (ours, theirs) => {
      for (const [c, n] of [[ours, 'o'], [theirs, 's']] as const) {
        await c.createSchedule({ scheduleName: `${n}-1`, workflowName: 'nightly', workflowClassName: 'Jobs', schedule: '0 0 * * *', context: CONTEXT, options: { queueName: 'q' } });
        await c.createSchedule({ scheduleName: `${n}-2`, workflowName: 'tick', schedule: '@yearly', applicationName: 'other-app' });
        await c.applySchedules([
          { scheduleName: `${n}-3`, workflowName: 'tick', schedule: '1 0 0 1 1 *', automaticBackfill: true, cronTimezone: 'America/New_York' },
          { scheduleName: `${n}-4`, workflowName: 'tick', schedule: '0 0 1 1 *', applicationName: 'other-app', context: [1] },
        ]);
        await c.pauseSchedule(`${n}-1`);
        await c.updateSchedule(`${n}-3`, { context: 'new', queueName: 'q3' });
        await c.pauseSchedule(`${n}-3`);
        await c.resumeSchedule(`${n}-3`);
        await c.deleteSchedule(`${n}-4`);
      }
      for (const i of [1, 2, 3]) assert.deepEqual(shape(await row(`o-${i}`)), shape(await row(`s-${i}`)), `schedule ${i}`);
      assert.equal(await row('o-4'), undefined);
      assert.equal((await row('o-2'))?.application_name, 'other-app');
      const strip = (list: WorkflowSchedule[]) => list.map((s) => ({ ...s, scheduleId: '', scheduleName: s.scheduleName.slice(2) }));
      assert.deepEqual(strip(await ours.listSchedules({ scheduleNamePrefix: 'o-' })), strip((await theirs.listSchedules({ scheduleNamePrefix: 's-' })) as WorkflowSchedule[]));
      assert.deepEqual((await ours.getSchedule('s-1'))?.context, CONTEXT);
      assert.deepEqual(await ours.getSchedule('s-1'), await theirs.getSchedule('s-1'));
      assert.equal(await ours.getSchedule('none'), null);
      await assert.rejects(ours.updateSchedule('none', { context: 1 }), (e: Error) => e instanceof DBOSErrors.DBOSError && e.message === "Schedule 'none' not found");
      await assert.rejects(ours.createSchedule({ scheduleName: 'o-1', workflowName: 'tick', schedule: '0 0 1 1 *' }), (e: Error) => e.constructor === Error && e.message === "Schedule 'o-1' already exists");
      await assert.rejects(ours.createSchedule({ scheduleName: 'o-2', workflowName: 'tick', schedule: '0 0 1 1 *' }), (e: Error) => e instanceof DBOSErrors.DBOSError && /already registered by application 'other-app'/.test(e.message));
      await assert.rejects(ours.createSchedule({ scheduleName: 'o-9', workflowName: 'tick', schedule: '* * * * * #!' }), TypeError);
    });
  });

  test('a client without an application writes unclaimed schedules and lists every one', async () => {
    await deleteAll();
    await DBOS.createSchedule({ scheduleName: 'app-own', workflowFn: tick, schedule: '0 0 1 1 *' });
    await withClients('other-app', (c) => c.createSchedule({ scheduleName: 'other-own', workflowName: 'tick', schedule: '0 0 1 1 *' }));
    await withClients(undefined, async (ours, theirs) => {
      await ours.createSchedule({ scheduleName: 'free', workflowName: 'tick', schedule: '0 0 1 1 *' });
      assert.equal((await row('free'))?.application_name, null);
      assert.deepEqual((await ours.listSchedules()).map((s) => s.scheduleName), ['app-own', 'free', 'other-own']);
      assert.deepEqual(await ours.listSchedules(), (await theirs.listSchedules()) as WorkflowSchedule[]);
    });
  });

  test("the context is written and read with the client's serializer", async () => {
    await deleteAll();
    const serializer = {
      name: () => 'reversed',
      stringify: (v: unknown) => [...JSON.stringify(v ?? null)].reverse().join(''),
      parse: (t: string | null | undefined) => (t ? (JSON.parse([...t].reverse().join('')) as unknown) : null),
    };
    const c = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: APP, serializer });
    try {
      await c.createSchedule({ scheduleName: 'rev', workflowName: 'tick', schedule: '0 0 1 1 *', context: { a: 1 } });
      assert.equal((await row('rev'))?.context, '}1:"a"{');
      assert.deepEqual((await c.getSchedule('rev'))?.context, { a: 1 });
      await c.updateSchedule('rev', { context: [2] });
      assert.equal((await row('rev'))?.context, ']2[');
    } finally {
      await c.destroy();
    }
  });
});
