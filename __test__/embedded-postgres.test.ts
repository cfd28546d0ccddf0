// The embedded Postgres server: first init, reuse of the data, reuse of a running server, port clashes, idempotent
// stop, servers orphaned by a SIGKILLed parent, and that the Node process neither hangs nor is blocked on stdio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../ts/embedded-postgres';
import { freePort } from './helpers/net';

const modulePath = path.join(__dirname, '..', 'ts', 'embedded-postgres.js');
let root: string;
const cleanups: (() => Promise<unknown>)[] = [];

before(() => {
  delete process.env['DBOS_EMBEDDED_PG_PORT']; // the tests choose their ports
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-epg-test-'));
  fs.chmodSync(root, 0o755); // when root, the server runs as `postgres`, which must be able to enter it
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

function track(h: EmbeddedPostgresHandle): EmbeddedPostgresHandle {
  cleanups.push(() => h.stop());
  return h;
}

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(path.join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function killTracked(pid: number): void {
  cleanups.push(async () => {
    if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  });
}

/** Runs `body` in a child Node process that has `startEmbeddedPostgres` in scope; resolves when all its stdio closes. */
function runChild(body: string, onLine?: (line: string) => void): Promise<{ code: number | null; out: string; ms: number }> {
  const script = `const { startEmbeddedPostgres } = require(${JSON.stringify(modulePath)});\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exitCode = 1; });`;
  const t0 = Date.now();
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (onLine) for (const line of text.split('\n')) if (line) onLine(line);
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - t0 });
    }),
  );
}

test('first start initialises, a restart reuses the data, a second start while running reuses the server', async () => {
  const dataDir = path.join(root, 'main');
  const port = await freePort();

  let t0 = Date.now();
  const first = track(await startEmbeddedPostgres({ dataDir, port }));
  const initMs = Date.now() - t0;
  assert.equal(first.startedHere, true);
  assert.equal(first.port, port);
  assert.match(first.url, new RegExp(`^postgresql://postgres:[^@]+@127\\.0\\.0\\.1:${port}/postgres$`));
  await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$hello$$)');
  const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { password: string };
  assert.equal(fs.statSync(path.join(dataDir, 'embedded-postgres.json')).mode & 0o077, 0, 'credentials file is private');
  assert.ok(state.password.length >= 24);
  assert.ok(first.url.includes(encodeURIComponent(state.password)));

  // A second start while it runs (another app process, or this one) reuses it.
  const second = await startEmbeddedPostgres({ dataDir });
  assert.equal(second.startedHere, false);
  assert.equal(second.url, first.url);
  await second.stop(); // not ours to stop
  assert.deepEqual(await query(first.url, 'SELECT v FROM kept'), [{ v: 'hello' }]);

  t0 = Date.now();
  await first.stop();
  const stopMs = Date.now() - t0;
  assert.equal(postmasterPid(dataDir), undefined, 'server removed its postmaster.pid');
  await first.stop(); // idempotent
  await assert.rejects(query(first.url, 'SELECT 1'));

  // Restart: no re-init (same credentials), the table is still there; the port is remembered.
  t0 = Date.now();
  const again = track(await startEmbeddedPostgres({ dataDir }));
  const restartMs = Date.now() - t0;
  assert.equal(again.startedHere, true);
  assert.equal(again.url, first.url);
  assert.deepEqual(await query(again.url, 'SELECT v FROM kept'), [{ v: 'hello' }]);
  await Promise.all([again.stop(), again.stop()]);
  await again.stop();
  console.log(`timings: first init+start ${initMs} ms, restart ${restartMs} ms, stop ${stopMs} ms`);
});

test('concurrent first starts of one data directory: one initialises and starts, the other reuses', async () => {
  const dataDir = path.join(root, 'concurrent');
  const port = await freePort();
  const handles = await Promise.all([startEmbeddedPostgres({ dataDir, port, ephemeral: true }), startEmbeddedPostgres({ dataDir, port, ephemeral: true })]);
  handles.forEach(track);
  assert.deepEqual(handles.map((h) => h.startedHere).sort(), [false, true]);
  assert.equal(handles[0].url, handles[1].url);
  await Promise.all(handles.map((h) => h.stop()));
});

test('as root, a cluster owned by another uid (e.g. a new container on an old volume) is re-owned', { skip: process.getuid?.() !== 0 }, async () => {
  const dataDir = path.join(root, 'reown');
  const h = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true });
  await h.stop();
  fs.rmSync(path.join(dataDir, 'pgdata', 'postmaster.pid'), { force: true });
  for (const f of fs.readdirSync(path.join(dataDir, 'pgdata'), { recursive: true }) as string[]) {
    fs.lchownSync(path.join(dataDir, 'pgdata', f), 65534, 65534);
  }
  fs.chownSync(path.join(dataDir, 'pgdata'), 65534, 65534);
  const h2 = track(await startEmbeddedPostgres({ dataDir, ephemeral: true }));
  assert.equal(h2.startedHere, true);
  await query(h2.url, 'SELECT 1');
  await h2.stop();
});

test('a port taken by another program gives a clear error', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as net.AddressInfo;
  try {
    const dataDir = path.join(root, 'busy');
    await assert.rejects(startEmbeddedPostgres({ dataDir, port, ephemeral: true }), (e: Error) => {
      assert.match(e.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(e.message, /`port` option/);
      assert.match(e.message, /DBOS_EMBEDDED_PG_PORT/);
      return true;
    });
    assert.equal(fs.existsSync(path.join(dataDir, 'pgdata')), false, 'nothing initialised for a port we cannot use');

    process.env['DBOS_EMBEDDED_PG_PORT'] = String(port);
    try {
      await assert.rejects(startEmbeddedPostgres({ dataDir, ephemeral: true }), new RegExp(`port ${port} `));
    } finally {
      delete process.env['DBOS_EMBEDDED_PG_PORT'];
    }
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

test('stop() returns promptly when the server already died', async () => {
  const dataDir = path.join(root, 'died');
  const h = track(await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true }));
  const pid = postmasterPid(dataDir);
  assert.ok(pid);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isRunning(pid), 5000, 'the server to die');
  await h.stop();
  // A stale postmaster.pid with a dead pid: the next start recovers.
  const h2 = track(await startEmbeddedPostgres({ dataDir, ephemeral: true }));
  assert.equal(h2.startedHere, true);
  await query(h2.url, 'SELECT 1');
  await h2.stop();
});

test('a server orphaned by a SIGKILLed parent is reused; once it is killed too, a new one starts', async () => {
  const dataDir = path.join(root, 'orphan');
  const port = await freePort();
  let childPid = 0;
  let serverPid = 0;
  const ready = new Promise<void>((resolve) => {
    void runChild(
      `const h = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port}, ephemeral: true });
       const { Client } = require('pg');
       const c = new Client({ connectionString: h.url }); await c.connect();
       await c.query('CREATE TABLE t AS SELECT 42 AS v'); await c.end();
       const pid = require('fs').readFileSync(${JSON.stringify(path.join(dataDir, 'pgdata', 'postmaster.pid'))}, 'utf8').split('\\n')[0];
       console.log('READY ' + process.pid + ' ' + pid);
       setInterval(() => {}, 1000);`,
      (line) => {
        const m = /^READY (\d+) (\d+)/.exec(line);
        if (m) {
          childPid = Number(m[1]);
          serverPid = Number(m[2]);
          resolve();
        }
      },
    ).then((r) => {
      if (!childPid) assert.fail(`child failed: ${r.out}`);
    });
  });
  await ready;
  killTracked(serverPid);
  process.kill(childPid, 'SIGKILL');
  await waitFor(() => !isRunning(childPid), 5000, 'the parent to die');
  assert.ok(isRunning(serverPid), 'the orphaned server is still running');

  const reused = await startEmbeddedPostgres({ dataDir, ephemeral: true });
  assert.equal(reused.startedHere, false);
  assert.equal(reused.port, port);
  assert.deepEqual(await query(reused.url, 'SELECT v FROM t'), [{ v: 42 }]);

  process.kill(serverPid, 'SIGKILL');
  await waitFor(() => !isRunning(serverPid), 5000, 'the orphan to die');
  const fresh = track(await startEmbeddedPostgres({ dataDir, ephemeral: true }));
  assert.equal(fresh.startedHere, true);
  assert.deepEqual(await query(fresh.url, 'SELECT v FROM t'), [{ v: 42 }], 'crash recovery kept committed data');
  await fresh.stop();
});

test('the Node process exits after stop(), and even without stop(); the server never holds our stdio', async () => {
  const withStop = path.join(root, 'exit-stop');
  const r1 = await runChild(
    `const h = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(withStop)}, port: ${await freePort()}, ephemeral: true });
     await h.stop(); console.log('STOPPED');`,
  );
  assert.equal(r1.code, 0, r1.out);
  assert.match(r1.out, /STOPPED/);
  assert.equal(postmasterPid(withStop), undefined);

  // Forgotten stop(): the process still exits by itself, and its exit hook shuts the server down.
  const noStop = path.join(root, 'exit-nostop');
  const r2 = await runChild(
    `const h = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(noStop)}, port: ${await freePort()}, ephemeral: true });
     console.log('STARTED ' + h.startedHere);`,
  );
  assert.equal(r2.code, 0, r2.out);
  assert.match(r2.out, /STARTED true/);
  const pid = postmasterPid(noStop);
  if (pid !== undefined) {
    killTracked(pid);
    await waitFor(() => !isRunning(pid), 10_000, 'the server to shut down after its parent exited');
  }
  assert.ok(r1.ms < 15_000 && r2.ms < 15_000);
});

test('SIGTERM to a process without its own handler stops the server and kills the process with SIGTERM', async () => {
  if (process.platform === 'win32') return;
  const dataDir = path.join(root, 'sigterm');
  let childPid = 0;
  const result = runChild(
    `const h = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${await freePort()}, ephemeral: true });
     console.log('UP ' + process.pid); setInterval(() => {}, 1000);`,
    (line) => {
      const m = /^UP (\d+)/.exec(line);
      if (m) {
        childPid = Number(m[1]);
        process.kill(childPid, 'SIGTERM');
      }
    },
  );
  const r = await result;
  assert.ok(childPid, r.out);
  assert.equal(r.code, null, 'died of the signal');
  assert.equal(postmasterPid(dataDir), undefined, 'server was stopped cleanly');
});

test('as root, a data directory the postgres user cannot enter gives a clear error', { skip: process.getuid?.() !== 0 }, async () => {
  const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-epg-closed-'));
  try {
    fs.chmodSync(closed, 0o700);
    await assert.rejects(startEmbeddedPostgres({ dataDir: path.join(closed, 'data'), port: await freePort() }), /cannot enter .*dbos-epg-closed-/);
  } finally {
    fs.rmSync(closed, { recursive: true, force: true });
  }
});
