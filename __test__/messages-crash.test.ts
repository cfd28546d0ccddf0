// recv across a real crash: an app process blocked in DBOS.recv is SIGKILLed, and a new process of the
// same executor recovers the workflow. The recv keeps its recorded deadline, and a message sent while
// no process was alive is received after recovery, exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient } from 'dbos-native';
import { countEvents, finalOutput, killApp, logEvents, spawnApp, waitFor, type App } from './helpers/child';
import { assertCheckpoints, query, sleep, statusRow, steps } from './helpers/db';
import { appScratch } from './helpers/scratch';

const script = path.join(__dirname, 'apps', 'messages-app.js');
const EXECUTOR = 'messages-crash-executor';
let client: DBOSClient;

const scratch = appScratch('dbosn_messages_crash', {
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

async function notifications(dest: string): Promise<{ message: string; consumed: boolean; consumed_by_function_id: number | null }[]> {
  return query(scratch.url, 'SELECT message, consumed, consumed_by_function_id FROM dbos.notifications WHERE destination_uuid = $1 ORDER BY created_at_epoch_ms', [dest]);
}

async function deadlineMarker(id: string): Promise<{ function_id: number; output: string | null; started_at_epoch_ms: string } | undefined> {
  const rows = await query<{ function_id: number; output: string | null; started_at_epoch_ms: string }>(
    scratch.url,
    "SELECT function_id, output, started_at_epoch_ms FROM dbos.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'DBOS.sleep'",
    [id],
  );
  assert.ok(rows.length <= 1, `at most one deadline marker, got ${rows.length}`);
  return rows[0];
}

test('recv across SIGKILL: the recovered recv keeps its recorded deadline and times out at the original time', async () => {
  const log = scratch.file('deadline.log');
  const id = 'recv-deadline';
  const timeoutS = 5;
  const first = run({ START: 'waiter', WF_ID: id, TOPICS: 'never', TIMEOUT_S: String(timeoutS), LOG: log }, 'first');
  await waitFor('the recv deadline marker', async () => (await deadlineMarker(id)) !== undefined, [first]);
  await sleep(200); // well into the wait
  await killApp(first);

  assert.equal((await statusRow(scratch.url, id))?.status, 'PENDING');
  assert.deepEqual(
    (await steps(scratch.url, id)).map((s) => [s.function_id, s.function_name]),
    [
      [0, 'before'],
      [2, 'DBOS.sleep'],
    ],
    'recv (1) has no checkpoint yet; its deadline sits at n+1',
  );
  const marker = await deadlineMarker(id);
  assert.ok(marker);
  const wakeAt = Number(marker.output);
  const beforeEvent = logEvents(log).find((e) => e.name === 'before');
  assert.ok(beforeEvent);
  assert.ok(wakeAt - beforeEvent.at >= timeoutS * 1000 - 50 && wakeAt - beforeEvent.at < timeoutS * 1000 + 1000, `deadline ${wakeAt - beforeEvent.at} ms after the start`);

  await sleep(1000); // dead time counts against the timeout too
  const relaunchedAt = Date.now();
  const outcome = await finalOutput(run({ AWAIT: id, LOG: log }, 'recovery'));
  assert.deepEqual(outcome, { ok: true, value: [null] }, 'the recv timed out');

  const afterEvent = logEvents(log).find((e) => e.name === 'after');
  assert.ok(afterEvent, 'the step after the recv ran');
  assert.ok(afterEvent.at >= wakeAt, `not before the deadline (${wakeAt - afterEvent.at} ms early)`);
  assert.ok(afterEvent.at - wakeAt < 1000, `at the original deadline, ${afterEvent.at - wakeAt} ms after it`);
  assert.ok(afterEvent.at < relaunchedAt + timeoutS * 1000 - 300, 'not a full timeout after the relaunch');
  assert.equal(countEvents(log, 'before'), 1, 'the recorded step was not re-run');

  const markerAfter = await deadlineMarker(id);
  assert.deepEqual(markerAfter, marker, 'the marker at n+1 was reused, not re-written');
  const rows = await steps(scratch.url, id);
  assert.deepEqual(
    rows.map((s) => [s.function_id, s.function_name, s.output]),
    [
      [0, 'before', rows[0]?.output ?? null],
      [1, 'DBOS.recv', null],
      [2, 'DBOS.sleep', String(wakeAt)],
      [3, 'after', rows[3]?.output ?? null],
    ],
  );
  assert.equal(rows[1]?.serialization, null, 'a timed-out recv records NULL output and serialization');
  const status = await statusRow(scratch.url, id);
  assert.equal(status?.status, 'SUCCESS');
  assert.equal(status?.executor_id, EXECUTOR);
  assert.equal(status?.recovery_attempts, '2');
});

test('a message sent while no process was alive is received after recovery, exactly once', async () => {
  const log = scratch.file('dead.log');
  const id = 'recv-while-dead';
  const first = run({ START: 'waiter', WF_ID: id, TOPICS: 'pay', TIMEOUT_S: '60', HANG_AFTER: '1', LOG: log }, 'first');
  await waitFor('the recv deadline marker', async () => (await deadlineMarker(id)) !== undefined, [first]);
  await sleep(200);
  await killApp(first);
  const marker = await deadlineMarker(id);
  assert.ok(marker);

  // Nobody listens now: the messages only wait in the table.
  await client.send(id, 'm1', 'pay');
  await client.send(id, { n: 2, when: new Date('2025-05-05T05:05:05.005Z') }, 'pay');
  assert.deepEqual(
    (await notifications(id)).map((n) => n.consumed),
    [false, false],
  );

  // Second process: recovers, consumes m1 in recv, then hangs in the next step and is killed there.
  const second = run({ HANG_AFTER: '1', LOG: log }, 'second');
  await waitFor('the recovered workflow to pass its recv', () => countEvents(log, 'after') === 1, [second]);
  await killApp(second);
  let msgs = await notifications(id);
  assert.deepEqual(
    msgs.map((n) => [n.consumed, n.consumed_by_function_id]),
    [
      [true, 1],
      [false, null],
    ],
    'the oldest message was consumed by the recv at function ID 1',
  );
  const recvRow = (await steps(scratch.url, id)).find((s) => s.function_name === 'DBOS.recv');
  assert.equal(recvRow?.function_id, 1);
  assert.equal(recvRow?.output, msgs[0]?.message, 'the checkpoint holds the consumed message as stored');
  assert.equal(recvRow?.serialization, 'js_superjson');

  // Third process: replays the recv from its checkpoint; the second message stays queued.
  const outcome = await finalOutput(run({ AWAIT: id, LOG: log }, 'third'));
  assert.deepEqual(outcome, { ok: true, value: ['m1'] });
  assert.equal(countEvents(log, 'before'), 1);
  assert.equal(countEvents(log, 'after'), 2, 'the unrecorded step after recv ran again, the recv did not');
  msgs = await notifications(id);
  assert.deepEqual(
    msgs.map((n) => [n.consumed, n.consumed_by_function_id]),
    [
      [true, 1],
      [false, null],
    ],
    'the replay consumed nothing more',
  );
  await assertCheckpoints(scratch.url, id, ['before', 'DBOS.recv', 'DBOS.sleep', 'after']);
  assert.deepEqual(await deadlineMarker(id), marker, 'the deadline marker is the first run’s');
  const status = await statusRow(scratch.url, id);
  assert.equal(status?.status, 'SUCCESS');
  assert.equal(status?.recovery_attempts, '3');
});
