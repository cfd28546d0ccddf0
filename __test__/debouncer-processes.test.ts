// The debouncer across processes: a dbos-native process SIGKILLed in the middle of a workflow's debounces resumes
// it (the recorded bounces are replayed, not bounced again) and the debounced workflow runs once, with the last
// inputs; and the official SDK 5.3.0 shares debounces with us: its DebouncerClient and ours bounce the same
// workflow, which a dbos-native worker runs, and the reverse on an official worker.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient as OfficialClient, DebouncerClient as OfficialDebouncerClient } from '@dbos-inc/dbos-sdk';
import { DBOSClient, DebouncerClient } from 'dbos-native';
import { countEvents, killApp, logEvents, spawnApp, waitFor } from './helpers/child';
import { query, sleep } from './helpers/db';
import { appScratch } from './helpers/scratch';

let ours: DBOSClient | undefined;
let theirs: OfficialClient | undefined;
const scratch = appScratch('dbosn_debouncer_procs', {
  teardown: async () => {
    await ours?.destroy();
    await theirs?.destroy();
  },
});

const nativeApp = path.join(__dirname, 'apps', 'debounce-app.js');
const officialApp = path.join(__dirname, 'apps', 'debounce-app-official.js');

const runs = (log: string, label: string): string[] =>
  logEvents(log)
    .map((e) => e.name)
    .filter((n) => n.startsWith('run:') && n.split(':')[2] === label);

describe('debouncer across processes', () => {
  test('a process killed mid-debounce resumes; the debounced workflow runs once with the last inputs', async () => {
    const log = scratch.file('crash.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log, APP_NAME: 'deb-crash', EXECUTOR_ID: 'deb-crash-1', KEY: 'crash', PERIOD_MS: '3000' };
    const first = spawnApp(nativeApp, { ...env, MODE: 'parent', PARENT_ID: 'deb-crash-parent' }, 'debounce app');
    await waitFor('the parent bounced three times', () => countEvents(log, 'bounced:native') === 1, [first]);
    await killApp(first);

    const second = spawnApp(nativeApp, env, 'debounce app (restarted)');
    await waitFor(
      'the parent was recovered',
      async () => {
        const [r] = await query<{ recovery_attempts: string }>(scratch.url, `SELECT recovery_attempts FROM dbos.workflow_status WHERE workflow_uuid = 'deb-crash-parent'`);
        return Number(r?.recovery_attempts) >= 2;
      },
      [second],
    );
    await waitFor('the debounced workflow ran', () => runs(log, 'crash').length > 0, [second]);
    // Long enough for a second workflow, had the replay bounced again after the first left DELAYED.
    await sleep(4500);
    assert.deepEqual(runs(log, 'crash'), ['run:native:crash:3']);
    const rows = await query<{ workflow_uuid: string; status: string }>(scratch.url, `SELECT workflow_uuid, status FROM dbos.workflow_status WHERE name = 'debouncedJob'`);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]?.status, 'SUCCESS');
    const stepNames = await query<{ function_name: string }>(
      scratch.url,
      `SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = 'deb-crash-parent' ORDER BY function_id`,
    );
    assert.deepEqual(
      stepNames.map((s) => s.function_name).slice(0, 4),
      ['DBOS.debounceDelayedWorkflow', 'debouncedJob', 'DBOS.debounceDelayedWorkflow', 'DBOS.debounceDelayedWorkflow'],
    );
  });

  test("the official SDK's DebouncerClient and ours bounce one workflow, run by either SDK's worker", async () => {
    const log = scratch.file('interop.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
    // Ours first: its launch has created the schema (the first test did) the official worker finds.
    const native = spawnApp(nativeApp, { ...env, APP_NAME: 'deb-native', EXECUTOR_ID: 'deb-native-1' }, 'native worker');
    const official = spawnApp(officialApp, { ...env, APP_NAME: 'deb-official', EXECUTOR_ID: 'deb-official-1' }, 'official worker');
    await waitFor('both workers launched', () => countEvents(log, 'ready') === 2, [native, official], 30_000);
    ours = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
    theirs = await OfficialClient.create({ systemDatabaseUrl: scratch.url });

    const forApp = (applicationName: string) => ({
      ours: new DebouncerClient(ours as DBOSClient, { workflowName: 'debouncedJob', applicationName }),
      theirs: new OfficialDebouncerClient(theirs as OfficialClient, { workflowName: 'debouncedJob', applicationName }),
    });
    // Started by the official client, bounced by ours, then by theirs: run by our worker.
    const toNative = forApp('deb-native');
    const a1 = await toNative.theirs.debounce('a', 2000, 'a', 1);
    const a2 = await toNative.ours.debounce('a', 2000, 'a', 2);
    const a3 = await toNative.theirs.debounce('a', 2000, 'a', 3);
    assert.equal(a2.workflowID, a1.workflowID);
    assert.equal(a3.workflowID, a1.workflowID);
    // Started by our client, bounced by theirs, then by ours: run by the official worker.
    const toOfficial = forApp('deb-official');
    const b1 = await toOfficial.ours.debounce('b', 2000, 'b', 1);
    const b2 = await toOfficial.theirs.debounce('b', 2000, 'b', 2);
    const b3 = await toOfficial.ours.debounce('b', 2000, 'b', 3);
    assert.equal(b2.workflowID, b1.workflowID);
    assert.equal(b3.workflowID, b1.workflowID);

    assert.equal(await ours.retrieveWorkflow(a1.workflowID).getResult(), 'native:a:3');
    assert.equal(await ours.retrieveWorkflow(b1.workflowID).getResult(), 'official:b:3');
    assert.deepEqual(runs(log, 'a'), ['run:native:a:3']);
    assert.deepEqual(runs(log, 'b'), ['run:official:b:3']);
  });
});
