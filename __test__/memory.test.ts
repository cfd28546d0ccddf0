// Flat memory over long runs, measured in a child process (__test__/apps/memory-app.ts, with --expose-gc;
// RSS and the JS heap are sampled after a full GC every 1,000 items):
//   1. one workflow receives MESSAGES messages in a loop of DBOS.recv and sums them. This process feeds
//      them with DBOSClient.send (the ordinary path: one INSERT each, the trigger's NOTIFY), in batches
//      of 1,000, each batch sent only once the previous one is consumed, so every batch starts with the
//      workflow blocked in recv and woken by a notification, and the rest find their message at once.
//      Each batch has its own topic: recv orders every message of its (workflow, topic) by created_at
//      with only the (destination_uuid, topic) index to help (the DBOS schema; consumed rows are kept), so
//      its cost grows with the topic's size, and on one topic the loop is quadratic. Measured here with
//      the messages inserted beforehand: 10,000 on one topic 38.6 s, on 1,000-message topics 18 s (back
//      to back); 20,000 on one topic 154 s.
//   2. then WORKFLOWS short workflows (one step each), started and awaited 50 at a time.
// Sizes: 100,000 of each by default (measured on the shared 2-core machine: about 830 recvs/s, each a
// deadline marker and the consume statement, and 1,550-2,200 short workflows/s, so 3-4 minutes in all).
// DBOS_TEST_MEMORY_N sets both; DBOS_TEST_MEMORY_MESSAGES and DBOS_TEST_MEMORY_WORKFLOWS each on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient } from 'dbos-native';
import { countEvents, finalOutput, spawnApp, waitFor } from './helpers/child';
import { query } from './helpers/db';
import { appScratch } from './helpers/scratch';

const script = path.join(__dirname, 'apps', 'memory-app.js');
const full = process.env.DBOS_TEST_MEMORY_N ? Number(process.env.DBOS_TEST_MEMORY_N) : undefined;
const MESSAGES = Number(process.env.DBOS_TEST_MEMORY_MESSAGES ?? full ?? 100_000);
const WORKFLOWS = Number(process.env.DBOS_TEST_MEMORY_WORKFLOWS ?? full ?? 100_000);
const BATCH = 1000; // = the app's TOPIC_SIZE
const SAMPLE_EVERY = 1000;
const MB = 1024 * 1024;
/**
 * Allowed growth from just after warm-up to the end, sampled after a full GC. Measured here: the JS heap
 * moves by under 1 MB and does not trend (7.6 MB in use after 25,000 workflows, 6.9 MB after 300,000);
 * RSS moves by ±2 MB and creeps by 2-3 MB over the first 100,000 workflows, then levels off (103-104 MB
 * from 175,000 to 300,000: allocator fragmentation, since the heap is flat), and by under 1 MB over
 * 100,000 recvs. A leak of what one workflow or one recv holds while it runs (its state, handle,
 * promise and context, ~1 KB; a listener registration, ~200 B) would add tens of MB. After the 5,000
 * items of warm-up, the heap bound (2 MB) catches a JS leak of 45 B per workflow or 200 B per message at
 * the default sizes, and the RSS bound (8 MB, about three times the creep) a native one of 180 B per
 * workflow or 800 B per message (at the full size: 21/21 B and 85/85 B).
 */
const HEAP_BOUND = 2 * MB;
const RSS_BOUND = 8 * MB;
/** Samples (1,000 items each) that count as warm-up: caches, pools, JIT, the first heap growth. */
const WARMUP_SAMPLES = 5;

let client: DBOSClient;

const scratch = appScratch('dbosn_memory', {
  teardown: async () => {
    await client?.destroy();
  },
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Growth from the first samples after warm-up to the last ones (medians of 3, against the noise). */
function growth(samples: number[]): { warm: number; end: number; peak: number; growth: number } {
  assert.ok(samples.length >= WARMUP_SAMPLES + 6, `enough samples (${samples.length}) to tell a trend`);
  const later = samples.slice(WARMUP_SAMPLES);
  const warm = median(later.slice(0, 3));
  const end = median(later.slice(-3));
  return { warm, end, peak: Math.max(...later), growth: end - warm };
}

type Samples = [number, number][];

/** RSS and heap growth of one phase, checked against the bounds. */
function checkFlat(what: string, samples: Samples): string {
  const rss = growth(samples.map((s) => s[0]));
  const heap = growth(samples.map((s) => s[1]));
  assert.ok(heap.growth < HEAP_BOUND, `${what}: the JS heap grew ${mb(heap.growth)} after warm-up`);
  assert.ok(rss.growth < RSS_BOUND, `${what}: RSS grew ${mb(rss.growth)} after warm-up`);
  assert.ok(rss.peak - rss.warm < 2 * RSS_BOUND, `${what}: no transient balloon (RSS peak ${mb(rss.peak)})`);
  return (
    `RSS first ${mb(samples[0]?.[0] ?? 0)}, after warm-up ${mb(rss.warm)}, end ${mb(rss.end)}, peak ${mb(rss.peak)} (growth ${mb(rss.growth)}); ` +
    `heap after warm-up ${mb(heap.warm)}, end ${mb(heap.end)} (growth ${mb(heap.growth)})`
  );
}

function mb(x: number): string {
  return `${(x / MB).toFixed(1)} MB`;
}

test(`RSS stays flat over ${MESSAGES} messages through one recv loop and ${WORKFLOWS} short workflows`, async (t) => {
  const log = scratch.file('memory.log');
  const app = spawnApp(
    script,
    { DBOS_SYSTEM_DATABASE_URL: scratch.url, MESSAGES: String(MESSAGES), WORKFLOWS: String(WORKFLOWS), SAMPLE_EVERY: String(SAMPLE_EVERY), CONCURRENCY: '50', LOG: log },
    'memory-app',
    { nodeArgs: ['--expose-gc'] },
  );
  await waitFor('the summer workflow to start', () => countEvents(log, 'summer-started') === 1, [app], 60_000);
  client = await DBOSClient.create({ systemDatabaseUrl: scratch.url });
  // A recv has recorded its deadline (function n + 1) once it is about to wait.
  const waitingAt = async (functionID: number): Promise<boolean> =>
    (await query(scratch.url, "SELECT 1 FROM dbos.operation_outputs WHERE workflow_uuid = 'summer' AND function_id = $1 AND function_name = 'DBOS.sleep'", [functionID + 1])).length === 1;

  const t0 = Date.now();
  for (let b = 0; b * BATCH < MESSAGES; b++) {
    const from = b * BATCH;
    const to = Math.min(MESSAGES, from + BATCH);
    // The previous batch is consumed and the workflow waits in the recv of this batch's first message.
    await waitFor(`the recv of message ${from}`, () => waitingAt(2 * from), [app], 60_000);
    await Promise.all(Array.from({ length: to - from }, (_, j) => client.send('summer', from + j, `b${b}`)));
  }
  const out = (await finalOutput(app)) as { sum: number; recvMs: number; recv: Samples; workflowsMs: number; workflows: Samples };
  const totalMs = Date.now() - t0;

  // Every message was received once, in order, and summed.
  assert.equal(out.sum, (MESSAGES * (MESSAGES - 1)) / 2);
  const [m] = await query<{ n: string; consumed: string; functions: string; checkpoints: string }>(
    scratch.url,
    `SELECT count(*)::text AS n, count(*) FILTER (WHERE consumed)::text AS consumed,
            count(DISTINCT consumed_by_function_id)::text AS functions,
            (SELECT count(*) FROM dbos.operation_outputs WHERE workflow_uuid = 'summer' AND function_name = 'DBOS.recv')::text AS checkpoints
       FROM dbos.notifications WHERE destination_uuid = 'summer'`,
  );
  assert.deepEqual(m, { n: String(MESSAGES), consumed: String(MESSAGES), functions: String(MESSAGES), checkpoints: String(MESSAGES) });
  // The first recv of each batch was waiting when its message came (called before the message existed),
  // and a notification woke it, well before the 10 s poll.
  const firsts = await query<{ waited: boolean; latency: string }>(
    scratch.url,
    `SELECT o.started_at_epoch_ms < n.created_at_epoch_ms AS waited, (o.completed_at_epoch_ms - n.created_at_epoch_ms)::text AS latency
       FROM dbos.operation_outputs o JOIN dbos.notifications n ON n.destination_uuid = o.workflow_uuid AND n.consumed_by_function_id = o.function_id
      WHERE o.workflow_uuid = 'summer' AND o.function_name = 'DBOS.recv' AND o.function_id % $1 = 0`,
    [2 * BATCH],
  );
  assert.equal(firsts.length, Math.ceil(MESSAGES / BATCH));
  assert.ok(firsts.every((f) => f.waited), 'each batch found the workflow waiting in recv');
  const wakeMax = Math.max(...firsts.map((f) => Number(f.latency)));
  assert.ok(wakeMax < 10_000, `woken by notifications (slowest ${wakeMax} ms)`);
  assert.equal(
    Number((await query<{ n: string }>(scratch.url, "SELECT count(*) AS n FROM dbos.workflow_status WHERE name = 'short' AND status = 'SUCCESS'"))[0]?.n),
    WORKFLOWS,
  );

  const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000));
  t.diagnostic(`messages: ${MESSAGES} in ${out.recvMs} ms (${rate(MESSAGES, out.recvMs)}/s, slowest batch wake ${wakeMax} ms); ${checkFlat('recv loop', out.recv)}`);
  t.diagnostic(`workflows: ${WORKFLOWS} in ${out.workflowsMs} ms (${rate(WORKFLOWS, out.workflowsMs)}/s); ${checkFlat('short workflows', out.workflows)}; total ${totalMs} ms`);
});
