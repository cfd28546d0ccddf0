// Queues shared with the official SDK 5.3.0 on one database: one official worker process and one dbos-native
// worker process serve one queue with a global concurrency and a rate limit, fed by both SDKs' DBOSClient;
// neither exceeds the limits, every workflow runs exactly once, and both take part. The official CLI's
// `dbos workflow queue list` shows the workflows our client enqueued.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { DBOSClient } from 'dbos-native';
import { countEvents, spawnApp, stepSpans, waitFor } from './helpers/child';
import { query } from './helpers/db';
import { appScratch } from './helpers/scratch';

const APP = 'qinterop';
const GLOBAL = 4;
const RATE = { limitPerPeriod: 5, periodSec: 1 };
const JOBS_PER_CLIENT = 15;
const STEP_MS = 400;

let ours: DBOSClient | undefined;
let theirs: OfficialClient | undefined;
const scratch = appScratch('dbosn_queues_interop', {
  teardown: async () => {
    await ours?.destroy();
    await theirs?.destroy();
  },
});

const nativeWorker = path.join(__dirname, 'apps', 'queue-worker.js');
const officialWorker = path.join(__dirname, 'apps', 'queue-worker-official.js');

/** The `dbos` bin of the installed SDK (its package.json's `bin`). */
const sdkRoot = path.resolve(path.dirname(require.resolve('@dbos-inc/dbos-sdk')), '..', '..');
const cli = path.join(sdkRoot, (JSON.parse(readFileSync(path.join(sdkRoot, 'package.json'), 'utf8')) as { bin: { dbos: string } }).bin.dbos);

describe('one official and one dbos-native worker on one limited queue', () => {
  test('limits hold across both, every workflow runs once, both workers take part', async (t) => {
    const log = scratch.file('jobs.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
    // Ours first: its launch creates the database and the schema the official worker then finds.
    const native = spawnApp(nativeWorker, env, 'native worker');
    await waitFor('the native worker launched', () => countEvents(log, 'ready') === 1, [native]);
    const official = spawnApp(officialWorker, env, 'official worker');
    await waitFor('the official worker launched', () => countEvents(log, 'ready') === 2, [native, official]);

    ours = await DBOSClient.create({ systemDatabaseUrl: scratch.url, applicationName: APP });
    theirs = await OfficialClient.create({ systemDatabaseUrl: scratch.url, applicationName: APP });
    // A worker limit below the global one leaves the official worker (polling every 100 ms) room while
    // ours, woken at once by each enqueue and completion, is full.
    await ours.registerQueue('shared', { globalConcurrency: GLOBAL, workerConcurrency: 3, rateLimit: RATE, minPollingIntervalMs: 100 });
    // Give the official worker's discovery (once a second) the new queue before the work arrives.
    await new Promise((r) => setTimeout(r, 1500));

    const ids: string[] = [];
    for (let i = 0; i < JOBS_PER_CLIENT; i++) {
      await ours.enqueue({ workflowName: 'interopJob', queueName: 'shared', workflowID: `ours-${i}` }, STEP_MS);
      await theirs.enqueue({ workflowName: 'interopJob', queueName: 'shared', workflowID: `theirs-${i}` }, STEP_MS);
      ids.push(`ours-${i}`, `theirs-${i}`);
    }
    const done = async () =>
      Number((await query<{ n: string }>(scratch.url, `SELECT count(*) AS n FROM dbos.workflow_status WHERE status = 'SUCCESS' AND queue_name = 'shared'`))[0]?.n);
    await waitFor('every workflow succeeded', async () => (await done()) === ids.length, [native, official], 60_000);

    const rows = await query<{ workflow_uuid: string; executor_id: string; started_at_epoch_ms: string; rate_limited: boolean }>(
      scratch.url,
      `SELECT workflow_uuid, executor_id, started_at_epoch_ms, rate_limited FROM dbos.workflow_status WHERE queue_name = 'shared'`,
    );
    assert.deepEqual(rows.map((r) => r.workflow_uuid).sort(), [...ids].sort());

    // Exactly once: one step run per workflow, by the worker whose executor the row names.
    const runs = stepSpans(log);
    for (const id of ids) {
      const mine = runs.filter((s) => s.id === id);
      assert.equal(mine.length, 1, `${id} ran ${mine.length} times`);
      assert.equal(`${mine[0]?.sdk}-worker`, rows.find((r) => r.workflow_uuid === id)?.executor_id);
    }
    const bySdk = (sdk: string) => runs.filter((s) => s.sdk === sdk).length;
    assert.ok(bySdk('native') > 0 && bySdk('official') > 0, `native ran ${bySdk('native')}, official ${bySdk('official')}`);

    // Global concurrency, from the steps' own start and end times: a step runs inside its workflow's
    // claim, so overlapping steps are a lower bound on the overlapping claims.
    const overlap = Math.max(...runs.map((a) => runs.filter((b) => b.start <= a.start && a.start < b.end).length));
    t.diagnostic(`native ran ${bySdk('native')}, official ${bySdk('official')}; at most ${overlap} at once`);
    assert.ok(overlap <= GLOBAL, `${overlap} steps ran at once (limit ${GLOBAL})`);
    assert.ok(overlap > 1, 'the queue ran workflows concurrently');

    // The rate limit counts claims: each worker stamps started_at_epoch_ms with the database clock when it
    // claims, and that is what the limit bounds in any window of periodSec (a step starts some time after).
    assert.ok(rows.every((r) => r.rate_limited));
    const starts = rows.map((r) => Number(r.started_at_epoch_ms));
    for (const t of starts) {
      const inWindow = starts.filter((u) => u > t - RATE.periodSec * 1000 && u <= t).length;
      assert.ok(inWindow <= RATE.limitPerPeriod, `${inWindow} claims in the ${RATE.periodSec} s up to ${t}`);
    }
  });

  test("the official CLI's `dbos workflow queue list` shows the workflows our client enqueued", async () => {
    assert.ok(ours, 'the first test created the client');
    await ours.registerQueue('held', { globalConcurrency: 0 });
    await ours.enqueue({ workflowName: 'interopJob', queueName: 'held', workflowID: 'held-1' }, 1);
    await ours.enqueue({ workflowName: 'interopJob', queueName: 'held', workflowID: 'held-2', deduplicationID: 'd2', priority: 7 }, 1);

    const app = spawnApp(cli, {}, 'dbos workflow queue list', {
      args: ['workflow', 'queue', 'list', '--queue', 'held', '--application-name', APP, '--sys-db-url', scratch.url],
      cwd: path.dirname(scratch.file('x')),
    });
    assert.equal(await app.exited, 0, app.stderr());
    const listed = JSON.parse(app.stdout().trim()) as { workflowID: string; status: string; workflowName: string; queueName: string; deduplicationID?: string; priority?: number }[];
    const byID = new Map(listed.map((w) => [w.workflowID, w]));
    assert.deepEqual([...byID.keys()].sort(), ['held-1', 'held-2']);
    const two = byID.get('held-2');
    assert.deepEqual(
      [two?.status, two?.workflowName, two?.queueName, two?.deduplicationID, two?.priority],
      ['ENQUEUED', 'interopJob', 'held', 'd2', 7],
    );
    assert.equal(byID.get('held-1')?.deduplicationID, undefined, 'an unset dedup ID is NULL, not an empty string');
  });
});
