// A workflow run from its row, not from the call that started it, runs as the user and roles the row
// records (as the SDK's recovery context does): dequeued after a client enqueued it with
// authenticatedUser/authenticatedRoles, or recovered after its process was SIGKILLed mid-workflow.
// Its own code, its steps and the children it starts all see them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient } from 'dbos-native';
import { killApp, logEvents, spawnApp, waitFor, type App } from './helpers/child';
import { query, statusRow, within } from './helpers/db';
import { appScratch } from './helpers/scratch';
import type { Who } from './apps/authed-app';

const script = path.join(__dirname, 'apps', 'authed-app.js');
const EXECUTOR = 'authed-recovery-executor';
let client: DBOSClient;

const scratch = appScratch('dbosn_authed_recovery', {
  setup: async () => {
    client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
  },
  teardown: async () => {
    await client.destroy();
  },
});

function run(env: Record<string, string>, name: string): App {
  return spawnApp(script, { DBOS_SYSTEM_DATABASE_URL: scratch.url, DBOS__VMID: EXECUTOR, ...env }, name);
}

const has = (log: string, event: string) => () => logEvents(log).some((e) => e.name === event);

test('a workflow a client enqueued with authenticatedUser/authenticatedRoles runs as them when dequeued', async () => {
  const log = scratch.file('queued.log');
  const app = run({ LOG: log }, 'queued');
  await waitFor('the app to be ready', has(log, 'ready'), [app]);
  const handle = await client.enqueue<() => Promise<Who>>(
    { queueName: 'authq', workflowName: 'who', workflowClassName: 'AuthedApp', workflowID: 'authed-queued', authenticatedUser: 'alice', authenticatedRoles: ['a'] },
  );
  const who = await within(handle.getResult(), 15_000, 'the queued workflow');
  assert.deepEqual(who, { user: 'alice', roles: ['a'], assumedRole: '', inStep: 'alice:a', child: 'alice:a' });
  await killApp(app);
});

test('a workflow started in withAuthedContext and SIGKILLed mid-run runs as its recorded user after recovery', async () => {
  const log = scratch.file('recovered.log');
  const id = 'authed-recovered';
  const first = run({ LOG: log, START: id, HANG: '1' }, 'first');
  await waitFor('the workflow to start', has(log, 'started'), [first]);
  await killApp(first);
  assert.equal((await statusRow(scratch.url, id))?.status, 'PENDING');
  // withAuthedContext records no assumed role; a row written by the SDK may carry one, and the run sees it.
  await query(scratch.url, "UPDATE dbos.workflow_status SET assumed_role = 'r2' WHERE workflow_uuid = $1", [id]);

  const second = run({ LOG: log }, 'second');
  const who = await within(client.retrieveWorkflow<Who>(id).getResult(), 15_000, 'the recovered workflow');
  assert.deepEqual(who, { user: 'carol', roles: ['r1', 'r2'], assumedRole: 'r2', inStep: 'carol:r1,r2', child: 'carol:r1,r2' });
  const child = await statusRow(scratch.url, `${id}-child`);
  assert.equal(child?.authenticated_user, 'carol', 'the child started after recovery records the user too');
  assert.deepEqual(JSON.parse(String(child?.authenticated_roles)), ['r1', 'r2']);
  await killApp(second);
});
