// A launch that fails after it has connected (here: a table of the schema dropped by hand, with
// runMigrations off so nothing repairs it) rejects with the database's error and leaves DBOS
// relaunchable; it must not wait on itself and hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

test('a launch that fails after connecting rejects promptly and can be retried', async () => {
  const url = await freshDatabase('dbosn_launch_failure');
  DBOS.setConfig({ name: 'launch-failure', systemDatabaseUrl: url });
  await DBOS.launch();
  await DBOS.shutdown();
  await query(url, 'ALTER TABLE dbos.application_versions RENAME TO application_versions_away');

  DBOS.setConfig({ name: 'launch-failure', systemDatabaseUrl: url, runMigrations: false });
  const outcome = await Promise.race([
    DBOS.launch().then(
      () => 'launched',
      (e: unknown) => (e as Error).message,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('still pending after 10 s'), 10_000).unref()),
  ]);
  assert.match(outcome, /application_versions/);
  assert.equal(DBOS.isInitialized(), false);

  await query(url, 'ALTER TABLE dbos.application_versions_away RENAME TO application_versions');
  await DBOS.launch();
  assert.equal(DBOS.isInitialized(), true);
  await DBOS.shutdown();
});
