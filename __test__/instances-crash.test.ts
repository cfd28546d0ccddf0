// Workflows of ConfiguredInstances survive a crash: each records its instance's name (config_name), and a
// new process recovers it on the instance of that name, so the instance's own configuration is used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient } from 'dbos-native';
import { countEvents, finalOutput, killApp, spawnApp, waitFor } from './helpers/child';
import { query } from './helpers/db';
import { appScratch } from './helpers/scratch';

const script = path.join(__dirname, 'apps', 'instance-app.js');
const scratch = appScratch('dbosn_instances_crash');


const run = (env: Record<string, string>, name: string) =>
  spawnApp(script, { DBOS_SYSTEM_DATABASE_URL: scratch.url, DBOS__VMID: 'instances-1', ...env }, name);

test('two instances of one class: each workflow killed mid-way is recovered on its own instance', async () => {
  const log = scratch.file('events.log');
  const first = run({ START: '1', LOG: log }, 'first');
  // Killed once both first steps are checkpointed (their checkpoints commit behind the workflow).
  await waitFor(
    'both first checkpoints',
    async () => (await query(scratch.url, "SELECT 1 FROM dbos.operation_outputs WHERE workflow_uuid LIKE 'wf-%'")).length === 2,
    [first],
  );
  await killApp(first);

  const rows = await query<{ workflow_uuid: string; class_name: string; config_name: string | null; status: string }>(
    scratch.url,
    "SELECT workflow_uuid, class_name, config_name, status FROM dbos.workflow_status WHERE workflow_uuid LIKE 'wf-%' ORDER BY workflow_uuid",
  );
  assert.deepEqual(rows, [
    { workflow_uuid: 'wf-english', class_name: 'Greeter', config_name: 'english', status: 'PENDING' },
    { workflow_uuid: 'wf-french', class_name: 'Greeter', config_name: 'french', status: 'PENDING' },
  ]);

  // A process without the french instance recovers the english workflow and leaves the french one
  // PENDING (as DBOS does: it cannot run it, and must not fail it).
  const partial = run({ SKIP: 'french', AWAIT: 'wf-english', LOG: log }, 'partial');
  assert.deepEqual(await finalOutput(partial), {
    'wf-english': { value: 'Hello, Ada (from english)', configName: 'english' },
  });
  assert.match(partial.stderr(), /configured class instance 'Greeter\/french' is not registered/);
  assert.deepEqual(await query(scratch.url, "SELECT status FROM dbos.workflow_status WHERE workflow_uuid = 'wf-french'"), [{ status: 'PENDING' }]);

  // With the instance back, the next process recovers it on that instance.
  const full = run({ AWAIT: 'wf-english,wf-french', LOG: log }, 'full');
  assert.deepEqual(await finalOutput(full), {
    'wf-english': { value: 'Hello, Ada (from english)', configName: 'english' },
    'wf-french': { value: 'Bonjour, Bob (from french)', configName: 'french' },
  });
  assert.equal(countEvents(log, 'first-english'), 1, 'the recorded step was not re-run');
  assert.equal(countEvents(log, 'first-french'), 1, 'the recorded step was not re-run');

  // A client sees the instance's name too.
  const client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
  try {
    const status = await client.getWorkflow('wf-french');
    assert.equal(status?.workflowConfigName, 'french');
    assert.equal(status?.workflowClassName, 'Greeter');
    assert.equal(status?.status, 'SUCCESS');
  } finally {
    await client.destroy();
  }
});
