// Firing schedules in a launched process: per-second schedules fire with the SDK's IDs, rows and inputs, and our
// dispatcher runs them (the internal queue and an application queue); pause, resume, update and delete take effect
// at once; last_fired_at never moves back; triggerSchedule and backfillSchedule on DBOS and the client, with the
// SDK's IDs and errors. Schedules are written with the engine's store (as SCHEDAPI's statics will).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOS, DBOSClient, Error as DBOSErrors } from 'dbos-native';
import { query, sleep } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';
import { DBOSJSON } from '../ts/superjson-format';

type Binding = typeof import('../native/binding');
type Engine = import('../native/binding').NativeEngine;
type Row = import('../native/binding').JsScheduleRecord;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(__dirname, '..', '..', '..', 'native', 'binding.js')) as Binding;

const APP = 'fire-app';

/** Each run: its workflow ID, the scheduled date it was given (ISO; 'not-a-date' otherwise) and its context. */
const runs: { id: string; date: string; context: unknown }[] = [];
DBOS.registerWorkflow(
  async (scheduledDate: Date, context: unknown): Promise<string> => {
    runs.push({ id: DBOS.workflowID ?? '', date: scheduledDate instanceof Date ? scheduledDate.toISOString() : 'not-a-date', context });
    return 'ticked';
  },
  { name: 'fireTick' },
);

const inWorkflow = DBOS.registerWorkflow(
  async (): Promise<string[]> => {
    const errors: string[] = [];
    for (const call of [() => DBOS.triggerSchedule('s'), () => DBOS.backfillSchedule('s', new Date(0), new Date(1))]) {
      await call().catch((e: Error) => errors.push(`${e.constructor.name}: ${e.message}`));
    }
    return errors;
  },
  { name: 'fireInWorkflow' },
);

const db = launchedDatabase('dbosn_schedules_fire', { name: APP, applicationVersion: 'fire-v1' });
let store: Engine | undefined;

async function engine(): Promise<Engine> {
  store ??= await binding.connect({ url: db.url, schema: 'dbos', poolSize: 2, schemaMode: 'lazy', listen: false, listenNotify: true, listenUrl: null, transactionPooling: false, appName: APP, executorId: 'test', appVersion: '' });
  return store;
}

function row(name: string, o: Partial<Row> = {}): Row {
  return {
    scheduleId: `id-${name}`, scheduleName: name, workflowName: 'fireTick', workflowClassName: '', schedule: '* * * * * *', status: 'ACTIVE',
    context: DBOSJSON.stringify({ name }), lastFiredAt: null, automaticBackfill: false, cronTimezone: 'UTC', queueName: null, applicationName: APP,
    ...o,
  };
}

const noChange = { schedule: null, context: null, automaticBackfill: null, setCronTimezone: false, cronTimezone: null, setQueueName: false, queueName: null };

interface FiredRow {
  workflow_uuid: string;
  status: string;
  queue_name: string | null;
  schedule_name: string | null;
  application_name: string | null;
  application_version: string | null;
  class_name: string | null;
  serialization: string;
  inputs: string;
}

async function fired(name: string): Promise<FiredRow[]> {
  return query<FiredRow>(
    db.url,
    `SELECT s.workflow_uuid, s.status, s.queue_name, s.schedule_name, s.application_name, s.application_version, s.class_name, s.serialization, i.inputs
       FROM dbos.workflow_status s JOIN dbos.workflow_input i USING (workflow_uuid)
      WHERE s.workflow_uuid LIKE $1 ORDER BY s.workflow_uuid`,
    [`sched-${name}-%`],
  );
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const tickIds = (rows: FiredRow[]): string[] => rows.map((r) => r.workflow_uuid).filter((id) => !id.includes('-trigger-'));
const tickTimes = (name: string, ids: string[]): number[] => ids.map((id) => Date.parse(id.slice(`sched-${name}-`.length)));

describe('firing', () => {
  test('a per-second schedule fires each second once, with the SDK row and inputs, and runs here', async () => {
    await (await engine()).createSchedule(row('every'));
    await waitUntil('three ticks ran', () => runs.filter((r) => r.id.startsWith('sched-every-')).length >= 3);
    const rows = await fired('every');
    const times = tickTimes('every', tickIds(rows));
    for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 1000, `consecutive seconds: ${tickIds(rows).join(', ')}`);
    const r = rows[0]!;
    assert.match(r.workflow_uuid, /^sched-every-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.deepEqual(
      { queue: r.queue_name, schedule: r.schedule_name, app: r.application_name, version: r.application_version, cls: r.class_name, ser: r.serialization },
      { queue: '_dbos_internal_queue', schedule: 'every', app: APP, version: 'fire-v1', cls: null, ser: 'js_superjson' },
    );
    // The inputs are `[scheduledDate, context]` as the SDK's serializer writes them.
    const at = new Date(r.workflow_uuid.slice('sched-every-'.length));
    assert.equal(r.inputs, DBOSJSON.stringify([at, { name: 'every' }]));
    const run = runs.find((x) => x.id === r.workflow_uuid);
    assert.deepEqual(run, { id: r.workflow_uuid, date: at.toISOString(), context: { name: 'every' } });
    // last_fired_at follows the ticks.
    const last = (await (await engine()).getSchedule('every'))?.lastFiredAt;
    assert.ok(last && Date.parse(last) >= times[times.length - 1]! - 1000, `last_fired_at ${last}`);
    await (await engine()).deleteSchedule('every');
  });

  test("a schedule's queue gets its runs, and our dispatcher serves it", async () => {
    await DBOS.registerQueue('fire-queue');
    await (await engine()).createSchedule(row('queued', { queueName: 'fire-queue' }));
    await waitUntil('a queued tick ran', () => runs.some((r) => r.id.startsWith('sched-queued-')));
    assert.equal((await fired('queued'))[0]?.queue_name, 'fire-queue');
    await (await engine()).deleteSchedule('queued');
  });

  test('pause, resume, update and delete take effect within a second', async () => {
    const e = await engine();
    const count = async (): Promise<number> => tickIds(await fired('live')).length;
    await e.createSchedule(row('live'));
    await waitUntil('it fires', async () => (await count()) >= 1);
    await e.setScheduleStatus('live', 'PAUSED');
    const pausedAt = Date.now();
    await sleep(2500);
    const afterPause = tickTimes('live', tickIds(await fired('live'))).filter((t) => t > pausedAt + 1000);
    assert.deepEqual(afterPause, [], 'no tick more than a second after the pause');

    await e.setScheduleStatus('live', 'ACTIVE');
    const resumedAt = Date.now();
    await waitUntil('it fires again', async () => tickTimes('live', tickIds(await fired('live'))).some((t) => t > resumedAt), 3000);

    await e.updateSchedule('live', { ...noChange, context: DBOSJSON.stringify({ name: 'changed' }) });
    await waitUntil('a tick with the new context ran', () => runs.some((r) => r.id.startsWith('sched-live-') && (r.context as { name: string }).name === 'changed'), 3000);

    await e.deleteSchedule('live');
    const deletedAt = Date.now();
    await sleep(2500);
    assert.deepEqual(tickTimes('live', tickIds(await fired('live'))).filter((t) => t > deletedAt + 1000), [], 'no tick a second after the delete');
  });

  test('last_fired_at never moves backwards', async () => {
    const e = await engine();
    await e.createSchedule(row('mono', { lastFiredAt: '2099-01-01T00:00:00.000Z' }));
    await waitUntil('it fires twice', async () => tickIds(await fired('mono')).length >= 2);
    assert.equal((await e.getSchedule('mono'))?.lastFiredAt, '2099-01-01T00:00:00.000Z');
    await e.deleteSchedule('mono');
  });

  test('a schedule of another application is not fired here', async () => {
    const e = await engine();
    await e.createSchedule(row('foreign', { applicationName: 'other-app' }));
    await e.createSchedule(row('unclaimed', { applicationName: null, schedule: '* * * * * *' }));
    await waitUntil('the unclaimed one fires', async () => tickIds(await fired('unclaimed')).length >= 2);
    assert.deepEqual(await fired('foreign'), []);
    await e.deleteSchedule('foreign');
    await e.deleteSchedule('unclaimed');
  });
});

describe('triggerSchedule and backfillSchedule', () => {
  test('trigger enqueues now with the trigger ID; DBOS and client', async () => {
    const e = await engine();
    await e.createSchedule(row('manual', { schedule: '0 0 1 1 *', context: DBOSJSON.stringify({ name: 'manual' }) }));
    const before = Date.now();
    const h = await DBOS.triggerSchedule('manual');
    assert.match(h.workflowID, /^sched-manual-trigger-\d{4}-.*Z$/);
    const at = Date.parse(h.workflowID.slice('sched-manual-trigger-'.length));
    assert.ok(at >= before - 1 && at <= Date.now());
    assert.equal(await h.getResult(), 'ticked');
    assert.deepEqual(runs.find((r) => r.id === h.workflowID), { id: h.workflowID, date: new Date(at).toISOString(), context: { name: 'manual' } });

    const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: APP });
    try {
      const ch = await client.triggerSchedule('manual');
      assert.match(ch.workflowID, /^sched-manual-trigger-/);
      assert.equal(await ch.getResult(), 'ticked');
      await assert.rejects(client.triggerSchedule('nope'), (err: Error) => err instanceof DBOSErrors.DBOSError && err.message === 'Schedule "nope" not found');
      const ends = [new Date('2026-03-01T10:00:00.000Z'), new Date('2026-03-01T10:00:03.000Z')] as const;
      const hs = await client.backfillSchedule('every-client', ...ends).catch((err: Error) => err);
      assert.ok(hs instanceof DBOSErrors.DBOSError && hs.message === 'Schedule "every-client" not found');
    } finally {
      await client.destroy();
    }
    await e.deleteSchedule('manual');
  });

  test('backfill enqueues each tick strictly between start and end, with the firing IDs, once', async () => {
    const e = await engine();
    await e.createSchedule(row('past', { status: 'PAUSED', schedule: '*/10 * * * * *' }));
    const start = new Date('2026-03-01T10:00:00.000Z');
    const end = new Date('2026-03-01T10:00:40.000Z');
    const hs = await DBOS.backfillSchedule('past', start, end);
    const ids = ['10', '20', '30'].map((s) => `sched-past-2026-03-01T10:00:${s}.000Z`);
    assert.deepEqual(hs.map((h) => h.workflowID), ids);
    assert.deepEqual(await Promise.all(hs.map((h) => h.getResult())), ['ticked', 'ticked', 'ticked']);
    // Again, through the client: the same IDs, nothing new written.
    const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: APP });
    try {
      assert.deepEqual((await client.backfillSchedule('past', start, end)).map((h) => h.workflowID), ids);
    } finally {
      await client.destroy();
    }
    assert.deepEqual(tickIds(await fired('past')), ids);
    assert.equal(runs.filter((r) => r.id.startsWith('sched-past-')).length, 3);
    await e.deleteSchedule('past');
  });

  test('bad calls reject with DBOSError: unknown name, inside a workflow, not Dates', async () => {
    await assert.rejects(DBOS.triggerSchedule('nope'), (e: Error) => e instanceof DBOSErrors.DBOSError && e.message === 'Schedule "nope" not found');
    await assert.rejects(DBOS.backfillSchedule('nope', new Date(0), new Date()), (e: Error) => e instanceof DBOSErrors.DBOSError && e.message === 'Schedule "nope" not found');
    assert.deepEqual(await inWorkflow(), [
      'DBOSError: triggerSchedule cannot be called from within a workflow',
      'DBOSError: backfillSchedule cannot be called from within a workflow',
    ]);
    const p = DBOS.backfillSchedule('nope', 'yesterday' as unknown as Date, new Date());
    await assert.rejects(p, DBOSErrors.DBOSError);
  });
});

test('closing the store engine', async () => {
  store?.close();
});
