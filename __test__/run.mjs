#!/usr/bin/env node
// The project's test command (`npm test`):
//   1. database: DBOS_TEST_DATABASE_URL if set; else the server of DBOS_SYSTEM_DATABASE_URL (database `postgres`);
//      else a throwaway embedded Postgres (fresh temp dir, free port, no fsync) from dist/embedded-postgres.js.
//      Children get its admin URL as DBOS_TEST_DATABASE_URL; tests create their own databases from it.
//   2. cargo test --release
//   3. tsc -p __test__/tsconfig.json   (emits __test__/build/__test__/*.test.js)
//   4. node --test --test-reporter=spec <test files>
//   5. the embedded server is stopped whatever happens (failure, SIGINT, SIGTERM).
//
// Connection modes: DBOS_TEST_CONNECTION_MODE=polling runs the chosen files with `useListenNotify: false`;
// =pgbouncer starts a PgBouncer (transaction pooling, __test__/helpers/pgbouncer.ts) in front of the test
// server and sends each app's and client's system database traffic through it (LISTEN on the direct URL).
// Both preload __test__/helpers/connection-mode.ts into every test process (NODE_OPTIONS); `.ci/run` runs
// the communication and queue suites once in each.
//
// Usage: npm test [-- [--no-cargo] [--test-<node flag>...] [filter...]]
//   filter          run only test files whose path (under __test__/) contains one of the filters, e.g. `npm test -- sleep`
//   --no-cargo      skip `cargo test` (also: DBOS_TEST_NO_CARGO=1)
//   --test-*        passed to `node --test` (e.g. --test-concurrency=4, --test-name-pattern=recv)
// Exit status is non-zero if any phase failed. Node's test summary is the last thing printed.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repo, 'package.json'));
const t0 = Date.now();

function header(title) {
  console.log(`\n=== [test ${((Date.now() - t0) / 1000).toFixed(1)}s] ${title}`);
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable URL>';
  }
}

// ---- arguments
const filters = [];
const nodeTestFlags = [];
let skipCargo = ['1', 'true', 'yes'].includes((process.env.DBOS_TEST_NO_CARGO ?? '').toLowerCase());
for (const arg of process.argv.slice(2)) {
  if (arg === '--no-cargo') skipCargo = true;
  else if (arg.startsWith('--test-')) nodeTestFlags.push(arg);
  else if (arg.startsWith('-')) {
    console.error(`run.mjs: unknown option ${arg} (known: --no-cargo, --test-*, or file-name filters)`);
    process.exit(2);
  } else filters.push(arg);
}

// ---- signals: let the current child finish its own cleanup, then stop the server and exit
let current; // the running child process
let interrupted;
function onSignal(signal) {
  if (interrupted) {
    current?.kill('SIGKILL');
    return;
  }
  interrupted = signal;
  console.error(`\nrun.mjs: ${signal} received, stopping`);
  // A terminal's Ctrl-C already reached the child (same process group); a `kill` of this process did not.
  const child = current;
  if (child) setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill(signal), 1000).unref();
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);

function runChild(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repo, env, stdio: 'inherit' });
    current = child;
    child.once('error', (e) => {
      console.error(`run.mjs: could not run ${cmd}: ${e.message}`);
      current = undefined;
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      current = undefined;
      resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function findTestFiles(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTestFiles(full));
    else if (/\.test\.[cm]?js$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

let embedded; // { handle, dataDir }

async function stopEmbedded() {
  if (!embedded) return;
  const { handle, dataDir } = embedded;
  embedded = undefined;
  try {
    await handle.stop();
  } catch (e) {
    console.error(`run.mjs: stopping the embedded Postgres failed: ${e.message}`);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

async function main() {
  const env = { ...process.env };
  const failures = [];

  // ---- 1. database
  if (process.env.DBOS_TEST_DATABASE_URL) {
    header(`database: DBOS_TEST_DATABASE_URL = ${redact(process.env.DBOS_TEST_DATABASE_URL)}`);
  } else if (process.env.DBOS_SYSTEM_DATABASE_URL) {
    const u = new URL(process.env.DBOS_SYSTEM_DATABASE_URL);
    u.pathname = '/postgres';
    env.DBOS_TEST_DATABASE_URL = u.toString();
    header(`database: the server of DBOS_SYSTEM_DATABASE_URL, ${redact(env.DBOS_TEST_DATABASE_URL)}`);
  } else {
    const modulePath = path.join(repo, 'dist', 'embedded-postgres.js');
    if (!fs.existsSync(modulePath)) {
      console.error(`run.mjs: ${path.relative(repo, modulePath)} is missing; build first (npm run build, or npx tsc -p tsconfig.json), or set DBOS_TEST_DATABASE_URL.`);
      return 1;
    }
    const { startEmbeddedPostgres } = require(modulePath);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-native-test-pg-'));
    const started = Date.now();
    try {
      const handle = await startEmbeddedPostgres({
        dataDir,
        port: await freePort(),
        ephemeral: true,
        postgresFlags: ['-c', 'max_connections=500'],
      });
      embedded = { handle, dataDir };
      env.DBOS_TEST_DATABASE_URL = handle.url;
      header(`database: throwaway embedded Postgres on 127.0.0.1:${handle.port} (data in ${dataDir}, ready in ${Date.now() - started} ms)`);
    } catch (e) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      console.error(`run.mjs: could not start the embedded Postgres: ${e.message}`);
      return 1;
    }
  }
  if (interrupted) return 130;

  // ---- 2. Rust tests
  if (skipCargo) {
    header('cargo test: skipped');
  } else {
    header('cargo test --release');
    const code = await runChild('cargo', ['test', '--release'], env);
    if (code !== 0) {
      failures.push(`cargo test (exit ${code})`);
      console.error(`run.mjs: cargo test FAILED (exit ${code})${interrupted ? '' : '; running the JS tests anyway'}`);
    }
  }
  if (interrupted) return 130;

  // ---- 3. compile the JS tests
  const tsconfig = path.join(repo, '__test__', 'tsconfig.json');
  const buildDir = path.join(repo, '__test__', 'build');
  header(`tsc -p ${path.relative(repo, tsconfig)}`);
  fs.rmSync(buildDir, { recursive: true, force: true }); // no stale tests from deleted sources
  const tscCode = await runChild(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', tsconfig], env);
  if (tscCode !== 0) failures.push(`tsc (exit ${tscCode})`);
  if (interrupted) return 130;

  // ---- 4. JS tests
  const testRoot = path.join(buildDir, '__test__');
  const all = findTestFiles(testRoot);
  const files = filters.length ? all.filter((f) => filters.some((x) => path.relative(testRoot, f).includes(x))) : all;
  if (files.length === 0) {
    header('node --test: no test files');
    console.error(
      `run.mjs: no compiled test files${filters.length ? ` match ${filters.join(', ')}` : ''} under ${path.relative(repo, testRoot)}` +
        (all.length ? ` (available: ${all.map((f) => path.relative(testRoot, f)).join(', ')})` : ''),
    );
    return 1;
  }
  const mode = process.env.DBOS_TEST_CONNECTION_MODE;
  let pgbouncer;
  if (mode) {
    const preload = path.join(testRoot, 'helpers', 'connection-mode.js');
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim();
    if (mode === 'pgbouncer') {
      try {
        const { startPgBouncer } = require(path.join(testRoot, 'helpers', 'pgbouncer.js'));
        pgbouncer = await startPgBouncer(env.DBOS_TEST_DATABASE_URL);
        env.DBOS_TEST_PGBOUNCER_PORT = String(pgbouncer.port);
      } catch (e) {
        console.error(`run.mjs: ${e.message}`);
        return 1;
      }
    }
  }
  header(`node --test (${files.length} file${files.length === 1 ? '' : 's'})${mode ? `, connection mode ${mode}` : ''}${failures.length ? ` — already failed: ${failures.join(', ')}` : ''}`);
  const nodeCode = await runChild(process.execPath, ['--test', '--test-reporter=spec', ...nodeTestFlags, ...files], env);
  await pgbouncer?.stop();
  if (nodeCode !== 0) failures.push(`node --test (exit ${nodeCode})`);
  if (interrupted) return 130;
  return failures.length ? 1 : 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  console.error('run.mjs:', e);
} finally {
  await stopEmbedded();
}
// Explicit exit: nothing (e.g. a stray handle) may keep us alive or change the status.
process.exit(interrupted ? 128 + (os.constants.signals[interrupted] ?? 2) : exitCode);
