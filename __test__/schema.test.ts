// The system database our launch creates is the official SDK 5.3.0's, object for object, so the DBOS
// client, CLI and SDK can share it with us; a second launch leaves a version-123 database untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from 'pg';
import { DBOS } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

interface SnapshotModule {
  schemaSnapshot(client: Client, schema: string): Promise<unknown>;
  diffSnapshots(a: unknown, b: unknown): string[];
}

// The helper is plain ESM shared with ad-hoc scripts; it is not compiled.
const helperUrl = pathToFileURL(path.join(__dirname, '..', '..', 'helpers', 'schema-snapshot.mjs')).href;
const loadHelper = () => import(helperUrl) as Promise<SnapshotModule>;

async function snapshot(url: string, schema: string): Promise<unknown> {
  const { schemaSnapshot } = await loadHelper();
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await schemaSnapshot(client, schema);
  } finally {
    await client.end();
  }
}

interface OfficialDBOS {
  setConfig(c: Record<string, unknown>): void;
  launch(): Promise<void>;
  shutdown(): Promise<void>;
}

async function launchOfficial(url: string, schema: string): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('@dbos-inc/dbos-sdk') as { DBOS: OfficialDBOS };
  sdk.DBOS.setConfig({ name: 'schemacheck', systemDatabaseUrl: url, systemDatabaseSchemaName: schema, logLevel: 'error' });
  await sdk.DBOS.launch();
  await sdk.DBOS.shutdown();
}

async function launchOurs(url: string, schema: string): Promise<void> {
  DBOS.setConfig({ name: 'schemacheck', systemDatabaseUrl: url, systemDatabaseSchemaName: schema });
  await DBOS.launch();
  await DBOS.shutdown();
}

const UNCONSUMED = 'dbos_native_unconsumed_notifications';

function unconsumedIndex(url: string, schema: string): Promise<{ indexdef: string }[]> {
  return query<{ indexdef: string }>(url, 'SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [
    schema,
    UNCONSUMED,
  ]);
}

for (const schema of ['dbos', 'custom_sys']) {
  test(`our launch creates the same "${schema}" schema as @dbos-inc/dbos-sdk 5.3.0`, async () => {
    const ours = await freshDatabase('dbosn_schema_ours');
    const theirs = await freshDatabase('dbosn_schema_sdk');
    await launchOurs(ours, schema);
    await launchOfficial(theirs, schema);
    // Our one addition (see src/engine/migrations.rs), then the rest must match object for object.
    const q = `"${schema.replace(/"/g, '""')}"`;
    assert.deepEqual(await unconsumedIndex(ours, schema), [
      {
        indexdef: `CREATE INDEX ${UNCONSUMED} ON ${schema === 'dbos' ? 'dbos' : schema}.notifications USING btree (destination_uuid, topic, created_at_epoch_ms) WHERE (consumed = false)`,
      },
    ]);
    await query(ours, `DROP INDEX ${q}.${UNCONSUMED}`);
    const { diffSnapshots } = await loadHelper();
    const a = await snapshot(ours, schema);
    const b = await snapshot(theirs, schema);
    assert.deepEqual(diffSnapshots(a, b), []);
    const versions = await query<{ version: string }>(ours, `SELECT version FROM "${schema.replace(/"/g, '""')}".dbos_migrations`);
    assert.deepEqual(versions, [{ version: '123' }]);
  });
}

test('a database at version 123 gets no shared migration, only our index; the SDK and we launch on each other', async () => {
  const url = await freshDatabase('dbosn_schema_shared');
  await launchOfficial(url, 'dbos');
  const before = await query<{ xmin: string }>(url, 'SELECT xmin::text FROM dbos.dbos_migrations');
  assert.deepEqual(await unconsumedIndex(url, 'dbos'), []);
  await launchOurs(url, 'dbos');
  const after = await query<{ xmin: string }>(url, 'SELECT xmin::text FROM dbos.dbos_migrations');
  assert.deepEqual(after, before, 'the version row was not rewritten');
  assert.equal((await unconsumedIndex(url, 'dbos')).length, 1, 'our index was added');
  await launchOfficial(url, 'dbos');
  await launchOurs(url, 'dbos');
});

// As the SDK does, a launch re-runs its migrations when the version record says 0 (or is gone) on a
// schema that already has them, and ends with the schema a fresh launch makes.
for (const [what, reset] of [
  ['version row is set back to 0', 'UPDATE dbos.dbos_migrations SET version = 0'],
  ['version row is missing', 'DELETE FROM dbos.dbos_migrations'],
  ['version table is dropped', 'DROP TABLE dbos.dbos_migrations'],
] as const) {
  test(`a full schema whose ${what} is migrated again to the same schema`, async () => {
    const url = await freshDatabase('dbosn_schema_rerun');
    await launchOurs(url, 'dbos');
    const fresh = await snapshot(url, 'dbos');
    await query(url, reset);
    await launchOurs(url, 'dbos');
    const { diffSnapshots } = await loadHelper();
    assert.deepEqual(diffSnapshots(await snapshot(url, 'dbos'), fresh), []);
    assert.deepEqual(await query(url, 'SELECT version FROM dbos.dbos_migrations'), [{ version: '123' }]);
  });
}
