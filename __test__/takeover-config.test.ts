// takeOverDeadExecutors (dbos-native's switch for the self-healing fleet): a value that is not a boolean
// fails DBOS.launch with a DBOSInitializationError before anything connects, so no database is created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, Error as E } from 'dbos-native';
import { databaseUrl, freshDatabase, query } from './helpers/db';

test('a takeOverDeadExecutors that is not a boolean rejects the launch and creates nothing', async () => {
  const db = 'dbosn_takeover_config';
  const url = await freshDatabase(db);
  DBOS.setConfig({ name: 'takeover-config', systemDatabaseUrl: url, takeOverDeadExecutors: 'yes' as unknown as boolean });
  await assert.rejects(DBOS.launch(), (e: unknown) => e instanceof E.DBOSInitializationError && /takeOverDeadExecutors must be a boolean/.test(e.message));
  assert.deepEqual(await query(databaseUrl('postgres'), 'SELECT 1 FROM pg_database WHERE datname = $1', [db]), []);
  // false is accepted: the process runs with DBOS's per-executor recovery only.
  DBOS.setConfig({ name: 'takeover-config', systemDatabaseUrl: url, takeOverDeadExecutors: false });
  await DBOS.launch();
  await DBOS.shutdown();
});
