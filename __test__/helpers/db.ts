// Test databases: one per test file, on the server named by DBOS_TEST_DATABASE_URL (npm test starts an
// embedded Postgres and sets it; point it at your own server to use that instead).
import assert from 'node:assert/strict';
import { Client } from 'pg';

export function serverUrl(): string {
  const url = process.env.DBOS_TEST_DATABASE_URL ?? process.env.DBOS_SYSTEM_DATABASE_URL;
  if (!url) throw new Error('DBOS_TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

export function databaseUrl(database: string): string {
  const u = new URL(serverUrl());
  u.pathname = `/${database}`;
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops `database` if it exists and returns its URL (DBOS.launch creates it again). */
export async function freshDatabase(database: string): Promise<string> {
  await withClient(databaseUrl('postgres'), (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
  return databaseUrl(database);
}

export async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(url, async (c) => (await c.query(sql, params)).rows as T[]);
}

/** The checkpoints of a workflow, in order. */
export async function steps(url: string, workflowID: string): Promise<{ function_id: number; function_name: string; output: string | null; error: string | null; child_workflow_id: string | null; serialization: string | null }[]> {
  return query(
    url,
    'SELECT function_id, function_name, output, error, child_workflow_id, serialization FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id',
    [workflowID],
  );
}

/**
 * Asserts that the workflow's checkpoints are exactly `names`, in order, at function IDs 0, 1, 2, …
 * (a missing, extra or renamed checkpoint, or a gap in the IDs, fails).
 */
export async function assertCheckpoints(url: string, workflowID: string, names: string[], message?: string): Promise<void> {
  const recorded = (await steps(url, workflowID)).map((s) => [s.function_id, s.function_name]);
  assert.deepEqual(recorded, names.map((name, i) => [i, name]), message);
}

export async function statusRow(url: string, workflowID: string): Promise<Record<string, unknown> | undefined> {
  const rows = await query(url, 'SELECT * FROM dbos.workflow_status WHERE workflow_uuid = $1', [workflowID]);
  return rows[0];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`, or a rejection naming `what` if it has not settled within `ms` (the timer is cleared either way). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
