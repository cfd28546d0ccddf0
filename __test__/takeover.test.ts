// Self-healing fleet: three dbos-native processes (executors tk-0..2, one application and version) with
// 3,000 workflows, each of which ran a step and waits in DBOS.recv (half of them started directly, half
// through queue 'tq'), and two official-SDK processes of the same application and version with 20
// waiting workflows each. tk-2 and one official process are SIGKILLed and never restarted.
// - tk-0/tk-1 take over tk-2's PENDING workflows once its liveness lock has been free for the grace
//   period (10 s), not before: back on their queues (the internal one, or 'tq'), from which any live
//   process of the version claims them, the official one included (it serves the application's queues
//   too), and runs them again from their checkpoints (the first step is not run again);
// - the official processes' workflows, alive or killed, are never touched (never seen as ours);
// - after the sends, every workflow completes exactly once: one side effect per step, counted in a table.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { countEvents, killApp, spawnApp, waitFor, type App } from './helpers/child';
import { query, sleep } from './helpers/db';
import { appScratch } from './helpers/scratch';
import { createTakeoverDatabase } from './helpers/takeover';

const native = path.join(__dirname, 'apps', 'takeover-app.js');
const official = path.join(__dirname, 'apps', 'takeover-official.js');
const PER_PROCESS = Number(process.env.DBOS_TEST_TAKEOVER_N ?? '1000');
const OFFICIAL_N = 20;
const GRACE_MS = 10_000; // ts/takeover.ts TAKEOVER_GRACE_MS
const BOUND_MS = GRACE_MS + 2_000; // the documented bound: grace + about two one-second scans
const DB = 'dbosn_takeover';

const scratch = appScratch(DB, { setup: () => createTakeoverDatabase(DB) });
const natives: App[] = [];
const officials: App[] = [];
const logOf = (name: string): string => scratch.file(`${name}.log`);
const prefixes = [0, 1, 2].map((k) => `t${k}`);
/** The executors still alive after the kills. */
const LIVE = ['tk-0', 'tk-1', 'official-live'];

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const rows = await query<{ n: string }>(scratch.url, sql, params);
  return Number(rows[0]?.n);
}

interface Row {
  id: string;
  status: string;
  executor_id: string;
  attempts: string;
  owner_xid: string | null;
}
const rowsOf = (where: string, params: unknown[] = []): Promise<Row[]> =>
  query<Row>(
    scratch.url,
    `SELECT workflow_uuid AS id, status, executor_id, recovery_attempts::text AS attempts, owner_xid FROM dbos.workflow_status WHERE ${where} ORDER BY 1`,
    params,
  );

describe('a dbos-native process killed for good', () => {
  let victimIDs: string[] = [];
  let officialBefore: Row[] = [];

  test('its PENDING workflows are taken over by the live processes after the grace period', async (t) => {
    for (let k = 0; k < 3; k++) {
      natives.push(
        spawnApp(
          native,
          {
            DBOS_SYSTEM_DATABASE_URL: scratch.url,
            DBOS__VMID: `tk-${k}`,
            LOG: logOf(`tk-${k}`),
            WAITERS: `${prefixes[k]}:${PER_PROCESS}`,
            SEND_TO: k === 0 ? prefixes.map((p) => `${p}:${PER_PROCESS}`).join(',') : '',
          },
          `tk-${k}`,
        ),
      );
    }
    for (const name of ['official-live', 'official-dead']) {
      officials.push(spawnApp(official, { DBOS_SYSTEM_DATABASE_URL: scratch.url, EXECUTOR: name, LOG: logOf(name), WAITERS: `${name}:${OFFICIAL_N}` }, name));
    }
    const all = [...natives, ...officials];
    await waitFor('every process to start its workflows', () => ['tk-0', 'tk-1', 'tk-2', 'official-live', 'official-dead'].every((n) => countEvents(logOf(n), 'started') === 1), all, 60_000);
    // Each waiter records its recv's deadline (function 2) once it waits, after its first step.
    const total = 3 * PER_PROCESS + 2 * OFFICIAL_N;
    await waitFor('every workflow to wait in its recv', async () => (await count("SELECT count(*) AS n FROM dbos.operation_outputs WHERE function_id = 2 AND function_name = 'DBOS.sleep'")) === total, all, 60_000);
    await sleep(2000); // every process has looked at the fleet (once a second) and seen the others alive

    victimIDs = (await rowsOf("executor_id = 'tk-2' AND status = 'PENDING'")).map((r) => r.id);
    assert.ok(victimIDs.length > 0);
    officialBefore = await rowsOf("workflow_uuid LIKE 'official-%'");
    assert.equal(officialBefore.length, 2 * OFFICIAL_N);
    const [victim, deadOfficial] = [natives[2], officials[1]];
    assert.ok(victim && deadOfficial);
    await Promise.all([killApp(victim), killApp(deadOfficial)]);
    const killedAt = Date.now();

    const live = [natives[0], natives[1], officials[0]].filter((a): a is App => a !== undefined);
    // Taken over: claimed again by a live process (attempt 2), waiting in their recv again.
    await waitFor(
      `the ${victimIDs.length} workflows of tk-2 to be taken over`,
      async () => (await count("SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) AND status = 'PENDING' AND executor_id = ANY($2) AND recovery_attempts = 2", [victimIDs, LIVE])) === victimIDs.length,
      live,
      6 * BOUND_MS,
    );
    const takenMs = Date.now() - killedAt;
    const firstClaim = await count('SELECT min(started_at_epoch_ms) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)', [victimIDs]);
    t.diagnostic(`took over ${victimIDs.length} workflows: first claim ${firstClaim - killedAt} ms, all ${takenMs} ms after the kill (bound ${BOUND_MS} ms)`);
    // Never before the grace period (the lock is freed after the kill), within a generous multiple of the bound.
    assert.ok(firstClaim - killedAt >= GRACE_MS, `claimed ${firstClaim - killedAt} ms after the kill, within the grace period`);
    assert.ok(takenMs <= 3 * BOUND_MS, `took ${takenMs} ms`);
    // The other processes' rows kept their executor and first attempt.
    assert.equal(
      await count("SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid ~ '^t[0-2]-' AND executor_id = ANY($2) AND recovery_attempts = 1 AND status = 'PENDING' AND NOT workflow_uuid = ANY($1)", [victimIDs, LIVE]),
      3 * PER_PROCESS - victimIDs.length,
    );
  });

  test("an official-SDK executor's workflows are never taken over, whether it is alive or was killed", async () => {
    await sleep(2000); // two more looks at the fleet
    assert.deepEqual(await rowsOf("workflow_uuid LIKE 'official-%'"), officialBefore);
    assert.equal(await count("SELECT count(*) AS n FROM takeover_effects WHERE workflow_id LIKE 'official-%' AND step = 2"), 0);
  });

  test('after the sends every workflow completes exactly once: one side effect per step', async () => {
    const senders = [natives[0], natives[1]].filter((a): a is App => a !== undefined);
    natives[0]?.child.kill('SIGUSR2');
    await waitFor('the sends', () => countEvents(logOf('tk-0'), 'sent') === 1, senders, 60_000);
    await waitFor(
      'every native workflow to succeed',
      async () => (await count("SELECT count(*) AS n FROM dbos.workflow_status WHERE name = 'tkWaiter' AND status = 'SUCCESS'")) === 3 * PER_PROCESS,
      senders,
      60_000,
    );
    const effects = await query<{ id: string; step: number; n: string; executors: string }>(
      scratch.url,
      `SELECT workflow_id AS id, step, count(*)::text AS n, string_agg(executor, ',') AS executors FROM takeover_effects
        WHERE workflow_id ~ '^t[0-2]-' GROUP BY 1, 2`,
    );
    assert.equal(effects.length, 2 * 3 * PER_PROCESS);
    assert.deepEqual(effects.filter((e) => e.n !== '1').slice(0, 5), [], 'a step ran twice');
    // tk-2's workflows ran their first step there, and their second on a live process.
    const victims = new Set(victimIDs);
    const wrong = effects.filter((e) => victims.has(e.id) && (e.step === 1 ? e.executors !== 'tk-2' : !LIVE.includes(e.executors)));
    assert.deepEqual(wrong.slice(0, 5), []);
    const shapes = await query<{ names: string; n: string }>(
      scratch.url,
      `SELECT names, count(*)::text AS n FROM (SELECT string_agg(function_id || ':' || function_name, ',' ORDER BY function_id) AS names
         FROM dbos.operation_outputs WHERE workflow_uuid ~ '^t[0-2]-' GROUP BY workflow_uuid) s GROUP BY names`,
    );
    assert.deepEqual(shapes, [{ names: '0:effect,1:DBOS.recv,2:DBOS.sleep,3:effect', n: String(3 * PER_PROCESS) }]);
    assert.equal(await count('SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) AND executor_id = ANY($2) AND recovery_attempts = 2', [victimIDs, LIVE]), victimIDs.length);
  });
});
