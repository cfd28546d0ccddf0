// The database of the takeover tests' app processes (apps/takeover-app.ts, apps/takeover-official.ts).
import { databaseUrl, query } from './db';

/**
 * Creates `database` (dropped by `freshDatabase` before) with the table in which the apps' steps record
 * their side effects, each with its time: the table must be there before any process runs a step, so the
 * database cannot wait for the first process's launch to create it.
 */
export async function createTakeoverDatabase(database: string): Promise<void> {
  await query(databaseUrl('postgres'), `CREATE DATABASE "${database}"`);
  await query(
    databaseUrl(database),
    'CREATE TABLE takeover_effects (workflow_id text NOT NULL, step int NOT NULL, executor text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())',
  );
}
