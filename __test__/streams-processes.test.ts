// Streams across processes and at scale: a writer SIGKILLed mid-stream and recovered (no gap or
// duplicate among workflow-written values), a reader in another process, a reading workflow that is
// cancelled, a 1,000,000-value stream read with flat memory, and interop with the official SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { DBOS as OfficialDBOS, DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { countEvents, killApp, spawnApp, waitFor, type App } from './helpers/child';
import { freshDatabase, query, sleep, statusRow } from './helpers/db';
import { appScratch } from './helpers/scratch';

const app = path.join(__dirname, 'apps', 'stream-app.js');
let client: DBOSClient;

const holder = DBOS.registerWorkflow(async () => DBOS.recv('done', 120), { name: 'holder' });

// Writes each message it receives to stream 'k' until it receives 'stop' (then ends without a close).
const relay = DBOS.registerWorkflow(
  async () => {
    for (;;) {
      const m = await DBOS.recv<unknown>('in', 60);
      if (m === 'stop' || m === null) return 'stopped';
      await DBOS.writeStream('k', m);
    }
  },
  { name: 'relay' },
);

const typedWriter = DBOS.registerWorkflow(
  async (close: boolean) => {
    await DBOS.writeStream('k', { when: new Date('2025-05-06T07:08:09.010Z'), n: 5n, m: new Map([['a', 1]]) });
    await DBOS.writeStream('k', 'portable', { serializationType: 'portable' });
    if (close) await DBOS.closeStream('k');
    return 'written';
  },
  { name: 'typedWriter' },
);

const cancellableReader = DBOS.registerWorkflow(
  async (target: string) => {
    const got: unknown[] = [];
    for await (const v of DBOS.readStream(target, 'k')) got.push(v);
    return got;
  },
  { name: 'cancellableReader' },
);

const scratch = appScratch('dbosn_streams_proc', {
  setup: async () => {
    DBOS.setConfig({ name: 'streams-proc-test', systemDatabaseUrl: scratch.url, applicationVersion: 'streams-proc-v1' });
    await DBOS.launch();
    client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
  },
  teardown: async () => {
    await client.destroy();
    await DBOS.shutdown();
  },
});

function runApp(env: Record<string, string>): App {
  return spawnApp(app, { DBOS_SYSTEM_DATABASE_URL: scratch.url, ...env }, 'stream-app');
}

test('SIGKILL of the writer mid-stream: recovery continues it with no gap or duplicate among workflow-written values', async () => {
  const log = scratch.file('streamer.log');
  const id = `killed-writer-${randomUUID()}`;
  const n = 8;
  const first = runApp({ START: 'streamer', WF_ID: id, N: String(n), HANG_AT: '3', LOG: log });
  await waitFor('the writer to start', () => countEvents(log, 'step-0') === 1, [first]);
  // A reader in this process follows the stream the whole time, across the crash.
  const reading = (async () => {
    const got: unknown[] = [];
    for await (const v of client.readStream(id, 's')) got.push(v);
    return got;
  })();
  await waitFor('the writer to hang in step 3', () => countEvents(log, 'step-3') === 1, [first]);
  await killApp(first);
  assert.equal((await statusRow(scratch.url, id))?.status, 'PENDING');

  const second = runApp({ AWAIT: id, LOG: log });
  assert.equal(await second.exited, 0);
  const got = await reading;
  const fromWorkflow = got.filter((v) => typeof v === 'number');
  assert.deepEqual(fromWorkflow, [0, 1, 2, 3, 4, 5, 6, 7], 'each workflow write exactly once, in order');
  // Step writes are at least once: step 3 ran twice (killed, then re-run), so its write appears twice.
  const fromSteps = got.filter((v) => typeof v === 'string');
  assert.deepEqual(fromSteps, ['step-0', 'step-1', 'step-2', 'step-3', 'step-3', 'step-4', 'step-5', 'step-6', 'step-7']);
  assert.equal(countEvents(log, 'step-2'), 1, 'recorded steps were not re-run');
  const rows = await query<{ offset: number }>(scratch.url, 'SELECT "offset" FROM dbos.streams WHERE workflow_uuid = $1 ORDER BY "offset"', [id]);
  assert.deepEqual(
    rows.map((r) => r.offset),
    rows.map((_, i) => i),
    'offsets stay dense',
  );
  assert.equal((await statusRow(scratch.url, id))?.status, 'SUCCESS');
});

test('a reader in another process follows a stream written here, woken by NOTIFY', async () => {
  const id = `cross-${randomUUID()}`;
  const h = await DBOS.startWorkflow(relay, { workflowID: id })();
  const log = scratch.file('reader.log');
  const other = runApp({ READ: id, KEY: 'k', EXECUTOR: 'reader-proc', LOG: log });
  await waitFor('the reader process to launch', () => countEvents(log, 'launched') === 1, [other]);
  await sleep(300);
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    await DBOS.send(id, `v${i}`, 'in');
    await waitFor(`the other process to print v${i}`, () => other.stdout().includes(`"v${i}"`), [other], 5000);
    // The reader polls only every second: a prompt delivery is the notification's doing.
    assert.ok(Date.now() - t0 < 900, `v${i} arrived after ${Date.now() - t0} ms`);
  }
  await DBOS.send(id, 'stop', 'in');
  await h.getResult();
  assert.equal(await other.exited, 0);
  assert.deepEqual(other.stdout().trim().split('\n'), ['"v0"', '"v1"', '"v2"', 'end']);
});

test('cancelling a workflow that is blocked reading a stream stops it', async () => {
  const target = `cancel-target-${randomUUID()}`;
  const t = await DBOS.startWorkflow(holder, { workflowID: target })();
  const id = `cancel-reader-${randomUUID()}`;
  const h = await DBOS.startWorkflow(cancellableReader, { workflowID: id })(target);
  await sleep(200);
  const t0 = Date.now();
  await DBOS.cancelWorkflow(id);
  await assert.rejects(h.getResult(), E.DBOSWorkflowCancelledError);
  assert.ok(Date.now() - t0 < 3000, 'the blocked read noticed the cancellation promptly');
  assert.equal((await statusRow(scratch.url, id))?.status, 'CANCELLED');
  await DBOS.send(target, 'stop', 'done');
  await t.getResult();
});

test('a 1,000,000-value stream is read to the end with flat memory', async (t) => {
  const id = `million-${randomUUID()}`;
  const h = await DBOS.startWorkflow(holder, { workflowID: id })();
  const n = 1_000_000;
  // Written in bulk by SQL (a million workflow writes would take minutes); ~150 bytes per value.
  await query(
    scratch.url,
    `INSERT INTO dbos.streams (workflow_uuid, key, value, "offset", function_id, serialization)
     SELECT $1, 'big', '{"json":{"i":' || i || ',"pad":"' || repeat('p', 100) || '"},"__dbos_serializer":"superjson"}', i, 0, 'js_superjson'
     FROM generate_series(0, $2::int - 1) i`,
    [id, n],
  );
  await query(scratch.url, `INSERT INTO dbos.streams VALUES ($1, 'big', '"__DBOS_STREAM_CLOSED__"', $2, 0, 'portable_json')`, [id, n]);
  let count = 0;
  let sum = 0;
  let baseline = 0;
  let peak = 0;
  for await (const v of client.readStream<{ i: number; pad: string }>(id, 'big')) {
    assert.equal(v.i, count);
    sum += v.i;
    count++;
    if (count === 50_000) {
      global.gc?.();
      baseline = process.memoryUsage().rss;
    }
    if (count > 50_000 && count % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  assert.equal(count, n);
  assert.equal(sum, (n * (n - 1)) / 2);
  const growthMB = (peak - baseline) / 2 ** 20;
  // Holding the values would take several hundred MB; a reader that pages stays within a few pages.
  t.diagnostic(`RSS after 50,000 values ${(baseline / 2 ** 20).toFixed(0)} MB, peak growth after that ${growthMB.toFixed(1)} MB`);
  assert.ok(growthMB < 100, `RSS grew by ${growthMB.toFixed(1)} MB while reading`);
  await DBOS.send(id, 'stop', 'done');
  await h.getResult();
});

test('interop: the official DBOSClient reads our streams to the close marker and to the writer\'s end', async () => {
  const theirClient = await OfficialClient.create({ systemDatabaseUrl: scratch.url });
  try {
    for (const close of [true, false]) {
      const id = `ours-${close}-${randomUUID()}`;
      await (await DBOS.startWorkflow(typedWriter, { workflowID: id })(close)).getResult();
      const got: unknown[] = [];
      for await (const v of theirClient.readStream(id, 'k')) got.push(v);
      assert.equal(got.length, 2);
      const first = got[0] as { when: Date; n: bigint; m: Map<string, number> };
      assert.ok(first.when instanceof Date && first.when.toISOString() === '2025-05-06T07:08:09.010Z');
      assert.equal(first.n, 5n);
      assert.equal(first.m.get('a'), 1);
      assert.equal(got[1], 'portable');
      assert.equal(await theirClient.readStreamOffset(id, 'k', 1), 'portable');
    }
  } finally {
    await theirClient.destroy();
  }
});

test('interop: we read streams written by workflows the official SDK runs, live and after the end', async () => {
  const theirs = await freshDatabase('dbosn_streams_official');
  const officialWriter = OfficialDBOS.registerWorkflow(
    async () => {
      await OfficialDBOS.writeStream('k', { d: new Date('2024-02-03T04:05:06.000Z'), big: 9n });
      const more = await OfficialDBOS.recv<string>('more', 30);
      await OfficialDBOS.writeStream('k', more);
      await OfficialDBOS.writeStream('other', 'x');
      await OfficialDBOS.closeStream('other');
      return 'official done';
    },
    { name: 'officialWriter' },
  );
  OfficialDBOS.setConfig({ name: 'official-streams', systemDatabaseUrl: theirs, logLevel: 'error' });
  await OfficialDBOS.launch();
  const ourClient = await DBOSClient.create({ systemDatabaseUrl: theirs });
  try {
    const h = await OfficialDBOS.startWorkflow(officialWriter, { workflowID: 'official-stream' })();
    const gen = ourClient.readStream<unknown>('official-stream', 'k');
    const first = (await gen.next()).value as { d: Date; big: bigint };
    assert.ok(first.d instanceof Date && first.big === 9n);
    const t0 = Date.now();
    const second = gen.next();
    await OfficialDBOS.send('official-stream', 'later', 'more');
    assert.equal((await second).value, 'later');
    assert.ok(Date.now() - t0 < 900, 'woken by the official writer\'s NOTIFY, not our 1 s poll');
    assert.equal((await gen.next()).done, true, 'the stream ends when the official workflow does');
    assert.equal(await h.getResult(), 'official done');
    const other: unknown[] = [];
    for await (const v of ourClient.readStream('official-stream', 'other')) other.push(v);
    assert.deepEqual(other, ['x']);
  } finally {
    await ourClient.destroy();
    await OfficialDBOS.shutdown();
  }
});
