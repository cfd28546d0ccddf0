// The README's first command: `npm start` serves the shop with nothing configured (an embedded Postgres under
// ./.dbos) and stops on Ctrl-C (the shop itself is driven in a browser by shop.test.ts); `npm run
// example:onboarding` completes, and a second run reuses that database and returns the recorded result without
// re-running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { waitFor } from './helpers/child';
import { freePort } from './helpers/net';

const root = path.join(__dirname, '..', '..', '..');
let cwd = '';
let port = 0;

/** Runs a built example with nothing configured but the embedded Postgres's port; `out` is stdout then stderr. */
function runExample(script: string, ...args: string[]): { code: number | null; stdout: string; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, DBOS_EMBEDDED_PG_PORT: String(port) };
  delete env.DBOS_SYSTEM_DATABASE_URL;
  const r = spawnSync(process.execPath, [path.join(root, 'examples', 'build', script), ...args], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'examples')], { encoding: 'utf8' });
  assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
  cwd = mkdtempSync(path.join(tmpdir(), 'dbosn-example-'));
  chmodSync(cwd, 0o755); // as root, the server runs as "postgres", which must reach ./.dbos
  port = await freePort();
});

after(() => {
  rmSync(cwd, { recursive: true, force: true });
});

test('npm start: the shop serves on an embedded Postgres with nothing configured, and stops on Ctrl-C', async () => {
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.start ?? '', /node examples\/build\/shop\/server\.js$/);
  assert.match(scripts['example:onboarding'] ?? '', /node examples\/build\/onboarding\.js$/);
  const httpPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DBOS_EMBEDDED_PG_PORT: String(port), PORT: String(httpPort) };
  delete env.DBOS_SYSTEM_DATABASE_URL;
  const shop = spawn(process.execPath, [path.join(root, 'examples', 'build', 'shop', 'server.js')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  shop.stdout.on('data', (d: Buffer) => (out += d.toString()));
  shop.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => shop.on('exit', (code) => resolve(code)));
  try {
    await waitFor('the shop to print its URL', () => out.includes(`The shop is open at http://localhost:${httpPort}`), [], 120_000);
    const page = await fetch(`http://localhost:${httpPort}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /id="checkout"/);
    const checkout = await fetch(`http://localhost:${httpPort}/checkout`, { method: 'POST', redirect: 'manual' });
    assert.equal(checkout.status, 303);
    assert.match(checkout.headers.get('location') ?? '', /^\/pay\//);
    shop.kill('SIGINT');
    assert.equal(await exited, 0, out);
  } finally {
    shop.kill('SIGKILL');
  }
});

test('npm run example:onboarding: the example completes on an embedded Postgres with nothing configured', () => {
  const first = runExample('onboarding.js', 'Zoe');
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /\[step\] creating an account for Zoe/);
  assert.match(first.out, /Result: Zoe is onboarded \(welcome-email-sent:acct-zoe\)/);
  assert.match(first.out, /Workflow onboard-Zoe: SUCCESS, recovery attempts 1/);
  assert.ok(existsSync(path.join(cwd, '.dbos', 'pgdata')), 'the data lives under ./.dbos');
});

test('a second run reuses the database: the finished workflow is not run again', () => {
  const second = runExample('onboarding.js', 'Zoe');
  assert.equal(second.code, 0, second.out);
  assert.match(second.out, /Result: Zoe is onboarded/);
  assert.doesNotMatch(second.out, /\[step\]/);
});

test('the Server-Sent Events example streams a workflow\'s progress over HTTP to the end', () => {
  const { code, stdout, out } = runExample('progress-stream.js', '--once');
  assert.equal(code, 0, out);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 5, out);
  for (let i = 0; i < 3; i++) assert.match(lines[i] ?? '', new RegExp(`^id: ${i} \\| data: \\{"part":${i + 1},"of":3,"at":"[0-9T:.Z-]+"\\}$`));
  assert.equal(lines[3], 'event: end | data: {}');
  assert.equal(lines[4], 'result: part 1, part 2, part 3');
});
