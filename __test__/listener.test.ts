// LISTEN/NOTIFY for real: two app processes on one database wake each other's recv and getEvent
// waiters through the database's notifications (well before the 10 s poll fallback); the listener
// reconnects after its connection is killed server-side without losing a wake-up; and messages written
// by plain SQL wake waiters through the notifications trigger.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOS, DBOSClient } from 'dbos-native';
import { logEvents, spawnApp, waitFor, type App } from './helpers/child';
import { assertCheckpoints, query, sleep, statusRow, steps } from './helpers/db';
import { appScratch } from './helpers/scratch';

const script = path.join(__dirname, 'apps', 'messages-app.js');
/** Waits poll the tables every 10 s: a wake-up faster than this bound came from a notification. */
const PROMPT_MS = 3000;

const receiveTopics = DBOS.registerWorkflow(
  async (topics: string[], timeoutSeconds: number): Promise<unknown[]> => {
    const got: unknown[] = [];
    for (const topic of topics) got.push(await DBOS.recv(topic, timeoutSeconds));
    return got;
  },
  { name: 'receiveTopics' },
);

const publish = DBOS.registerWorkflow(
  async (key: string, value: unknown): Promise<void> => {
    await DBOS.setEvent(key, value);
  },
  { name: 'publish' },
);

let client: DBOSClient;

const scratch = appScratch('dbosn_listener', {
  setup: async () => {
    DBOS.setConfig({ name: 'listener-test', systemDatabaseUrl: scratch.url, executorID: 'process-B', applicationVersion: 'listener-v1' });
    await DBOS.launch();
    client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
  },
  teardown: async () => {
    await client.destroy();
    await DBOS.shutdown();
  },
});

/** Waits until the workflow's recv at `recvFunctionID` has recorded its deadline, then a bit more, so it is blocked in its wait. */
async function blockedInRecv(workflowID: string, recvFunctionID: number): Promise<void> {
  await waitFor(`${workflowID} to wait in recv ${recvFunctionID}`, async () =>
    (await steps(scratch.url, workflowID)).some((s) => s.function_id === recvFunctionID + 1 && s.function_name === 'DBOS.sleep'),
  );
  await sleep(300);
}

/** How long after the message was inserted the recv at `functionID` consumed it (both clocks are this host's). */
async function wakeLatency(workflowID: string, functionID: number): Promise<number> {
  const rows = await query<{ latency: string }>(
    scratch.url,
    `SELECT o.completed_at_epoch_ms - n.created_at_epoch_ms AS latency
       FROM dbos.operation_outputs o JOIN dbos.notifications n
         ON n.destination_uuid = o.workflow_uuid AND n.consumed_by_function_id = o.function_id
      WHERE o.workflow_uuid = $1 AND o.function_id = $2 AND o.function_name = 'DBOS.recv'`,
    [workflowID, functionID],
  );
  assert.equal(rows.length, 1, `exactly one message consumed by recv ${functionID} of ${workflowID}`);
  return Number(rows[0]?.latency);
}

async function consumption(dest: string): Promise<[string, boolean, number | null][]> {
  const rows = await query<{ topic: string; consumed: boolean; consumed_by_function_id: number | null }>(
    scratch.url,
    'SELECT topic, consumed, consumed_by_function_id FROM dbos.notifications WHERE destination_uuid = $1 ORDER BY created_at_epoch_ms',
    [dest],
  );
  return rows.map((r) => [r.topic, r.consumed, r.consumed_by_function_id]);
}

async function listenBackends(): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    scratch.url,
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid() ORDER BY pid",
  );
  return rows.map((r) => r.pid);
}

/** Process A waits in recv and getEvent; this process (B) sends and sets the event. */
async function crossProcess(a: App, log: string, rx: string, ev: string, t: TestContext): Promise<void> {
  await waitFor('A to wait for its event', () => logEvents(log).some((e) => e.name === 'getEvent-start'), [a]);
  await blockedInRecv(rx, 1);
  assert.equal((await statusRow(scratch.url, rx))?.executor_id, 'process-A');

  const typed = { when: new Date('2025-02-03T04:05:06.007Z'), big: 2n ** 70n, m: new Map([['k', [1, 2]]]), u: undefined };
  await DBOS.send(rx, typed, 'plain'); // plain code in process B
  await blockedInRecv(rx, 3);
  const plainLatency = await wakeLatency(rx, 1);
  await client.send(rx, 'via client', 'client');
  await waitFor('A to finish its workflow', async () => (await statusRow(scratch.url, rx))?.status === 'SUCCESS', [a]);
  const clientLatency = await wakeLatency(rx, 3);
  t.diagnostic(`cross-process recv wake: DBOS.send ${plainLatency} ms, DBOSClient.send ${clientLatency} ms`);
  assert.ok(plainLatency < PROMPT_MS, `DBOS.send woke A's recv after ${plainLatency} ms`);
  assert.ok(clientLatency < PROMPT_MS, `DBOSClient.send woke A's recv after ${clientLatency} ms`);

  const result = (await DBOS.retrieveWorkflow<unknown[]>(rx).getResult()) as [typeof typed, string];
  assert.ok(result[0].when instanceof Date && result[0].when.getTime() === typed.when.getTime());
  assert.equal(result[0].big, typed.big);
  assert.deepEqual(result[0].m.get('k'), [1, 2]);
  assert.ok('u' in result[0] && result[0].u === undefined);
  assert.equal(result[1], 'via client');
  assert.deepEqual(await consumption(rx), [
    ['plain', true, 1],
    ['client', true, 3],
  ]);
  await assertCheckpoints(scratch.url, rx, ['before', 'DBOS.recv', 'DBOS.sleep', 'DBOS.recv', 'DBOS.sleep', 'after']);

  // setEvent in a workflow of process B wakes A's getEvent (outside a workflow).
  await (await DBOS.startWorkflow(publish, { workflowID: ev })('ready', { at: new Date(0), n: 1n })).getResult();
  await waitFor('A to get the event', () => logEvents(log).some((e) => e.name === 'got-event'), [a]);
  const [setRow] = await query<{ completed_at_epoch_ms: string }>(
    scratch.url,
    "SELECT completed_at_epoch_ms FROM dbos.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'DBOS.setEvent'",
    [ev],
  );
  const gotAt = logEvents(log).find((e) => e.name === 'got-event')?.at ?? Infinity;
  const eventLatency = gotAt - Number(setRow?.completed_at_epoch_ms);
  t.diagnostic(`cross-process getEvent wake: ${eventLatency} ms`);
  assert.ok(eventLatency < PROMPT_MS, `A's getEvent woke ${eventLatency} ms after setEvent`);
  const line = a.stdout().trim().split('\n').pop() ?? '';
  assert.deepEqual(JSON.parse(line), { event: { at: '1970-01-01T00:00:00.000Z', n: '1' }, types: { at: 'Date', n: 'BigInt' } }, 'A read the value B set, with its types');
}

describe('two processes on one database', () => {
  test('a send from another process (DBOS.send and DBOSClient.send) and its setEvent wake waiters in this one promptly', async (t) => {
    const log = scratch.file('a.log');
    const rx = 'xproc-rx';
    const ev = 'xproc-ev';
    const a = spawnApp(
      script,
      {
        DBOS_SYSTEM_DATABASE_URL: scratch.url,
        DBOS__VMID: 'process-A',
        START: 'waiter',
        WF_ID: rx,
        TOPICS: 'plain,client',
        TIMEOUT_S: '30',
        GET_EVENT_ID: ev,
        GET_EVENT_KEY: 'ready',
        LOG: log,
      },
      'process A',
    );
    try {
      await crossProcess(a, log, rx, ev, t);
    } finally {
      a.child.kill('SIGKILL'); // its listener would otherwise stay on this database
      await a.exited;
    }
  });
});

describe('listener reconnect', () => {
  test('after its LISTEN connection is terminated, the listener reconnects, catches up with what it missed, and keeps waking waiters', async (t) => {
    await waitFor('our LISTEN connection', async () => (await listenBackends()).length === 1);
    const [oldPid] = await listenBackends();
    assert.ok(oldPid);

    const id = 'reconnect-rx';
    const h = await DBOS.startWorkflow(receiveTopics, { workflowID: id })(['during', 'after'], 30);
    await blockedInRecv(id, 0);
    const killed = await query<{ ok: boolean }>(scratch.url, 'SELECT pg_terminate_backend($1) AS ok', [oldPid]);
    assert.equal(killed[0]?.ok, true);
    // Sent while the listener is down (it reconnects after 1 s): the notification is missed, but the
    // reconnect wakes every waiter to re-check, so it is not lost to the 10 s poll.
    await DBOS.send(id, 'sent during the outage', 'during');
    await waitFor('a new LISTEN connection', async () => {
      const pids = await listenBackends();
      return pids.length === 1 && pids[0] !== oldPid;
    });
    await blockedInRecv(id, 2);
    const missedLatency = await wakeLatency(id, 0);
    // Sent after the reconnect: the new connection's notification wakes it.
    await DBOS.send(id, 'sent after the reconnect', 'after');
    assert.deepEqual(await h.getResult(), ['sent during the outage', 'sent after the reconnect']);
    const laterLatency = await wakeLatency(id, 2);
    t.diagnostic(`wake after reconnect: missed notification ${missedLatency} ms, new notification ${laterLatency} ms`);
    assert.ok(missedLatency < PROMPT_MS, `the message sent during the outage was received after ${missedLatency} ms`);
    assert.ok(laterLatency < PROMPT_MS, `the message sent after the reconnect was received after ${laterLatency} ms`);
    assert.deepEqual(await consumption(id), [
      ['during', true, 0],
      ['after', true, 2],
    ]);
    assert.equal((await steps(scratch.url, id)).filter((s) => s.function_name === 'DBOS.recv').length, 2);
  });

  test('messages written by plain SQL (dbos.send_message, a raw INSERT) wake a waiting recv through the trigger', async (t) => {
    const id = 'sql-rx';
    const h = await DBOS.startWorkflow(receiveTopics, { workflowID: id })(['fn', 'insert'], 30);
    await blockedInRecv(id, 0);
    await query(scratch.url, "SELECT dbos.send_message($1, $2::json, 'fn')", [id, JSON.stringify({ from: 'send_message', n: 1 })]);
    await blockedInRecv(id, 2);
    await query(scratch.url, "INSERT INTO dbos.notifications (destination_uuid, topic, message, serialization) VALUES ($1, 'insert', $2, 'js_superjson')", [
      id,
      '{"json":{"d":"2025-01-01T00:00:00.000Z"},"meta":{"values":{"d":["Date"]}},"__dbos_serializer":"superjson"}',
    ]);
    const [fromFn, fromInsert] = (await h.getResult()) as [unknown, { d: Date }];
    assert.deepEqual(fromFn, { from: 'send_message', n: 1 });
    assert.ok(fromInsert.d instanceof Date && fromInsert.d.toISOString() === '2025-01-01T00:00:00.000Z');
    const fnLatency = await wakeLatency(id, 0);
    const insertLatency = await wakeLatency(id, 2);
    t.diagnostic(`SQL wake: send_message ${fnLatency} ms, INSERT ${insertLatency} ms`);
    assert.ok(fnLatency < PROMPT_MS, `send_message woke the recv after ${fnLatency} ms`);
    assert.ok(insertLatency < PROMPT_MS, `the INSERT woke the recv after ${insertLatency} ms`);
    const rows = await steps(scratch.url, id);
    assert.equal(rows.find((s) => s.function_id === 0)?.serialization, 'portable_json', 'the stored format is copied into the checkpoint');
    assert.equal(rows.find((s) => s.function_id === 2)?.serialization, 'js_superjson');
    assert.deepEqual(await consumption(id), [
      ['fn', true, 0],
      ['insert', true, 2],
    ]);
  });
});
