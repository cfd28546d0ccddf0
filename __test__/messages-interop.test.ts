// Messages and events between dbos-native and the official @dbos-inc/dbos-sdk 5.3.0 on one database:
// the official DBOSClient sends to our workflows and reads our events; our DBOSClient sends to and reads
// the events of workflows the official SDK runs (in a child process, its own executor); the official
// SDK's own send and getEvent reach our workflows. Values keep their types (superjson) both ways.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOS, DBOSClient } from 'dbos-native';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { finalOutput, spawnApp, waitFor } from './helpers/child';
import { assertCheckpoints, query, statusRow, steps } from './helpers/db';
import { assertTyped, typedValue } from './helpers/typed';
import { appScratch } from './helpers/scratch';

const officialApp = path.join(__dirname, 'apps', 'official-app.js');
/** The official client polls getEvent (it never LISTENs); without this it would poll every 10 s. */
const FAST_POLL = { pollingIntervalMs: 100 };

const nativeReceiver = DBOS.registerWorkflow(
  async (specs: [string | null, number][]): Promise<unknown[]> => {
    const got: unknown[] = [];
    for (const [topic, timeoutSeconds] of specs) got.push(await DBOS.recv(topic ?? undefined, timeoutSeconds));
    return got;
  },
  { name: 'nativeReceiver' },
);

const nativePublisher = DBOS.registerWorkflow(
  async (): Promise<string> => {
    await DBOS.setEvent('native-typed', typedValue());
    await DBOS.setEvent('portable', { p: [1, 'a'] }, { serializationType: 'portable' });
    await DBOS.recv('release', 30);
    return 'released';
  },
  { name: 'nativePublisher' },
);

let client: DBOSClient;
let official: OfficialClient;

const scratch = appScratch('dbosn_messages_interop', {
  setup: async () => {
    DBOS.setConfig({ name: 'native-app', systemDatabaseUrl: scratch.url, executorID: 'native-executor', applicationVersion: 'native-v1' });
    await DBOS.launch();
    client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
    official = await OfficialClient.create({ systemDatabaseUrl: scratch.url });
  },
  teardown: async () => {
    await official.destroy();
    await client.destroy();
    await DBOS.shutdown();
  },
});

async function notifications(dest: string): Promise<{ topic: string; consumed: boolean; consumed_by_function_id: number | null; message_uuid: string; serialization: string | null }[]> {
  return query(
    scratch.url,
    'SELECT topic, consumed, consumed_by_function_id, message_uuid, serialization FROM dbos.notifications WHERE destination_uuid = $1 ORDER BY created_at_epoch_ms',
    [dest],
  );
}

describe('the official DBOSClient with our workflows', () => {
  test('its sends reach our recv, with and without a topic; a keyed send twice is delivered once', async () => {
    const id = 'native-rx-official-client';
    const h = await DBOS.startWorkflow(nativeReceiver, { workflowID: id })([
      ['typed', 10],
      [null, 10],
      ['k', 10],
      ['k', 0], // the duplicate would be here
    ]);
    await official.send(id, 'idempotent', 'k', 'key-1');
    await official.send(id, 'idempotent again?', 'k', 'key-1');
    await official.send(id, 'no topic');
    await official.send(id, typedValue(), 'typed'); // last: once recv('typed') has it, all are in
    const [typed, noTopic, keyed, duplicate] = await h.getResult();
    assertTyped(typed, 'official client message');
    assert.equal(noTopic, 'no topic');
    assert.equal(keyed, 'idempotent');
    assert.equal(duplicate, null, 'the second keyed send stored nothing');
    assert.deepEqual(
      (await notifications(id)).map((n) => [n.topic, n.consumed, n.consumed_by_function_id, n.serialization]),
      [
        ['k', true, 4, 'js_superjson'],
        ['__null__topic__', true, 2, 'js_superjson'],
        ['typed', true, 0, 'js_superjson'],
      ],
    );
    assert.equal((await notifications(id))[0]?.message_uuid, `key-1::${id}`);
    await assertCheckpoints(scratch.url, id, ['DBOS.recv', 'DBOS.sleep', 'DBOS.recv', 'DBOS.sleep', 'DBOS.recv', 'DBOS.sleep', 'DBOS.recv']);
  });

  test('its getEvent reads our events (native and portable), also one set after it started waiting', async () => {
    const id = 'native-pub-official-client';
    const pending = official.getEvent(id, 'native-typed', { timeoutSeconds: 10, ...FAST_POLL }); // before the workflow exists
    const h = await DBOS.startWorkflow(nativePublisher, { workflowID: id })();
    assertTyped(await pending, 'our event read by the official client');
    assert.deepEqual(await official.getEvent(id, 'portable', { timeoutSeconds: 5, ...FAST_POLL }), { p: [1, 'a'] });
    assert.equal(await official.getEvent(id, 'missing', { timeoutSeconds: 0.2, ...FAST_POLL }), null);
    const rows = await query<{ key: string; serialization: string }>(scratch.url, 'SELECT key, serialization FROM dbos.workflow_events WHERE workflow_uuid = $1 ORDER BY key', [id]);
    assert.deepEqual(
      rows.map((r) => [r.key, r.serialization]),
      [
        ['native-typed', 'js_superjson'],
        ['portable', 'portable_json'],
      ],
    );
    await official.send(id, 'go', 'release');
    assert.equal(await h.getResult(), 'released');
  });
});

describe('workflows of the official SDK (child process, its own executor)', () => {
  test('our DBOSClient sends to them and reads their events; their send and getEvent reach our workflows', async () => {
    const log = scratch.file('official.log');
    // Ours: a receiver for the official SDK's DBOS.send, and an event it reads with DBOS.getEvent.
    const ourRx = 'native-rx-official-sdk';
    const ourPub = 'native-pub-official-sdk';
    const rx = await DBOS.startWorkflow(nativeReceiver, { workflowID: ourRx })([['from-official', 20]]);
    const pub = await DBOS.startWorkflow(nativePublisher, { workflowID: ourPub })();
    const app = spawnApp(
      officialApp,
      {
        DBOS_SYSTEM_DATABASE_URL: scratch.url,
        LOG: log,
        RECEIVER_ID: 'official-rx',
        PUBLISHER_ID: 'official-pub',
        SENDER_ID: 'official-tx',
        SEND_TO: ourRx,
        EVENT_FROM: ourPub,
      },
      'official app',
    );
    await waitFor('the official receiver to start', async () => (await statusRow(scratch.url, 'official-rx')) !== undefined, [app], 20_000);
    await client.send('official-rx', typedValue(), 'typed');
    await client.send('official-rx', 'no topic from dbos-native');

    // Their events, read by our client (woken by the official SDK's NOTIFY).
    assertTyped(await client.getEvent('official-pub', 'typed', 15), 'the official event read by our client');
    await client.send('official-pub', 'go', 'release');
    assert.equal(await client.getEvent('official-pub', 'late', 15), 'after release');

    // Their DBOS.send to our workflow.
    const [fromOfficial] = await rx.getResult();
    assertTyped(fromOfficial, 'the official DBOS.send message');

    assert.deepEqual(await finalOutput(app), { ok: true }, 'the official app finished its workflows');
    const [typed, noTopic] = await client.retrieveWorkflow<unknown[]>('official-rx').getResult();
    assertTyped(typed, 'our client message received by the official recv');
    assert.equal(noTopic, 'no topic from dbos-native');
    assertTyped(await client.retrieveWorkflow('official-tx').getResult(), 'our event read by the official DBOS.getEvent');
    assert.equal(await client.retrieveWorkflow('official-pub').getResult(), 'published');
    assert.equal((await statusRow(scratch.url, 'official-rx'))?.executor_id, 'official-executor');

    // The rows: what the official recv consumed, and what its send stored for us.
    assert.deepEqual(
      (await notifications('official-rx')).map((n) => [n.topic, n.consumed, n.consumed_by_function_id, n.serialization]),
      [
        ['typed', true, 0, 'js_superjson'],
        ['__null__topic__', true, 2, 'js_superjson'],
      ],
    );
    assert.deepEqual(
      (await notifications(ourRx)).map((n) => [n.topic, n.consumed, n.consumed_by_function_id, n.serialization]),
      [['from-official', true, 0, 'js_superjson']],
    );
    assert.deepEqual(
      (await steps(scratch.url, 'official-tx')).map((s) => s.function_name),
      ['DBOS.send', 'DBOS.getEvent', 'DBOS.sleep'],
    );

    await client.send(ourPub, 'go', 'release');
    assert.equal(await pub.getResult(), 'released');
  });
});
