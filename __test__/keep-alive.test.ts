// Between DBOS.launch() and DBOS.shutdown() the process stays up even with nothing to do (as in DBOS: a
// worker that only serves recovery must not exit), and after shutdown it exits by itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { killAll, killApp, spawnApp, type App } from './helpers/child';
import { freshDatabase, sleep } from './helpers/db';

const script = path.join(__dirname, 'apps', 'idle-app.js');
/** How long an idle app must stay up; a process with nothing keeping it alive exits within milliseconds. */
const STAY_UP_MS = 3000;

let url = '';

before(async () => {
  url = await freshDatabase('dbosn_keep_alive');
});

after(async () => {
  await killAll();
});

async function launched(app: App): Promise<void> {
  for (let i = 0; !app.stdout().includes('launched\n'); i++) {
    assert.ok(!app.done(), `${app.name} exited before launching: ${app.stderr()}`);
    assert.ok(i < 600, `${app.name} launched`);
    await sleep(50);
  }
}

test('a process that launches and then has nothing to do stays up until killed', async () => {
  const app = spawnApp(script, { DBOS_SYSTEM_DATABASE_URL: url, MODE: 'idle' }, 'idle-app');
  await launched(app);
  await sleep(STAY_UP_MS);
  assert.equal(app.done(), false, 'the idle process is still running after launch');
  await killApp(app);
});

test('a process that launches and shuts down exits by itself, cleanly', async () => {
  const app = spawnApp(script, { DBOS_SYSTEM_DATABASE_URL: url, MODE: 'shutdown' }, 'idle-app-shutdown');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), 30_000);
  });
  const code = await Promise.race([app.exited, late]);
  clearTimeout(timer);
  assert.equal(code, 0, `the process exited with 0 after shutdown (stderr: ${app.stderr()})`);
  assert.match(app.stdout(), /launched\nshut down\n/);
});
