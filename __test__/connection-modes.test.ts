// Polling mode (`useListenNotify: false`): the listener connection is still opened and kept (its session is
// the process's) but LISTENs to nothing, and every wait polls at POLLING_MODE_POLL_MS (200 ms), not at the
// SDK's 10 s for recv and getEvent. The communication and queue suites run once more in this mode
// (DBOS_TEST_CONNECTION_MODE=polling, __test__/run.mjs); this file checks what only this mode promises.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { freshDatabase, query, sleep, within } from './helpers/db';

const EXECUTOR = 'polling-mode-exec';

const receiver = DBOS.registerWorkflow(async () => DBOS.recv<string>('topic', 30), { name: 'pollingReceiver' });
const finisher = DBOS.registerWorkflow(async (x: string) => x, { name: 'pollingFinisher' });

let url: string;
let client: DBOSClient;

before(async () => {
  url = await freshDatabase('dbosn_polling_mode');
  // Whatever the runner's mode, this file is about polling mode.
  DBOS.setConfig({ name: 'polling-mode-test', systemDatabaseUrl: url, useListenNotify: false, executorID: EXECUTOR });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url, useListenNotify: false });
});

after(async () => {
  await client?.destroy();
  await DBOS.shutdown();
});

/** The listener connection's row in pg_stat_activity (its last statement is in `query`). */
async function listenerSessions(): Promise<{ query: string }[]> {
  return query(url, 'SELECT query FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [`dbos_native_listener_${EXECUTOR}`]);
}

describe('polling mode', () => {
  test('the listener connection is kept open but runs no LISTEN', async () => {
    let sessions: { query: string }[] = [];
    for (let i = 0; i < 50 && sessions.length === 0; i++) {
      sessions = await listenerSessions();
      if (sessions.length === 0) await sleep(100);
    }
    assert.equal(sessions.length, 1, 'one listener session');
    assert.doesNotMatch(sessions[0].query, /LISTEN/i);
  });

  test('a waiting recv sees a message written without any notification at the poll, not after 10 s', async () => {
    const handle = await DBOS.startWorkflow(receiver)();
    await sleep(300); // the recv is waiting (its first check found nothing)
    // As another process would write it, with the trigger's NOTIFY heard by nobody: only a poll can see it.
    await query(url, `INSERT INTO dbos.notifications (destination_uuid, topic, message, serialization) VALUES ($1, 'topic', '"polled"', 'portable_json')`, [handle.workflowID]);
    assert.equal(await within(handle.getResult(), 4000, 'recv served by the poll'), 'polled');
  });

  test('getEvent and a client getResult are served by the poll', async () => {
    const id = randomUUID();
    await DBOS.startWorkflow(finisher, { workflowID: id })('done');
    const eventWait = DBOS.getEvent<string>(id, 'late', 30);
    await sleep(300);
    await query(url, `INSERT INTO dbos.workflow_events (workflow_uuid, key, value, serialization) VALUES ($1, 'late', '"seen"', 'portable_json')`, [id]);
    assert.equal(await within(eventWait, 4000, 'getEvent served by the poll'), 'seen');

    // The client's wait asks for a 60 s poll; the completion is not notified (not a queued workflow).
    const waiting = await DBOS.startWorkflow(receiver)();
    const result = client.retrieveWorkflow<string>(waiting.workflowID).getResult({ pollingIntervalMs: 60_000 });
    await sleep(300);
    await DBOS.send(waiting.workflowID, 'sent', 'topic');
    assert.equal(await within(result, 4000, 'client getResult served by the poll'), 'sent');
  });
});

describe('connection options: bad input', () => {
  test('a bad listen URL or mode flag rejects with a DBOSError and opens nothing', async () => {
    const bad: Record<string, unknown>[] = [{ systemDatabaseListenUrl: 42 }, { systemDatabaseListenUrl: '' }, { useListenNotify: 'no' }, { systemDatabaseTransactionPooling: 1 }];
    for (const extra of bad) {
      const created = DBOSClient.create({ systemDatabaseUrl: url, ...extra } as Parameters<typeof DBOSClient.create>[0]);
      await assert.rejects(created, (e: unknown) => e instanceof E.DBOSError && /systemDatabaseListenUrl|useListenNotify|systemDatabaseTransactionPooling/.test((e as Error).message), JSON.stringify(extra));
    }
  });
});
