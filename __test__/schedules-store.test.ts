// The schedule store across the addon boundary: rows in the SDK's format, the SDK's errors as
// INVALID_ARGUMENT rejections that write nothing, and last_fired_at that never moves backwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { freshDatabase, query } from './helpers/db';

type Binding = typeof import('../native/binding');
type Engine = import('../native/binding').NativeEngine;
type Row = import('../native/binding').JsScheduleRecord;

const repo = path.join(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(repo, 'native', 'binding.js')) as Binding;

let url = '';
let engine: Engine;

before(async () => {
  url = await freshDatabase('schedules_store');
  engine = await binding.connect({ url, schema: 'dbos', poolSize: 2, schemaMode: 'migrate', listen: false, listenNotify: true, listenUrl: null, transactionPooling: false, appName: 'app1', executorId: 'local', appVersion: 'v1' });
});
after(() => engine?.close());

function row(name: string, app: string | null): Row {
  return {
    scheduleId: `id-${name}`, scheduleName: name, workflowName: 'tick', workflowClassName: '', schedule: '* * * * * *', status: 'ACTIVE',
    context: 'null', lastFiredAt: null, automaticBackfill: false, cronTimezone: null, queueName: null, applicationName: app,
  };
}
const noFilter = { apps: [], statuses: [], workflowNames: [], namePrefixes: [] };

test('create, list, update, fire and delete a schedule', async () => {
  await engine.createSchedule(row('s1', 'app1'));
  await assert.rejects(engine.createSchedule(row('s1', 'app1')), { code: 'INVALID_ARGUMENT', message: "Schedule 's1' already exists" });
  await assert.rejects(engine.createSchedule({ ...row('s1', 'app2'), schedule: 'x' }), { code: 'INVALID_ARGUMENT' });
  const stored = await query<{ schedule: string; application_name: string }>(url, 'SELECT schedule, application_name FROM dbos.workflow_schedules');
  assert.deepEqual(stored, [{ schedule: '* * * * * *', application_name: 'app1' }], 'refused writes leave the row');

  await engine.updateSchedule('s1', { schedule: null, context: '{"a":1}', automaticBackfill: true, setCronTimezone: true, cronTimezone: 'UTC', setQueueName: false, queueName: null });
  const got = await engine.getSchedule('s1');
  assert.deepEqual(got, { ...row('s1', 'app1'), context: '{"a":1}', automaticBackfill: true, cronTimezone: 'UTC' });
  await assert.rejects(engine.updateSchedule('nope', { schedule: null, context: null, automaticBackfill: null, setCronTimezone: false, cronTimezone: null, setQueueName: false, queueName: null }), { code: 'INVALID_ARGUMENT', message: "Schedule 'nope' not found" });

  assert.equal(await engine.recordScheduleFired('s1', '2026-01-01T00:00:05.000Z'), true);
  assert.equal(await engine.recordScheduleFired('s1', '2026-01-01T00:00:04.000Z'), false, 'a late writer does not set it back');
  assert.equal((await engine.getSchedule('s1'))?.lastFiredAt, '2026-01-01T00:00:05.000Z');

  await engine.setScheduleStatus('s1', 'PAUSED');
  assert.deepEqual((await engine.listSchedules({ ...noFilter, statuses: ['PAUSED'] })).map((r) => r.scheduleName), ['s1']);
  await engine.deleteSchedule('s1');
  assert.equal(await engine.getSchedule('s1'), null);
  assert.deepEqual(await engine.listSchedules(noFilter), []);
});
