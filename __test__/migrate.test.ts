// DBOS.migrate: creates the database and the schema without launching; an application launched with
// runMigrations: false then runs on it. Bad input rejects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, Error as DBOSErrors } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

test('migrate creates the database and schema; a launch without migrations runs on it', async () => {
  const url = await freshDatabase('migrate_test');
  await DBOS.migrate(url, { schemaName: 'dbos' });
  const [row] = await query<{ version: string }>(url, 'SELECT version FROM dbos.dbos_migrations');
  assert.ok(Number(row.version) > 0);
  DBOS.setConfig({ name: 'migrate-app', systemDatabaseUrl: url, runMigrations: false });
  await DBOS.launch();
  await DBOS.shutdown();
});

test('migrate rejects bad input (a promise, not a throw)', async () => {
  let p: Promise<void> | undefined;
  assert.doesNotThrow(() => {
    p = DBOS.migrate(42 as unknown as string);
  });
  await assert.rejects(p as Promise<void>);
  await assert.rejects(DBOS.migrate('postgresql://localhost/x', { applicationRole: 'app' }), (e: unknown) => e instanceof DBOSErrors.DBOSError && /applicationRole is not supported/.test(e.message));
});
