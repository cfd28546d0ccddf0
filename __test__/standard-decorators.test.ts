// Apps compiled without experimentalDecorators (TC39 standard decorators) work the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { freshDatabase } from './helpers/db';

const root = path.join(__dirname, '..', '..', '..');

test('standard decorators register workflows and steps with their class and method names', async () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, '__test__', 'standard')], { encoding: 'utf8' });
  assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
  const url = await freshDatabase('dbosn_standard');
  const run = spawnSync(process.execPath, [path.join(root, '__test__', 'build', 'standard', 'app.js')], {
    env: { ...process.env, DBOS_SYSTEM_DATABASE_URL: url },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  const out = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
  assert.equal(out.result, 'hello ADA from std-1');
  assert.match(String(out.again), /^hello BOB from /);
  assert.equal(out.stepRuns, 2);
  assert.equal(out.name, 'greet');
  assert.equal(out.cls, 'Greeter');
});
