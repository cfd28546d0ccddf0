// The process the shutdown tests spawn. It never calls process.exit: it returns from main, and the test
// checks that it then exits by itself (no handle, timer, listener or pool connection left open).
// Configured by env: DBOS_SYSTEM_DATABASE_URL, EXECUTOR, PREFIX (workflow IDs), and
//   MODE=app      launch, start workflows waiting in recv, getEvent, readStream and sleep, shut down while
//                 they wait, report (see Report), return.
//   MODE=recover  launch as the same executor (recovering them), send the hub its message, await all
//                 four, report their results, shut down, return.
//   MODE=client   a DBOSClient waits in getEvent and readStream on TARGET (a PENDING workflow) and is
//                 destroyed while they wait; report, return.
// The report is the last stdout line (JSON); `returned <epoch ms>` goes to stderr just before main returns.
import { Client } from 'pg';
import { DBOS, DBOSClient } from 'dbos-native';
import { eventWaiter, hub, sleeper, streamWaiter } from './waiters';

export const APP_VERSION = 'shutdown-v1';
export const SLEEP_MS = 4000;

const url = process.env.DBOS_SYSTEM_DATABASE_URL ?? '';
const executor = process.env.EXECUTOR ?? 'local';
const prefix = process.env.PREFIX ?? 'shutdown';
const ids = { hub: `${prefix}-hub`, event: `${prefix}-event`, stream: `${prefix}-stream`, sleep: `${prefix}-sleep` };

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** This process's dbos-native connections to the database, by application_name. */
async function connections(names: string[]): Promise<string[]> {
  const rows = await query<{ application_name: string }>(
    'SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY($1) ORDER BY 1',
    [names],
  );
  return rows.map((r) => r.application_name);
}

async function until(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How each promise settled, within `ms` ('pending' if it did not). */
async function outcomes(ps: Promise<unknown>[], ms: number): Promise<string[]> {
  return Promise.all(
    ps.map((p) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((r) => {
        timer = setTimeout(() => r('pending'), ms);
      });
      const settled = p.then(
        (v) => `resolved ${JSON.stringify(v)}`,
        (e: unknown) => `rejected ${(e as Error).constructor.name}: ${(e as Error).message}`,
      );
      return Promise.race([settled, late]).finally(() => clearTimeout(timer));
    }),
  );
}

export interface Report {
  shutdownMs: number;
  /** Connections open while the waits were in progress, and after shutdown (or destroy). */
  before: string[];
  after: string[];
  /** How the waits in this process ended. */
  outcomes: string[];
  results?: unknown[];
}

/**
 * Runs `close` while `waits` are in progress: the connections named `names` before and after it (given up to
 * 2 s to go), how the waits ended, how long `close` took and how long until the waits had ended.
 */
async function closeWhileWaiting(
  names: string[],
  waits: Promise<unknown>[],
  close: () => Promise<void>,
): Promise<{ closeMs: number; endedMs: number; before: string[]; after: string[]; outcomes: string[] }> {
  const before = await connections(names);
  const t0 = Date.now();
  await close();
  const closeMs = Date.now() - t0;
  const ended = await outcomes(waits, 2000);
  const endedMs = Date.now() - t0;
  let after = await connections(names);
  for (let i = 0; i < 40 && after.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await connections(names);
  }
  return { closeMs, endedMs, before, after, outcomes: ended };
}

async function app(): Promise<Report> {
  const names = [`dbos_native_${executor}_${APP_VERSION}`, `dbos_native_listener_${executor}`];
  DBOS.setConfig({ name: 'shutdown-app', executorID: executor, applicationVersion: APP_VERSION });
  await DBOS.launch();
  const handles = [
    await DBOS.startWorkflow(hub, { workflowID: ids.hub })(),
    await DBOS.startWorkflow(eventWaiter, { workflowID: ids.event })(ids.hub),
    await DBOS.startWorkflow(streamWaiter, { workflowID: ids.stream })(ids.hub),
    await DBOS.startWorkflow(sleeper, { workflowID: ids.sleep })(SLEEP_MS),
  ];
  const results = handles.map((h) => h.getResult());
  // recv and getEvent record their deadline at function 1, the sleep its end at 0; the stream read records nothing.
  await until('the workflows to wait', async () => {
    const rows = await query<{ n: string }>(
      `SELECT count(*) AS n FROM dbos.operation_outputs WHERE function_name = 'DBOS.sleep'
          AND ((workflow_uuid = ANY($1) AND function_id = 1) OR (workflow_uuid = $2 AND function_id = 0))`,
      [[ids.hub, ids.event], ids.sleep],
    );
    return Number(rows[0]?.n) === 3;
  });
  await new Promise((r) => setTimeout(r, 300));
  const c = await closeWhileWaiting(names, results, () => DBOS.shutdown());
  return { shutdownMs: c.closeMs, before: c.before, after: c.after, outcomes: c.outcomes };
}

async function recover(): Promise<Report> {
  DBOS.setConfig({ name: 'shutdown-app', executorID: executor, applicationVersion: APP_VERSION });
  await DBOS.launch();
  await DBOS.send(ids.hub, 'go', 'go');
  const results = await Promise.all([ids.hub, ids.event, ids.stream, ids.sleep].map((id) => DBOS.getResult(id, 30)));
  const t0 = Date.now();
  await DBOS.shutdown();
  return { shutdownMs: Date.now() - t0, before: [], after: [], outcomes: [], results };
}

async function client(): Promise<Report> {
  const target = process.env.TARGET ?? '';
  const names = ['dbos_native_dbos-client_', 'dbos_native_listener_dbos-client'];
  const c = await DBOSClient.create({ systemDatabaseUrl: url });
  const waits = [
    c.getEvent(target, 'never', 60),
    (async () => {
      for await (const v of c.readStream(target, 'never')) return v;
      return 'ended';
    })(),
  ];
  // The client opens its listener at its first wait.
  await until('the client to listen', async () => (await connections(names)).includes('dbos_native_listener_dbos-client'));
  await new Promise((r) => setTimeout(r, 200));
  const closed = await closeWhileWaiting(names, waits, () => c.destroy());
  return { shutdownMs: closed.endedMs, before: closed.before, after: closed.after, outcomes: closed.outcomes };
}

async function main(): Promise<void> {
  const mode = process.env.MODE;
  const report = mode === 'app' ? await app() : mode === 'recover' ? await recover() : mode === 'client' ? await client() : undefined;
  if (!report) throw new Error(`unknown MODE ${mode}`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stderr.write(`returned ${Date.now()}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`shutdown-app failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
