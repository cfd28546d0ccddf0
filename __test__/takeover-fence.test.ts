// Fencing under takeover: process A (executor fence-a) runs a workflow of 40 steps, each followed by a
// 500 ms durable sleep; process B (fence-b) runs nothing. A reaches Postgres through a TCP proxy of
// this test. The test cuts A's listener connection (pg_terminate_backend of its backend, which frees
// A's liveness lock) and from then on the proxy refuses A's listener, so A cannot take its lock back,
// while A's pool connections keep working: A keeps running, cut off from the fleet. After the grace
// period B takes the workflow over and finishes it from its checkpoints. A's execution is then fenced
// out (owner_xid): it writes no further checkpoint nor the output, runs at most the one step it was in,
// and stops: its handle resolves to B's outcome, and A neither crashes nor loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { countEvents, spawnApp, waitFor } from './helpers/child';
import { query, sleep } from './helpers/db';
import { appScratch } from './helpers/scratch';
import { createTakeoverDatabase } from './helpers/takeover';

const script = path.join(__dirname, 'apps', 'takeover-app.js');
const DB = 'dbosn_takeover_fence';
const STEPS = 40;
const GRACE_MS = 10_000; // ts/takeover.ts TAKEOVER_GRACE_MS
const WF = 'fw';

let proxy: Server | undefined;
const sockets = new Set<Socket>();
let refuseListener = false;
const SSL_REQUEST = 80877103;
const scratch = appScratch(DB, {
  setup: () => createTakeoverDatabase(DB),
  teardown: async () => {
    for (const s of sockets) s.destroy();
    proxy?.close();
  },
});

/** A TCP proxy to the test server; once `refuseListener` is set it drops every listener connection at its startup packet. */
function startProxy(target: URL): Promise<number> {
  proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let decided = false;
    client.on('data', (chunk: Buffer) => {
      // The startup packet follows an optional SSLRequest; its parameters hold the application_name.
      if (!decided && !(chunk.length === 8 && chunk.readUInt32BE(4) === SSL_REQUEST)) {
        decided = true;
        if (refuseListener && chunk.includes('dbos_native_listener_')) {
          client.destroy();
          upstream.destroy();
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        sockets.delete(a);
      });
    }
  });
  return new Promise((resolve) => proxy?.listen(0, '127.0.0.1', () => resolve((proxy?.address() as { port: number }).port)));
}

test('a process cut off from the fleet is fenced out of the workflows taken over from it, and stops them', async (t) => {
  const proxied = new URL(scratch.url);
  const port = await startProxy(new URL(scratch.url));
  proxied.host = `127.0.0.1:${port}`;
  const logA = scratch.file('a.log');
  const b = spawnApp(script, { DBOS_SYSTEM_DATABASE_URL: scratch.url, DBOS__VMID: 'fence-b', LOG: scratch.file('b.log') }, 'fence-b');
  await waitFor('B to launch', () => countEvents(scratch.file('b.log'), 'launched') === 1, [b], 60_000);
  const a = spawnApp(script, { DBOS_SYSTEM_DATABASE_URL: proxied.toString(), DBOS__VMID: 'fence-a', LOG: logA, STEPPER: `${WF}:${STEPS}` }, 'fence-a');
  await waitFor('A to start its workflow', () => countEvents(logA, 'started') === 1, [a, b], 60_000);
  await sleep(2500); // B has looked at the fleet and seen A alive

  refuseListener = true;
  const cut = await query<{ pid: number }>(scratch.url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'dbos_native_listener_fence-a'");
  assert.equal(cut.length, 1);
  await query(scratch.url, 'SELECT pg_terminate_backend($1)', [cut[0]?.pid]);
  const cutAt = Date.now();

  await waitFor('B to take the workflow over', async () => (await query(scratch.url, "SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = $1 AND executor_id = 'fence-b'", [WF])).length === 1, [a, b], 60_000);
  t.diagnostic(`taken over ${Date.now() - cutAt} ms after the cut`);
  assert.ok(Date.now() - cutAt >= GRACE_MS);
  await waitFor('the workflow to succeed', async () => (await query(scratch.url, "SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = $1 AND status = 'SUCCESS'", [WF])).length === 1, [a, b], 60_000);
  // A's execution stops and reports the outcome B recorded.
  await waitFor("A's handle to resolve", () => countEvents(logA, `result:${STEPS}`) === 1, [a, b], 30_000);
  const effectsOfA = async (): Promise<number> => Number((await query<{ n: string }>(scratch.url, "SELECT count(*) AS n FROM takeover_effects WHERE executor = 'fence-a'"))[0]?.n);
  const aBefore = await effectsOfA();
  await sleep(1500); // three of its sleeps: A does nothing more
  assert.equal(await effectsOfA(), aBefore, 'A still runs steps');
  assert.equal(a.done(), false, 'A exited');

  // Every step and sleep checkpointed once, and the output is B's.
  const cps = await query<{ function_id: number; function_name: string }>(scratch.url, 'SELECT function_id, function_name FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id', [WF]);
  assert.deepEqual(
    cps.map((c) => `${c.function_id}:${c.function_name}`),
    Array.from({ length: 2 * STEPS }, (_, i) => `${i}:${i % 2 === 0 ? 'effect' : 'DBOS.sleep'}`),
  );
  const status = await query<{ executor_id: string; output: string; attempts: string }>(
    scratch.url,
    'SELECT executor_id, o.output, recovery_attempts::text AS attempts FROM dbos.workflow_status LEFT JOIN dbos.workflow_output o USING (workflow_uuid) WHERE workflow_uuid = $1',
    [WF],
  );
  assert.equal(status[0]?.executor_id, 'fence-b');
  assert.equal(status[0]?.attempts, '2');
  // Side effects: A ran a prefix of the steps; B ran the rest; at most one step (the one A was in, whose
  // checkpoint was refused) ran in both, and at most that one of A's came after B's first.
  const effects = await query<{ step: number; executor: string; at: Date }>(scratch.url, 'SELECT step, executor, at FROM takeover_effects WHERE workflow_id = $1 ORDER BY at', [WF]);
  const stepsOf = (e: string): number[] => effects.filter((x) => x.executor === e).map((x) => x.step);
  const [ranA, ranB] = [stepsOf('fence-a'), stepsOf('fence-b')];
  t.diagnostic(`A ran steps 0..${ranA.length - 1}, B ran ${ranB[0]}..${ranB[ranB.length - 1]}`);
  assert.deepEqual(ranA, Array.from({ length: ranA.length }, (_, k) => k));
  assert.ok(ranA.length >= 1 && ranB.length >= 1);
  assert.deepEqual(ranB, Array.from({ length: STEPS - (ranB[0] ?? 0) }, (_, k) => k + (ranB[0] ?? 0)));
  assert.ok((ranB[0] ?? 0) >= ranA.length - 1 && (ranB[0] ?? 0) <= ranA.length, `A ran ${ranA.length} steps, B started at ${ranB[0]}`);
  const firstOfB = effects.find((x) => x.executor === 'fence-b')?.at.getTime() ?? 0;
  assert.ok(effects.filter((x) => x.executor === 'fence-a' && x.at.getTime() > firstOfB).length <= 1, 'A ran steps after B had started');
});
