// Scale-out: four app processes (executors scale-0..3, one app name and version) on one database with
// 10,000 workflows in all blocked in DBOS.recv or DBOS.getEvent. While they wait, each process holds at
// most its pool (systemDatabasePoolSize, 10) plus one LISTEN connection, whatever its number of waiters.
// A SIGKILLed process relaunched under the same executor ID recovers exactly its own workflows (it is
// back within the fleet's 10 s takeover grace, so the others take none of them over). Then
// sends and setEvents from the *next* process (messages and events cross processes) wake every waiter,
// and each completes exactly once with the value meant for it.
//
// The waits use a 5-minute poll interval (DBOS_TEST_SCALE_POLL_MS; the default is 10 s): the whole test
// is shorter than that, so every wake-up seen here came from a notification, and 10,000 waiters do not
// poll the database 1,000 times a second while they wait. DBOS_TEST_SCALE_N changes the total (10,000).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { countEvents, killAll, killApp, logEvents, spawnApp, waitFor, type App } from './helpers/child';
import { freshDatabase, query, sleep } from './helpers/db';

const script = path.join(__dirname, 'apps', 'scale-app.js');
const TOTAL = Number(process.env.DBOS_TEST_SCALE_N ?? '10000');
const POLL_MS = Number(process.env.DBOS_TEST_SCALE_POLL_MS ?? '300000');
const PROCS = 4;
const COUNTS = Array.from({ length: PROCS }, (_, k) => Math.floor(TOTAL / PROCS) + (k < TOTAL % PROCS ? 1 : 0));
const POOL_SIZE = 10; // systemDatabasePoolSize's default, which the apps use
const VERSION = 'scale-v1';
const VICTIM = 2; // the process killed and relaunched
const OTHERS = Array.from({ length: PROCS }, (_, k) => k).filter((k) => k !== VICTIM);

let url = '';
let dir = '';
const apps: App[] = [];
let relaunched: App | undefined;
const logOf = (k: number, gen = 0): string => path.join(dir, `p${k}-${gen}.log`);

// ---- connection sampling: the most connections each application_name held, from pg_stat_activity
let sampler: Client | undefined;
let sampling = false;
let samplerDone: Promise<void> = Promise.resolve();
const maxConnections = new Map<string, number>();

async function connectionsNow(c: Client): Promise<Map<string, number>> {
  const r = await c.query<{ name: string; n: string }>(
    "SELECT application_name AS name, count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'dbos_native_%' GROUP BY 1",
  );
  return new Map(r.rows.map((row) => [row.name, Number(row.n)]));
}

function startSampling(c: Client): void {
  sampling = true;
  samplerDone = (async () => {
    while (sampling) {
      for (const [name, n] of await connectionsNow(c)) maxConnections.set(name, Math.max(n, maxConnections.get(name) ?? 0));
      await sleep(100);
    }
  })();
}

const poolName = (k: number): string => `dbos_native_scale-${k}_${VERSION}`;
const listenerName = (k: number): string => `dbos_native_listener_scale-${k}`;

function spawnScale(k: number, gen: number, start: boolean): App {
  return spawnApp(
    script,
    {
      DBOS_SYSTEM_DATABASE_URL: url,
      DBOS__VMID: `scale-${k}`,
      INDEX: String(k),
      COUNTS: COUNTS.join(','),
      POLL_MS: String(POLL_MS),
      START: start ? '1' : '0',
      LOG: logOf(k, gen),
    },
    `scale-${k}${gen ? ` (relaunch ${gen})` : ''}`,
  );
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const rows = await query<{ n: string }>(url, sql, params);
  return Number(rows[0]?.n);
}

/** Waiters whose wait deadline (the DBOS.sleep marker at function 1) is recorded. */
async function waitingMarkers(): Promise<number> {
  return count("SELECT count(*) AS n FROM dbos.operation_outputs WHERE function_id = 1 AND function_name = 'DBOS.sleep' AND workflow_uuid LIKE 'w-%'");
}

/** Per-id count of `run-<id>` lines in a log. */
function runs(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of logEvents(file)) if (e.name.startsWith('run-')) m.set(e.name.slice(4), (m.get(e.name.slice(4)) ?? 0) + 1);
  return m;
}

function expectedIDs(k: number): string[] {
  return Array.from({ length: COUNTS[k] ?? 0 }, (_, i) => `w-${k}-${i}`);
}

function quantiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

before(async () => {
  url = await freshDatabase('dbosn_scale_out');
  dir = mkdtempSync(path.join(tmpdir(), 'dbosn-scale-'));
});

after(async () => {
  sampling = false;
  await samplerDone.catch(() => undefined);
  await sampler?.end().catch(() => undefined);
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe(`${TOTAL} waiters in ${PROCS} processes`, () => {
  test('each process holds at most its pool plus one listener connection while thousands of its workflows wait', async (t) => {
    const t0 = Date.now();
    for (let k = 0; k < PROCS; k++) apps.push(spawnScale(k, 0, true));
    // The database exists once the first launch has created it.
    await waitFor('the apps to launch', () => apps.every((_, k) => countEvents(logOf(k), 'launched') === 1), apps, 60_000);
    sampler = new Client({ connectionString: url });
    await sampler.connect();
    startSampling(sampler);
    await waitFor('every waiter to record its wait deadline', async () => (await waitingMarkers()) === TOTAL, apps, 120_000);
    await waitFor('the apps to finish starting', () => apps.every((_, k) => countEvents(logOf(k), 'started') === 1), apps);
    const startMs = Date.now() - t0;
    await sleep(1000); // past the deadline marker: each waiter checks once more, then waits
    assert.equal(await count("SELECT count(*) AS n FROM dbos.workflow_status WHERE name = 'waiter' AND status = 'PENDING'"), TOTAL);

    const now = await connectionsNow(sampler);
    const perProcess = Array.from({ length: PROCS }, (_, k) => ({
      waiters: COUNTS[k],
      pool: now.get(poolName(k)) ?? 0,
      listener: now.get(listenerName(k)) ?? 0,
      maxPool: maxConnections.get(poolName(k)) ?? 0,
      maxListener: maxConnections.get(listenerName(k)) ?? 0,
    }));
    t.diagnostic(`started ${TOTAL} waiters in ${startMs} ms (from spawn, launches included)`);
    t.diagnostic(`connections while waiting: ${JSON.stringify(perProcess)}`);
    for (const [k, p] of perProcess.entries()) {
      assert.equal(p.listener, 1, `scale-${k} has one LISTEN connection`);
      assert.ok(p.pool >= 1 && p.pool <= POOL_SIZE, `scale-${k} holds ${p.pool} pool connections while ${p.waiters} of its workflows wait`);
      assert.ok(p.maxPool <= POOL_SIZE && p.maxListener <= 1, `scale-${k} never went over ${POOL_SIZE} + 1 (peak ${p.maxPool} + ${p.maxListener})`);
    }
    // Nothing else of ours is connected: no connection per waiter, no stray pool.
    assert.deepEqual(
      [...now.keys()].filter((n) => ![...Array(PROCS).keys()].some((k) => n === poolName(k) || n === listenerName(k))),
      [],
    );
  });

  test('a SIGKILLed process relaunched with the same executor ID recovers exactly its own workflows', async (t) => {
    const victim = apps[VICTIM];
    assert.ok(victim);
    await killApp(victim);
    const killedAt = Date.now();
    // Its connections go with it.
    await waitFor('the killed process to disconnect', async () => {
      const now = sampler ? await connectionsNow(sampler) : new Map<string, number>();
      return !now.has(poolName(VICTIM)) && !now.has(listenerName(VICTIM));
    });
    relaunched = spawnScale(VICTIM, 1, false);
    const watch = [...apps.filter((a) => a !== victim), relaunched];
    await waitFor('the relaunch to be ready', () => countEvents(logOf(VICTIM, 1), 'ready') === 1, watch, 60_000);
    const mine = expectedIDs(VICTIM);
    // Claimed again (by whichever process): attempt 2 for each of them, and each body ran once more.
    const rerun = (): number => [runs(logOf(VICTIM, 1)), ...OTHERS.map((k) => runs(logOf(k)))].reduce((s, m) => s + [...m.keys()].filter((id) => id.startsWith(`w-${VICTIM}-`)).length, 0);
    await waitFor(
      'the recovered workflows to run again',
      async () => rerun() >= mine.length && (await count("SELECT count(*) AS n FROM dbos.workflow_status WHERE name = 'waiter' AND recovery_attempts = 2")) === mine.length,
      watch,
      60_000,
    );
    const recoveredMs = Date.now() - killedAt;
    await sleep(1000); // and to be back in their waits

    // Recovery re-enqueued exactly the victim's PENDING rows, each claimed once more (attempt 2); the
    // others' rows still have their first attempt and their own executor, and are still waiting.
    const rows = await query<{ prefix: string; status: string; attempts: string; n: string }>(
      url,
      `SELECT split_part(workflow_uuid, '-', 2) AS prefix, status, recovery_attempts::text AS attempts, count(*)::text AS n
         FROM dbos.workflow_status WHERE name = 'waiter' GROUP BY 1, 2, 3 ORDER BY 1`,
    );
    assert.deepEqual(
      rows.map((r) => [r.prefix, r.status, r.attempts, Number(r.n)]),
      Array.from({ length: PROCS }, (_, k) => [String(k), 'PENDING', k === VICTIM ? '2' : '1', COUNTS[k]]),
    );
    for (const k of OTHERS) {
      assert.equal(await count('SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE $1 AND executor_id = $2', [`w-${k}-%`, `scale-${k}`]), COUNTS[k]);
    }
    const ran = rerun();
    assert.equal(ran, mine.length, 'each recovered workflow ran once more');
    const now = sampler ? await connectionsNow(sampler) : new Map<string, number>();
    t.diagnostic(`recovered ${mine.length} workflows ${recoveredMs} ms after the kill; relaunch holds ${now.get(poolName(VICTIM))} + ${now.get(listenerName(VICTIM))} connections`);
    assert.equal(now.get(listenerName(VICTIM)), 1);
    assert.ok((now.get(poolName(VICTIM)) ?? 0) <= POOL_SIZE);
  });

  // Recovery claims the rows for the relaunched process in the statement that recovers them, so the
  // other processes (which poll the internal queue every second) never see them ENQUEUED.
  test('the relaunch ran all of the recovered workflows: the other processes took none', async () => {
    const stolen = OTHERS.map((k) => [...runs(logOf(k)).keys()].filter((id) => !id.startsWith(`w-${k}-`)).length);
    const byExecutor = await query<{ executor_id: string; n: string }>(
      url,
      'SELECT executor_id, count(*)::text AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE $1 GROUP BY 1 ORDER BY 1',
      [`w-${VICTIM}-%`],
    );
    assert.deepEqual(
      byExecutor.map((r) => [r.executor_id, Number(r.n)]),
      [[`scale-${VICTIM}`, COUNTS[VICTIM]]],
      `the recovered workflows were claimed by ${JSON.stringify(byExecutor)} (runs in the others: ${stolen.join(', ')})`,
    );
    const ran = runs(logOf(VICTIM, 1));
    assert.deepEqual([...ran.keys()].sort(), expectedIDs(VICTIM).sort());
    assert.deepEqual(stolen, OTHERS.map(() => 0));
  });

  test('sends and setEvents from the next process wake all of them; each completes exactly once with its value', async (t) => {
    assert.ok(relaunched);
    const live = [...OTHERS.map((k) => apps[k]), relaunched].filter((a): a is App => a !== undefined && !a.done());
    assert.equal(live.length, PROCS);
    const wakeAt = Date.now();
    for (const a of live) a.child.kill('SIGUSR2');
    await waitFor(
      'every waiter to complete',
      async () => (await count("SELECT count(*) AS n FROM dbos.workflow_status WHERE name = 'waiter' AND status = 'SUCCESS'")) === TOTAL,
      live,
      120_000,
    );
    const wakeMs = Date.now() - wakeAt;
    await waitFor('every sender to finish', () => OTHERS.every((k) => countEvents(logOf(k), 'sent') === 1) && countEvents(logOf(VICTIM, 1), 'sent') === 1, live);
    sampling = false;
    await samplerDone;

    // Status, executor and value of every waiter.
    const outcomes = await query<{ id: string; status: string; executor_id: string; attempts: string; output: string | null }>(
      url,
      `SELECT ws.workflow_uuid AS id, ws.status, ws.executor_id, ws.recovery_attempts::text AS attempts, o.output
         FROM dbos.workflow_status ws LEFT JOIN dbos.workflow_output o USING (workflow_uuid) WHERE ws.name = 'waiter'`,
    );
    assert.equal(outcomes.length, TOTAL);
    const wrong = outcomes.filter((r) => {
      const [, k, i] = r.id.split('-');
      const expected = `${Number(i) % 2 === 0 ? 'm' : 'e'}-${k}-${i}`;
      const value = r.output === null ? null : (JSON.parse(r.output) as { json?: unknown }).json;
      return r.status !== 'SUCCESS' || value !== expected || r.attempts !== (Number(k) === VICTIM ? '2' : '1');
    });
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} waiters ended wrong`);

    // Checkpoints: each waiter has exactly its recv (or getEvent) at 0 and its deadline at 1.
    const cps = await query<{ names: string; n: string }>(
      url,
      `SELECT names, count(*)::text AS n FROM (
         SELECT string_agg(function_id || ':' || function_name, ',' ORDER BY function_id) AS names
           FROM dbos.operation_outputs WHERE workflow_uuid LIKE 'w-%' GROUP BY workflow_uuid) s GROUP BY names`,
    );
    const shapes = new Map(cps.map((r) => [r.names, Number(r.n)]));
    const recvWaiters = COUNTS.reduce((s, n) => s + Math.ceil(n / 2), 0);
    assert.deepEqual(
      shapes,
      new Map([
        ['0:DBOS.recv,1:DBOS.sleep', recvWaiters],
        ['0:DBOS.getEvent,1:DBOS.sleep', TOTAL - recvWaiters],
      ]),
    );
    // One message per recv waiter, consumed by its recv (function 0), and its text is in the checkpoint.
    const messages = await query<{ n: string; consumed: string; by0: string; matched: string }>(
      url,
      `SELECT count(*)::text AS n, count(*) FILTER (WHERE n.consumed)::text AS consumed,
              count(*) FILTER (WHERE n.consumed_by_function_id = 0)::text AS by0,
              count(*) FILTER (WHERE o.output = n.message)::text AS matched
         FROM dbos.notifications n
         LEFT JOIN dbos.operation_outputs o ON o.workflow_uuid = n.destination_uuid AND o.function_id = 0 AND o.function_name = 'DBOS.recv'`,
    );
    assert.deepEqual(messages[0], { n: String(recvWaiters), consumed: String(recvWaiters), by0: String(recvWaiters), matched: String(recvWaiters) });
    assert.equal(await count("SELECT count(DISTINCT destination_uuid) AS n FROM dbos.notifications WHERE destination_uuid LIKE 'w-%'"), recvWaiters);

    // Every body ran once in its own process (the victim's once more after recovery, checked above).
    for (let k = 0; k < PROCS; k++) {
      const own = [...runs(logOf(k))].filter(([id]) => id.startsWith(`w-${k}-`));
      assert.equal(own.length, COUNTS[k], `scale-${k} ran each of its workflows`);
      assert.ok(own.every(([, n]) => n === 1), `scale-${k} ran each body once`);
    }

    // Wake latency: message insert to its consuming recv; setEvent checkpoint to the getEvent checkpoint.
    const recvLatency = await query<{ ms: string }>(
      url,
      `SELECT (o.completed_at_epoch_ms - n.created_at_epoch_ms)::text AS ms FROM dbos.notifications n
         JOIN dbos.operation_outputs o ON o.workflow_uuid = n.destination_uuid AND o.function_id = n.consumed_by_function_id`,
    );
    const eventLatency = await query<{ ms: string }>(
      url,
      `SELECT (g.completed_at_epoch_ms - s.completed_at_epoch_ms)::text AS ms FROM dbos.workflow_events_history h
         JOIN dbos.operation_outputs s ON s.workflow_uuid = h.workflow_uuid AND s.function_id = h.function_id
         JOIN dbos.operation_outputs g ON g.workflow_uuid = h.key AND g.function_id = 0 AND g.function_name = 'DBOS.getEvent'`,
    );
    const rq = quantiles(recvLatency.map((r) => Number(r.ms)));
    const eq = quantiles(eventLatency.map((r) => Number(r.ms)));
    t.diagnostic(`woke ${TOTAL} in ${wakeMs} ms; recv wake latency ${JSON.stringify(rq)} ms; getEvent wake latency ${JSON.stringify(eq)} ms`);
    t.diagnostic(`peak connections over the whole test: ${JSON.stringify(Object.fromEntries(maxConnections))}`);
    assert.equal(recvLatency.length, recvWaiters);
    assert.equal(eventLatency.length, TOTAL - recvWaiters);
    // Nobody waited for a poll: every wake-up came from a notification.
    assert.ok(rq.max < POLL_MS && eq.max < POLL_MS);
    for (let k = 0; k < PROCS; k++) {
      assert.ok((maxConnections.get(poolName(k)) ?? 0) <= POOL_SIZE, `scale-${k} stayed within its pool`);
      assert.ok((maxConnections.get(listenerName(k)) ?? 0) <= 1, `scale-${k} had one listener`);
    }
  });
});
