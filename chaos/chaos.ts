// Chaos test of dbos-native (issue 5, reliability): N worker processes share one system database and run ~100
// long-lived "account" workflows (chaos/worker.ts); a driver sends thousands of messages to them with DBOSClient.send
// (some twice with the same idempotency key) while a killer SIGKILLs a random worker every few seconds and restarts
// it under the same executor ID, and (with --pg-restart) Postgres itself is restarted twice. One more worker is
// killed once, early in the window, and never comes back: the others take its workflows over (README, "A fleet of
// processes"), and they must finish like every other. At the end every
// workflow is stopped by a message and the invariants are checked from the database and through the API:
//   - every message was inserted once and consumed exactly once (dbos.notifications, DBOS.recv checkpoints);
//   - each account's result and its last `balance` event equal the sum of the amounts sent to it;
//   - the `applied` stream (written from workflow code) holds seq 1..k in order, no gap, no duplicate;
//   - no step ran again once its checkpoint was recorded (per-process step logs vs dbos.operation_outputs), and a
//     step ran more than once only where the process running it was killed, or it returned after a cancel of its
//     workflow (chaos/cancels.ts: accounts are cancelled right after a send and resumed 1.5 s later);
//   - nothing is left PENDING/ENQUEUED, and every workflow ended in SUCCESS;
//   - jobs enqueued meanwhile onto a queue with a global and a worker limit never exceeded either limit, and each
//     ran to completion once (again only after a kill of the process running it): chaos/queue-check.ts.
// Prints one summary line (`chaos: ... ok` or `chaos: ... FAILED`) as the last stdout line; exit 0 only if ok.
//
// Usage: npm run chaos [-- --short] [options]
//   --short                 the CI form (about a minute): 2 workers, fewer messages, a shorter chaos window
//   --workers N --workflows N --messages N --seconds S (chaos window) --seed N
//   --pg-restart / --no-pg-restart   restart Postgres during the run (default: on; needs the embedded server)
//   --pg-restarts N         how many restarts, alternately `pg_ctl restart -m fast` and stop/5 s down/start (default 2)
//   --kill-every MIN-MAX    ms between kills (default 3000-6000; short 2000-4000)
//   --cancel-rate P         share of sends followed by a cancel and a resume of their account (default 0.01; 0: none)
//   --queue-jobs N          jobs enqueued onto the limited queue during the window (chaos/queue-check.ts; default:
//                           short 200, long 600; 0: none)
//   --time-limit S          hard limit for the whole run (default: short 150, long 900)
//   --keep                  keep the work directory (step logs, worker stderr) even when the run passes
//   --no-lost-worker        no extra worker killed for good (default: one, killed at 30% of the window)
// Database: a throwaway embedded Postgres (deleted at the end), or, if DBOS_SYSTEM_DATABASE_URL is set, a fresh
// database `dbos_chaos_<pid>` on that server (dropped at the end; no Postgres restarts then).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { Client } from 'pg';
import { deserialize } from 'superjson';
import { DBOSClient } from 'dbos-native';
import type * as EmbeddedPg from '../dist/embedded-postgres';
import {
  APP_NAME,
  EVENT_KEY,
  STEP_NAME,
  STREAM_KEY,
  TOPIC,
  accountID,
  executorID,
  parseStepLog,
  queueLogOf,
  QUEUE_GLOBAL,
  QUEUE_WORKER,
  type AccountResult,
  type Applied,
  type Op,
  type StepLogEntry,
  type WorkerMessage,
} from './common';
import { Canceller, cancelExplains, type Cancel, type Outage } from './cancels';
import { QueueChaos, checkQueue } from './queue-check';

const repo = path.resolve(__dirname, '..', '..');
const workerScript = path.join(__dirname, 'worker.js');
const t0 = Date.now();

// ------------------------------------------------------------------------------------------------ options

interface Options {
  short: boolean;
  workers: number;
  workflows: number;
  messages: number;
  dupRate: number;
  chaosSeconds: number;
  killMinMs: number;
  killMaxMs: number;
  pauseMinMs: number;
  pauseMaxMs: number;
  pgRestart: boolean;
  pgRestartExplicit: boolean;
  /** How many Postgres restarts (alternately fast restart and stop/start). */
  pgRestarts: number;
  seed: number;
  cancelRate: number;
  queueJobs: number;
  timeLimitS: number;
  drainSeconds: number;
  keep: boolean;
  /** One more worker, killed once and never restarted (its workflows are taken over). */
  lostWorker: boolean;
}

function usage(msg: string): never {
  process.stderr.write(`chaos: ${msg}\nUsage: npm run chaos [-- --short] [--workers N] [--workflows N] [--messages N] [--seconds S] [--seed N] [--pg-restart|--no-pg-restart] [--pg-restarts N] [--kill-every MIN-MAX] [--time-limit S] [--keep] [--no-lost-worker]\n`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const short = argv.includes('--short');
  const o: Options = {
    short,
    workers: short ? 2 : 3,
    workflows: 100,
    messages: short ? 3000 : 8000,
    dupRate: 0.1,
    chaosSeconds: short ? 45 : 150,
    killMinMs: short ? 2000 : 3000,
    killMaxMs: short ? 4000 : 6000,
    pauseMinMs: 300,
    pauseMaxMs: 1500,
    pgRestart: true,
    pgRestartExplicit: false,
    pgRestarts: 2,
    seed: Date.now() % 2_147_483_647,
    cancelRate: 0.01,
    queueJobs: short ? 200 : 600,
    timeLimitS: short ? 150 : 900,
    drainSeconds: short ? 60 : 180,
    keep: false,
    lostWorker: true,
  };
  const int = (v: string | undefined, name: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${name} needs an integer >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--short':
        break;
      case '--workers':
        o.workers = int(argv[++i], a, 2);
        break;
      case '--workflows':
        o.workflows = int(argv[++i], a, 1);
        break;
      case '--messages':
        o.messages = int(argv[++i], a, 1);
        break;
      case '--seconds':
        o.chaosSeconds = int(argv[++i], a, 5);
        break;
      case '--seed':
        o.seed = int(argv[++i], a, 0);
        break;
      case '--time-limit':
        o.timeLimitS = int(argv[++i], a, 10);
        break;
      case '--pg-restart':
        o.pgRestart = true;
        o.pgRestartExplicit = true;
        break;
      case '--pg-restarts':
        o.pgRestarts = int(argv[++i], a, 1);
        o.pgRestart = true;
        break;
      case '--no-pg-restart':
        o.pgRestart = false;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--no-lost-worker':
        o.lostWorker = false;
        break;
      case '--queue-jobs':
        o.queueJobs = int(argv[++i], a, 0);
        break;
      case '--cancel-rate': {
        const rate = Number(argv[++i]);
        if (!(rate >= 0 && rate <= 1)) usage('--cancel-rate needs a number from 0 to 1');
        o.cancelRate = rate;
        break;
      }
      case '--kill-every': {
        const m = /^(\d+)-(\d+)$/.exec(argv[++i] ?? '');
        if (!m) usage('--kill-every needs MIN-MAX (milliseconds)');
        o.killMinMs = Number(m[1]);
        o.killMaxMs = Math.max(o.killMinMs, Number(m[2]));
        break;
      }
      default:
        usage(`unknown option ${a}`);
    }
  }
  return o;
}

// ------------------------------------------------------------------------------------------------ utilities

function log(line: string): void {
  process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${redact(line)}\n`);
}

/** Never print credentials: mask the password of anything that looks like a connection URL. */
function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:@/\s]*:)[^@\s]*@/gi, '$1***@');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Seeded PRNG (mulberry32), so a run's message plan and kill choices can be replayed with --seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return `${e.constructor.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${e.message}`;
  }
  return String(e);
}

/** Runs `tasks` with at most `concurrency` in flight. */
async function pool(tasks: (() => Promise<void>)[], concurrency: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const t = tasks[next++];
      if (t) await t();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, lane));
}

/** Decodes a stored value (js_superjson envelope, or plain JSON). */
function decodeStored(text: string | null): unknown {
  if (text === null) return null;
  const v = JSON.parse(text) as unknown;
  if (v !== null && typeof v === 'object' && (v as Record<string, unknown>)['__dbos_serializer'] === 'superjson') {
    const env = v as { json: Parameters<typeof deserialize>[0]['json']; meta?: Parameters<typeof deserialize>[0]['meta'] };
    return deserialize({ json: env.json, meta: env.meta });
  }
  return v;
}

function isOp(v: unknown): v is Op {
  return v !== null && typeof v === 'object' && typeof (v as Op).seq === 'number' && typeof (v as Op).amount === 'number';
}

/** Distinct error texts seen during the run, with where and how often (reported when the run fails). */
class ErrorBook {
  private readonly seen = new Map<string, { count: number; first: number }>();
  add(source: string, text: string): void {
    const key = `${source}: ${redact(text).replace(/\s+/g, ' ').slice(0, 300)}`;
    const e = this.seen.get(key);
    if (e) e.count++;
    else this.seen.set(key, { count: 1, first: Date.now() - t0 });
  }
  get size(): number {
    return this.seen.size;
  }
  lines(max: number): string[] {
    return [...this.seen.entries()]
      .sort((a, b) => a[1].first - b[1].first)
      .slice(0, max)
      .map(([k, v]) => `  [first at ${(v.first / 1000).toFixed(1)}s, x${v.count}] ${k}`);
  }
}

// ------------------------------------------------------------------------------------------------ database

interface Database {
  /** URL of the system database the workers and clients use. */
  url: string;
  /** URL of the server's `postgres` database (admin connection). */
  adminUrl: string;
  canRestart: boolean;
  restartFast(): Promise<void>;
  stopThenStart(pauseMs: number): Promise<void>;
  cleanup(): Promise<void>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function pgCtlPath(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const req = createRequire(path.join(repo, 'package.json'));
  try {
    const entry = createRequire(req.resolve('embedded-postgres')).resolve(pkg);
    return path.join(path.dirname(entry), '..', 'native', 'bin', 'pg_ctl');
  } catch {
    return path.join(repo, 'node_modules', pkg, 'native', 'bin', 'pg_ctl');
  }
}

function runProcess(cmd: string, args: string[], opts: { uid?: number; gid?: number; timeoutMs: number }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
      });
    } catch (e) {
      resolve({ code: -1, output: errorText(e) });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, output: output + errorText(e) });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = await runProcess('id', ['-u', 'postgres'], { timeoutMs: 5000 });
  const gid = await runProcess('id', ['-g', 'postgres'], { timeoutMs: 5000 });
  if (uid.code !== 0 || gid.code !== 0) throw new Error('running as root but there is no `postgres` user to run pg_ctl as');
  return { uid: Number(uid.output), gid: Number(gid.output) };
}

async function embeddedDatabase(): Promise<Database> {
  const modulePath = path.join(repo, 'dist', 'embedded-postgres.js');
  if (!fs.existsSync(modulePath)) throw new Error('dist/embedded-postgres.js is missing: build first (npm run build)');
  const epg = require(modulePath) as typeof EmbeddedPg;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-chaos-pg-'));
  const pgdata = path.join(dataDir, 'pgdata');
  const port = await freePort();
  const startOpts: EmbeddedPg.EmbeddedPostgresOptions = { dataDir, port, ephemeral: true, postgresFlags: ['-c', 'max_connections=300'] };
  let handle: EmbeddedPg.EmbeddedPostgresHandle;
  try {
    handle = await epg.startEmbeddedPostgres(startOpts);
  } catch (e) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const adminUrl = handle.url;
  const url = withDatabase(adminUrl, 'dbos_chaos');
  await adminQuery(adminUrl, 'CREATE DATABASE dbos_chaos');
  const pgCtl = pgCtlPath();
  const runAs = await postgresUser();
  const pgctl = async (args: string[]): Promise<void> => {
    // The log goes inside pgdata: it is owned by the server's user (root cannot hand pg_ctl a file it may write).
    const r = await runProcess(pgCtl, [...args, '-D', pgdata, '-w', '-t', '60'], { ...(runAs ?? {}), timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`pg_ctl ${args.join(' ')} failed (exit ${r.code}): ${r.output.split('\n').slice(-5).join(' | ')}`);
  };
  log(`embedded Postgres on 127.0.0.1:${port} (data in ${dataDir})`);
  return {
    url,
    adminUrl,
    canRestart: true,
    // The first restart is done by pg_ctl, which starts a new postmaster from postmaster.opts (same flags); that
    // server is not our child, so cleanup also runs `pg_ctl stop` if a server is still up.
    restartFast: () => pgctl(['restart', '-m', 'fast', '-l', path.join(pgdata, 'pg_ctl.log')]),
    stopThenStart: async (pauseMs: number) => {
      await pgctl(['stop', '-m', 'fast']);
      await sleep(pauseMs);
      handle = await epg.startEmbeddedPostgres(startOpts);
    },
    cleanup: async () => {
      try {
        await handle.stop();
      } catch (e) {
        log(`stopping the embedded Postgres failed: ${errorText(e)}`);
      }
      if (fs.existsSync(path.join(pgdata, 'postmaster.pid'))) {
        await pgctl(['stop', '-m', 'immediate']).catch((e: unknown) => log(`pg_ctl stop at cleanup: ${errorText(e)}`));
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function externalDatabase(serverUrl: string): Promise<Database> {
  const adminUrl = withDatabase(serverUrl, 'postgres');
  const name = `dbos_chaos_${process.pid}`;
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  log(`database ${name} on the server of DBOS_SYSTEM_DATABASE_URL`);
  const unsupported = () => Promise.reject(new Error('cannot restart an external Postgres server'));
  return {
    url: withDatabase(serverUrl, name),
    adminUrl,
    canRestart: false,
    restartFast: unsupported,
    stopThenStart: unsupported,
    cleanup: async () => {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e: unknown) => log(`dropping ${name}: ${errorText(e)}`));
    },
  };
}

/** How many of `ids` are not in a terminal state (missing rows count). */
async function unfinished(url: string, ids: string[]): Promise<number> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    const r = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[]) AND status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')",
      [ids],
    );
    return ids.length - Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Waits until the database answers a query (bounded). */
async function waitForDatabase(url: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      await sleep(250);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return false;
}

// ------------------------------------------------------------------------------------------------ workers

interface Proc {
  slot: WorkerSlot;
  instance: number;
  child: ChildProcess;
  stepLog: string;
  ready: boolean;
  exited: boolean;
  /** SIGKILLed by the killer (or by cleanup). */
  killed: boolean;
  /** Sent SIGTERM at the end of the run. */
  terminated: boolean;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** When its exit was seen (the limited-queue check ends a step cut by a kill there). */
  exitedAt: number | undefined;
  exit: Promise<void>;
  stderrTail: string[];
}

interface Run {
  opts: Options;
  workDir: string;
  db: Database;
  phase: 'chaos' | 'final' | 'check' | 'cleanup';
  slots: WorkerSlot[];
  procs: Proc[];
  errors: ErrorBook;
  kills: number;
  /** When Postgres was down or restarting. */
  outages: Outage[];
  crashes: string[];
  respawnsAfterCrash: number;
  launchRetries: number;
  deadline: number;
}

const MAX_CRASH_RESPAWNS = 30;

class WorkerSlot {
  instances = 0;
  startedAll = false;
  /** The slot killed for good: the killer spares it until `loseWorker` kills it, then it stays down. */
  doomed = false;
  lost = false;
  proc: Proc | undefined;
  done: Extract<WorkerMessage, { kind: 'done' }> | undefined;

  constructor(
    readonly run: Run,
    readonly n: number,
    readonly accounts: string[],
  ) {}

  get executor(): string {
    return executorID(this.n);
  }

  get alive(): boolean {
    return this.proc !== undefined && !this.proc.exited;
  }

  spawn(): Proc {
    const run = this.run;
    const instance = ++this.instances;
    const name = `${this.executor}-${instance}`;
    const stepLog = path.join(run.workDir, `${name}.steps.log`);
    const stderrFile = path.join(run.workDir, `${name}.stderr.log`);
    const child = spawn(process.execPath, [workerScript], {
      cwd: repo,
      env: {
        ...process.env,
        DBOS_SYSTEM_DATABASE_URL: run.db.url,
        CHAOS_EXECUTOR: this.executor,
        CHAOS_ACCOUNTS: this.accounts.join(','),
        CHAOS_START: this.startedAll ? '0' : '1',
        CHAOS_STEP_LOG: stepLog,
        CHAOS_RECV_TIMEOUT_S: '60',
        CHAOS_DEADLINE: String(run.deadline),
        CHAOS_QUEUE_LOG: queueLogOf(stepLog),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let resolveExit: () => void = () => undefined;
    const proc: Proc = {
      slot: this,
      instance,
      child,
      stepLog,
      ready: false,
      exited: false,
      killed: false,
      terminated: false,
      exitCode: null,
      exitSignal: null,
      exitedAt: undefined,
      exit: new Promise<void>((r) => (resolveExit = r)),
      stderrTail: [],
    };
    this.proc = proc;
    run.procs.push(proc);

    let outBuf = '';
    child.stdout?.on('data', (d: Buffer) => {
      outBuf += d.toString();
      let i: number;
      while ((i = outBuf.indexOf('\n')) >= 0) {
        const line = outBuf.slice(0, i);
        outBuf = outBuf.slice(i + 1);
        let m: WorkerMessage;
        try {
          m = JSON.parse(line) as WorkerMessage;
        } catch {
          continue;
        }
        if (m.kind === 'ready') proc.ready = true;
        else if (m.kind === 'started') this.startedAll = true;
        else if (m.kind === 'done') this.done = m;
      }
    });
    const stderrFd = fs.openSync(stderrFile, 'a');
    let errBuf = '';
    child.stderr?.on('data', (d: Buffer) => {
      fs.writeSync(stderrFd, d);
      errBuf += d.toString();
      let i: number;
      while ((i = errBuf.indexOf('\n')) >= 0) {
        const line = errBuf.slice(0, i);
        errBuf = errBuf.slice(i + 1);
        proc.stderrTail.push(line);
        if (proc.stderrTail.length > 30) proc.stderrTail.shift();
        // Only lines that report something going wrong (stack frames are skipped: the message line says it).
        if (/DBOS\.launch failed/.test(line)) run.launchRetries++;
        if (/error|fail|panic|refused|terminat|closed|reset/i.test(line) && !/^\s+at /.test(line)) {
          run.errors.add(`worker stderr (${this.executor})`, line.replace(/\(attempt \d+\)/, '(attempt N)').replace(/chaos-acct-\d+/g, 'chaos-acct-NNN'));
        }
      }
    });
    child.once('exit', (code, signal) => {
      proc.exited = true;
      proc.exitCode = code;
      proc.exitSignal = signal;
      proc.exitedAt = Date.now();
      try {
        fs.closeSync(stderrFd);
      } catch {
        // already closed
      }
      resolveExit();
      this.onExit(proc);
    });
    return proc;
  }

  private onExit(proc: Proc): void {
    const run = this.run;
    if (proc.killed || run.phase === 'cleanup') return;
    if (proc.terminated && proc.exitCode === 0) return; // the end of the run
    const what = `${this.executor} instance ${proc.instance} exited by itself (code ${proc.exitCode}, signal ${proc.exitSignal}, ${proc.ready ? "after" : "before"} its launch completed); stderr tail: ${proc.stderrTail.slice(-6).join(' | ')}`;
    run.crashes.push(what);
    log(`CRASH: ${what}`);
    if (run.phase === 'check' || run.respawnsAfterCrash >= MAX_CRASH_RESPAWNS || Date.now() > run.deadline) return;
    run.respawnsAfterCrash++;
    setTimeout(() => {
      if (!this.alive && this.run.phase !== 'cleanup' && this.run.phase !== 'check') this.spawn();
    }, 1000);
  }

  /** SIGTERM (the worker shuts DBOS down and exits 0); true if it did so in time. */
  async terminate(timeoutMs: number): Promise<boolean> {
    const p = this.proc;
    if (!p || p.exited) return p?.exitCode === 0;
    p.terminated = true;
    p.child.kill('SIGTERM');
    const inTime = await Promise.race([p.exit.then(() => true), sleep(timeoutMs).then(() => false)]);
    return inTime && p.exitCode === 0;
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exited) return;
    p.killed = true;
    p.child.kill('SIGKILL');
    await p.exit;
  }
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${errorText(last)})` : ''}`);
    await sleep(100);
  }
}

// ------------------------------------------------------------------------------------------------ message plan

interface Planned {
  account: number;
  seq: number;
  amount: number;
  /** Resend with the same key right after the first send. */
  dupNow: boolean;
  /** Resend with the same key this many waves later (0: no). */
  dupLater: number;
}

interface Plan {
  /** waves[w] = the messages sent in wave w: at most one new message per account, in seq order across waves. */
  waves: Planned[][];
  /** Delayed duplicates, by the wave they are sent in. */
  laterDups: Planned[][];
  perAccount: Planned[][];
  total: number;
  dupSends: number;
}

function makePlan(opts: Options, rand: () => number): Plan {
  const perAccount: Planned[][] = Array.from({ length: opts.workflows }, () => []);
  let dupSends = 0;
  for (let i = 0; i < opts.messages; i++) {
    const account = Math.floor(rand() * opts.workflows);
    const list = perAccount[account]!;
    const dup = rand() < opts.dupRate;
    const dupNow = dup && rand() < 0.5;
    const p: Planned = { account, seq: list.length + 1, amount: Math.floor(rand() * 1201) - 200, dupNow, dupLater: dup && !dupNow ? 1 + Math.floor(rand() * 3) : 0 };
    if (dup) dupSends++;
    list.push(p);
  }
  const waveCount = Math.max(...perAccount.map((l) => l.length));
  const waves: Planned[][] = Array.from({ length: waveCount }, (_, w) => perAccount.flatMap((l) => (l[w] ? [l[w]] : [])));
  const laterDups: Planned[][] = Array.from({ length: waveCount }, () => []);
  for (const l of perAccount) for (const p of l) if (p.dupLater) laterDups[Math.min(waveCount - 1, p.seq - 1 + p.dupLater)]!.push(p);
  for (const w of waves) shuffle(w, rand);
  return { waves, laterDups, perAccount, total: opts.messages, dupSends };
}

function shuffle<T>(a: T[], rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

function messageKey(account: string, seq: number): string {
  return `m-${account}-${seq}`;
}

// ------------------------------------------------------------------------------------------------ the driver

class Sender {
  private client: DBOSClient | undefined;
  sends = 0;
  retries = 0;
  clientsRecreated = 0;
  failed: string[] = [];
  /** Told of each successful send. */
  onSent: (dest: string) => void = () => undefined;

  constructor(
    private readonly run: Run,
  ) {}

  private async get(): Promise<DBOSClient> {
    this.client ??= await DBOSClient.create({ systemDatabaseUrl: this.run.db.url });
    return this.client;
  }

  /** Sends with retries on any error (safe: every message has an idempotency key). Bounded by time. */
  async send(dest: string, op: Op, key: string): Promise<boolean> {
    const end = Math.min(Date.now() + 120_000, this.run.deadline);
    let delay = 100;
    let failingSince: number | undefined;
    for (;;) {
      try {
        const c = await this.get();
        await c.send(dest, op, TOPIC, key);
        this.sends++;
        this.onSent(dest);
        return true;
      } catch (e) {
        this.retries++;
        this.run.errors.add('driver DBOSClient.send', errorText(e).replace(/chaos-acct-\d+/g, 'chaos-acct-NNN'));
        failingSince ??= Date.now();
        if (Date.now() > end) {
          this.failed.push(`${key}: ${errorText(e)}`);
          return false;
        }
        // A client whose sends keep failing while the server answers a fresh connection is replaced (and reported).
        if (Date.now() - failingSince > 15_000 && (await waitForDatabase(this.run.db.url, 1000))) {
          this.clientsRecreated++;
          this.run.errors.add('driver', 'DBOSClient kept failing for 15 s while Postgres accepted new connections; created a new client');
          await this.destroy();
          failingSince = Date.now();
        }
        await sleep(delay);
        delay = Math.min(2000, delay * 2);
      }
    }
  }

  async destroy(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.destroy().catch(() => undefined);
  }
}

async function sendPlan(run: Run, sender: Sender, plan: Plan, ids: string[], windowEnd: number): Promise<void> {
  const start = Date.now();
  const interval = (windowEnd - start) / Math.max(1, plan.waves.length);
  for (let w = 0; w < plan.waves.length && Date.now() < run.deadline; w++) {
    await sleep(start + w * interval - Date.now());
    const tasks: (() => Promise<void>)[] = [];
    for (const p of plan.waves[w]!) {
      const id = ids[p.account]!;
      const op: Op = { seq: p.seq, amount: p.amount };
      tasks.push(async () => {
        await sender.send(id, op, messageKey(id, p.seq));
        if (p.dupNow) await sender.send(id, op, messageKey(id, p.seq));
      });
    }
    for (const p of plan.laterDups[w]!) {
      const id = ids[p.account]!;
      tasks.push(async () => void (await sender.send(id, { seq: p.seq, amount: p.amount }, messageKey(id, p.seq))));
    }
    await pool(tasks, 8);
    // Wave barrier plus a gap: recv is FIFO by the server's created_at_epoch_ms (ties arbitrary), so the next
    // message to an account must be inserted in a later millisecond than the previous one.
    await sleep(3);
  }
}

async function killer(run: Run, rand: () => number, until: number): Promise<void> {
  const { opts } = run;
  for (let i = 0; i < 10_000; i++) {
    const wait = opts.killMinMs + rand() * (opts.killMaxMs - opts.killMinMs);
    if (Date.now() + wait > until) return;
    await sleep(wait);
    const alive = run.slots.filter((s) => s.alive && !s.doomed);
    const slot = alive[Math.floor(rand() * alive.length)];
    if (!slot) continue;
    await slot.kill();
    run.kills++;
    log(`killed ${slot.executor} (instance ${slot.instances})`);
    await sleep(opts.pauseMinMs + rand() * (opts.pauseMaxMs - opts.pauseMinMs));
    if (!slot.alive) slot.spawn();
  }
}

/** Kills the doomed slot once, at `at` and once its workflows all exist; it is never restarted. */
async function loseWorker(run: Run, at: number): Promise<void> {
  const slot = run.slots.find((s) => s.doomed);
  if (!slot) return;
  await sleep(at - Date.now());
  await waitUntil('the doomed worker to start its workflows', () => slot.startedAll && slot.alive, 90_000);
  slot.lost = true;
  await slot.kill();
  run.kills++;
  log(`killed ${slot.executor} for good: the others must take its ${slot.accounts.length} workflows over`);
}

/** Postgres restarts spread over the window, alternately `pg_ctl restart -m fast` and stop / 5 s down / start. */
async function pgChaos(run: Run, windowStart: number, windowEnd: number, counters: { pgRestarts: number }): Promise<void> {
  const span = windowEnd - windowStart;
  const n = run.opts.pgRestarts;
  try {
    for (let i = 0; i < n; i++) {
      await sleep(windowStart + (span * 0.9 * (i + 1)) / (n + 1) - Date.now());
      const down = Date.now();
      if (i % 2 === 0) {
        log('Postgres: pg_ctl restart -m fast');
        await run.db.restartFast();
        log('Postgres: back');
      } else {
        log('Postgres: pg_ctl stop -m fast, 5 s down');
        await run.db.stopThenStart(5000);
        log('Postgres: started again');
      }
      run.outages.push([down, Date.now()]);
      counters.pgRestarts++;
    }
  } catch (e) {
    run.errors.add('harness pg restart', errorText(e));
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------ the checker

interface Check {
  violations: string[];
  consumed: number;
  lost: number;
  /** Messages left unconsumed because their workflow did not end in SUCCESS. */
  stranded: number;
  /** Full stack of the first failed workflow's error (printed once). */
  firstStack: string;
  duplicated: number;
  badBalance: number;
  badEvent: number;
  badStream: number;
  stepRuns: number;
  stepReruns: number;
  /** Reruns of steps that returned after a cancel of their workflow. */
  cancelReruns: number;
  badReruns: number;
  pending: number;
  notSuccess: number;
}

interface ProcInfo {
  name: string;
  /** Died without finishing: SIGKILLed by the killer, or crashed. */
  died: boolean;
}

async function check(run: Run, plan: Plan, ids: string[], sent: Map<string, Set<number>>, cancels: Map<string, Cancel[]>): Promise<Check> {
  const r: Check = { violations: [], consumed: 0, lost: 0, stranded: 0, firstStack: '', duplicated: 0, badBalance: 0, badEvent: 0, badStream: 0, stepRuns: 0, stepReruns: 0, cancelReruns: 0, badReruns: 0, pending: 0, notSuccess: 0 };
  const v = (kind: string, msg: string) => {
    if (r.violations.filter((x) => x.startsWith(kind)).length < 8) r.violations.push(`${kind}: ${msg}`);
    else if (r.violations.filter((x) => x.startsWith(kind)).length === 8) r.violations.push(`${kind}: (more not shown)`);
  };
  if (!(await waitForDatabase(run.db.url, 60_000))) {
    v('database', 'not reachable for 60 s at check time');
    return r;
  }
  const db = new Client({ connectionString: run.db.url });
  await db.connect();
  const client = await DBOSClient.create({ systemDatabaseUrl: run.db.url });
  try {
    // ---- statuses
    const statusRows = (
      await db.query<{ workflow_uuid: string; status: string; name: string; executor_id: string; recovery_attempts: string; completed_at: string | null }>(
        'SELECT workflow_uuid, status, name, executor_id, recovery_attempts, completed_at FROM dbos.workflow_status WHERE application_name = $1 OR workflow_uuid = ANY($2::text[])',
        [APP_NAME, ids],
      )
    ).rows;
    const status = new Map(statusRows.map((s) => [s.workflow_uuid, s]));
    for (const s of statusRows) {
      if (s.status === 'PENDING' || s.status === 'ENQUEUED') {
        r.pending++;
        v('pending', `${s.workflow_uuid} is still ${s.status} (executor ${s.executor_id})`);
      }
    }
    const errRows = (await db.query<{ workflow_uuid: string; error: string | null }>('SELECT workflow_uuid, error FROM dbos.workflow_output WHERE workflow_uuid = ANY($1::text[]) AND error IS NOT NULL', [ids])).rows;
    const errOf = new Map(errRows.map((e) => [e.workflow_uuid, e.error]));
    let firstStack = '';
    for (const id of ids) {
      const s = status.get(id);
      if (s?.status !== 'SUCCESS') {
        r.notSuccess++;
        const err = errOf.get(id);
        let detail = '';
        if (err) {
          const e = decodeStored(err);
          const o = (e ?? {}) as { name?: unknown; message?: unknown; dbosErrorCode?: unknown; stack?: unknown };
          detail = `: ${String(o.name)}${o.dbosErrorCode !== undefined ? ` (dbosErrorCode ${String(o.dbosErrorCode)})` : ''}: ${String(o.message)}`;
          run.errors.add('workflow ERROR outcome', detail.replace(/chaos-acct-\d+/g, 'chaos-acct-NNN'));
          if (typeof o.stack === 'string' && !firstStack) firstStack = `${id}: ${o.stack}`;
        }
        // Where it stopped: its last checkpoints (the operation after them is the one that failed).
        const last = (
          await db.query<{ function_id: number; function_name: string; error: string | null }>(
            'SELECT function_id, function_name, error FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id DESC LIMIT 3',
            [id],
          )
        ).rows;
        const trail = last
          .reverse()
          .map((x) => `${x.function_id}:${x.function_name}${x.error ? '(error)' : ''}`)
          .join(' ');
        const cancelled = (cancels.get(id) ?? []).map((c) => `${c.at}->${c.resumedAt}`).join(', ');
        v('workflow', `${id} ended ${s?.status ?? 'MISSING'} at ${s?.completed_at}${detail}; last checkpoints ${trail || 'none'}${cancelled ? `; cancelled and resumed at ${cancelled}` : ''}`);
      }
    }

    r.firstStack = firstStack;

    // ---- notifications and recv checkpoints
    const notes = (
      await db.query<{ destination_uuid: string; message_uuid: string; message: string; consumed: boolean; consumed_by_function_id: number | null; topic: string }>(
        'SELECT destination_uuid, message_uuid, message, consumed, consumed_by_function_id, topic FROM dbos.notifications WHERE destination_uuid = ANY($1::text[])',
        [ids],
      )
    ).rows;
    const outs = (
      await db.query<{ workflow_uuid: string; function_id: number; function_name: string; output: string | null; error: string | null; completed_at_epoch_ms: string | null }>(
        "SELECT workflow_uuid, function_id, function_name, output, error, completed_at_epoch_ms FROM dbos.operation_outputs WHERE workflow_uuid = ANY($1::text[]) AND function_name IN ('DBOS.recv', $2)",
        [ids, STEP_NAME],
      )
    ).rows;
    const notesBy = new Map<string, typeof notes>();
    for (const n of notes) (notesBy.get(n.destination_uuid) ?? notesBy.set(n.destination_uuid, []).get(n.destination_uuid)!).push(n);
    const outsBy = new Map<string, typeof outs>();
    for (const o of outs) (outsBy.get(o.workflow_uuid) ?? outsBy.set(o.workflow_uuid, []).get(o.workflow_uuid)!).push(o);

    // ---- step logs
    const procInfo = new Map<string, ProcInfo>();
    const execs = new Map<string, (StepLogEntry & { proc: string })[]>();
    for (const p of run.procs) {
      const name = `${p.slot.executor}-${p.instance}`;
      procInfo.set(name, { name, died: !(p.terminated && p.exitCode === 0) });
      if (!fs.existsSync(p.stepLog)) continue;
      for (const e of parseStepLog(fs.readFileSync(p.stepLog, 'utf8'))) {
        const k = `${e.workflowID}#${e.functionID}`;
        (execs.get(k) ?? execs.set(k, []).get(k)!).push({ ...e, proc: name });
        r.stepRuns++;
      }
    }

    for (let a = 0; a < ids.length; a++) {
      const id = ids[a]!;
      const planned = plan.perAccount[a]!;
      const k = planned.length;
      const expected = planned.reduce((s, p) => s + p.amount, 0);
      const sentSeqs = sent.get(id) ?? new Set<number>();
      const succeeded = status.get(id)?.status === 'SUCCESS';

      // notifications: one row per key (k messages + the stop message), each consumed once
      const rows = (notesBy.get(id) ?? []).filter((n) => n.topic === TOPIC);
      const bySeq = new Map<number, typeof rows>();
      for (const n of rows) {
        const op = decodeStored(n.message);
        if (!isOp(op)) {
          v('notification', `${id}: undecodable message ${n.message.slice(0, 100)}`);
          continue;
        }
        (bySeq.get(op.seq) ?? bySeq.set(op.seq, []).get(op.seq)!).push(n);
      }
      for (let seq = 1; seq <= k + 1; seq++) {
        const rs = bySeq.get(seq) ?? [];
        if (rs.length === 0) {
          if (sentSeqs.has(seq)) {
            r.lost++;
            v('lost', `${id} seq ${seq}: DBOSClient.send succeeded but there is no notifications row`);
          } else v('harness', `${id} seq ${seq} was never sent (the send kept failing)`);
        } else if (rs.length > 1) {
          r.duplicated += rs.length - 1;
          v('duplicated', `${id} seq ${seq}: ${rs.length} notifications rows (keys ${rs.map((x) => x.message_uuid).join(', ')})`);
        }
        for (const n of rs) {
          if (!n.consumed || n.consumed_by_function_id === null) {
            if (succeeded) {
              r.lost++;
              v('lost', `${id} seq ${seq}: message ${n.message_uuid} never consumed`);
            } else r.stranded++;
          }
        }
      }

      // DBOS.recv checkpoints: each seq received exactly once, in order
      const o = (outsBy.get(id) ?? []).sort((x, y) => x.function_id - y.function_id);
      const recvs = o.filter((x) => x.function_name === 'DBOS.recv' && x.output !== null);
      const recvCount = new Map<number, number>();
      const recvSeqs: number[] = [];
      for (const rc of recvs) {
        const op = decodeStored(rc.output);
        if (!isOp(op)) {
          v('recv', `${id} fn ${rc.function_id}: undecodable recv output`);
          continue;
        }
        recvCount.set(op.seq, (recvCount.get(op.seq) ?? 0) + 1);
        recvSeqs.push(op.seq);
        const note = (bySeq.get(op.seq) ?? []).find((n) => n.consumed_by_function_id === rc.function_id);
        if (!note) v('recv', `${id} fn ${rc.function_id} received seq ${op.seq}, but no notifications row says consumed_by_function_id=${rc.function_id}`);
      }
      for (let seq = 1; seq <= k + 1; seq++) {
        const c = recvCount.get(seq) ?? 0;
        if (c === 1) {
          if (seq <= k) r.consumed++;
        } else if (c === 0) {
          if (!succeeded) continue; // counted as stranded above
          r.lost++;
          v('lost', `${id} seq ${seq}${seq === k + 1 ? ' (stop)' : ''}: no DBOS.recv checkpoint received it`);
        } else {
          r.duplicated += c - 1;
          v('duplicated', `${id} seq ${seq}: received by ${c} DBOS.recv checkpoints`);
        }
      }
      if (recvSeqs.some((s, i) => i > 0 && s <= recvSeqs[i - 1]!)) v('order', `${id}: messages received out of order: ${recvSeqs.slice(0, 30).join(',')}`);

      // result and last event
      if (status.get(id)?.status === 'SUCCESS') {
        try {
          const res = await client.retrieveWorkflow<AccountResult>(id).getResult();
          if (res.balance !== expected || res.applied !== k || res.lastSeq !== k) {
            r.badBalance++;
            v('balance', `${id}: result ${JSON.stringify(res)}, expected balance ${expected}, applied ${k}`);
          }
        } catch (e) {
          r.badBalance++;
          v('balance', `${id}: getResult failed: ${errorText(e)}`);
        }
      }
      try {
        const ev = await client.getEvent<number>(id, EVENT_KEY, 2);
        if (ev !== (k === 0 ? null : expected)) {
          r.badEvent++;
          v('event', `${id}: last balance event ${ev}, expected ${expected}`);
        }
      } catch (e) {
        r.badEvent++;
        v('event', `${id}: getEvent failed: ${errorText(e)}`);
      }

      // stream: seq 1..k in order, amounts as sent
      try {
        const got: Applied[] = [];
        for await (const x of client.readStream<Applied>(id, STREAM_KEY, { timeoutSeconds: 10 })) {
          got.push(x);
          if (got.length > k + 1000) break;
        }
        const ok = got.length === k && got.every((x, i) => x.seq === i + 1 && x.amount === planned[i]!.amount);
        if (!ok) {
          r.badStream++;
          v('stream', `${id}: ${got.length} entries, seqs ${got.slice(0, 40).map((x) => x.seq).join(',')}${got.length > 40 ? ',…' : ''}; expected 1..${k}`);
        }
      } catch (e) {
        r.badStream++;
        v('stream', `${id}: readStream failed: ${errorText(e)}`);
      }

      // steps: each recorded apply checkpoint vs the executions logged for it
      for (const st of o.filter((x) => x.function_name === STEP_NAME)) {
        const key = `${id}#${st.function_id}`;
        const ex = (execs.get(key) ?? []).sort((x, y) => x.at - y.at);
        execs.delete(key);
        const recordedAt = Number(st.completed_at_epoch_ms);
        if (ex.length === 0) {
          v('steps', `${id} fn ${st.function_id}: checkpoint recorded but no execution logged`);
          continue;
        }
        r.stepReruns += ex.length - 1;
        for (const e of ex) {
          if (e.at > recordedAt) {
            r.badReruns++;
            v('step rerun', `${id} fn ${st.function_id} (seq ${e.seq}) ran in ${e.proc} at ${e.at}, after its checkpoint was recorded (completed_at ${recordedAt})`);
          }
        }
        for (const e of ex.slice(0, -1)) {
          if (procInfo.get(e.proc)?.died) continue;
          if (cancelExplains(cancels.get(id), run.outages, e.at)) r.cancelReruns++;
          else {
            r.badReruns++;
            v('step rerun', `${id} fn ${st.function_id} (seq ${e.seq}) ran ${ex.length} times; the run in ${e.proc} at ${e.at} was not cut short by a kill nor returned after a cancel (cancels at ${(cancels.get(id) ?? []).map((c) => c.at).join(', ') || 'none'})`);
          }
        }
      }
    }
    for (const [key, ex] of execs) {
      const [wf] = key.split('#');
      if (status.get(wf ?? '')?.status === 'SUCCESS') v('steps', `${key}: ran ${ex.length} time(s) (${ex.map((e) => e.proc).join(', ')}) but has no checkpoint`);
    }
  } finally {
    await client.destroy().catch(() => undefined);
    await db.end().catch(() => undefined);
  }
  return r;
}

// ------------------------------------------------------------------------------------------------ main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const serverUrl = process.env.DBOS_SYSTEM_DATABASE_URL;
  if (serverUrl && opts.pgRestart) {
    if (opts.pgRestartExplicit) usage('--pg-restart needs the embedded Postgres (unset DBOS_SYSTEM_DATABASE_URL)');
    opts.pgRestart = false;
  }
  const rand = prng(opts.seed);
  const killRand = prng(opts.seed ^ 0x5bd1e995);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-chaos-'));
  log(
    `seed=${opts.seed} workers=${opts.workers} workflows=${opts.workflows} messages=${opts.messages} window=${opts.chaosSeconds}s ` +
      `kill every ${opts.killMinMs}-${opts.killMaxMs} ms, pg-restart=${opts.pgRestart ? 'on' : 'off'}; work dir ${workDir}`,
  );

  const counters = { pgRestarts: 0 };
  const summary = (result: string, parts: Record<string, number | string>): string =>
    `chaos: ${Object.entries(parts)
      .map(([k, val]) => `${k}=${val}`)
      .join(' ')} ${result}`;

  let run: Run | undefined;
  let sender: Sender | undefined;
  let queue: QueueChaos | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (run) {
      run.phase = 'cleanup';
      await Promise.all(run.slots.map((s) => s.kill()));
      await sender?.destroy();
      await queue?.destroy();
      await run.db.cleanup();
    }
  };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Hard limit: whatever hangs, the script stops by itself and cleans up.
  const hardLimit = setTimeout(() => {
    log(`time limit of ${opts.timeLimitS} s reached: aborting`);
    process.stdout.write(summary('FAILED', { workflows: opts.workflows, time_limit: opts.timeLimitS, seed: opts.seed }) + '\n');
    void cleanup().finally(() => process.exit(1));
  }, opts.timeLimitS * 1000);
  hardLimit.unref();

  let ok = false;
  try {
    const db = serverUrl ? await externalDatabase(serverUrl) : await embeddedDatabase();
    const ids = Array.from({ length: opts.workflows }, (_, i) => accountID(i));
    run = {
      opts,
      workDir,
      db,
      phase: 'chaos',
      slots: [],
      procs: [],
      errors: new ErrorBook(),
      kills: 0,
      outages: [],
      crashes: [],
      respawnsAfterCrash: 0,
      launchRetries: 0,
      deadline: t0 + opts.timeLimitS * 1000 - 5000,
    };
    const r = run;
    const slotCount = opts.workers + (opts.lostWorker ? 1 : 0);
    for (let w = 1; w <= slotCount; w++) r.slots.push(new WorkerSlot(r, w, ids.filter((_, i) => i % slotCount === w - 1)));
    if (opts.lostWorker) r.slots[slotCount - 1]!.doomed = true;

    // The first worker migrates the fresh database; the others start once it is up.
    const first = r.slots[0]!;
    first.spawn();
    await waitUntil('the first worker to launch', () => first.proc?.ready === true || (first.proc?.exited === true && first.instances > 3), 90_000);
    for (const s of r.slots.slice(1)) s.spawn();
    queue = new QueueChaos(r.db.url, opts.queueJobs, prng(opts.seed ^ 0x27d4eb2d), r.deadline, (text) => r.errors.add('driver queue', text));
    await queue.register();
    const q = queue;

    const plan = makePlan(opts, rand);
    const sent = new Map<string, Set<number>>();
    sender = new Sender(r);
    const snd = sender;
    const windowStart = Date.now();
    const windowEnd = windowStart + opts.chaosSeconds * 1000;
    const canceller = new Canceller(r.db.url, opts.cancelRate, prng(opts.seed ^ 0x2545f491), windowEnd, r.deadline, (text) =>
      r.errors.add('driver cancel/resume', text.replace(/chaos-acct-\d+/g, 'chaos-acct-NNN')),
    );
    snd.onSent = (dest) => canceller.afterSend(dest);
    log(`chaos window: ${opts.chaosSeconds} s; ${plan.total} messages in ${plan.waves.length} waves, ${plan.dupSends} resent with the same key`);

    const killing = killer(r, killRand, windowEnd);
    const pg = opts.pgRestart ? pgChaos(r, windowStart, windowEnd, counters) : Promise.resolve();
    const losing = loseWorker(r, windowStart + (windowEnd - windowStart) * 0.3);
    const sending = (async () => {
      // Destinations must exist before a send (else: "non-existent destination"); retries would cover it too.
      await waitUntil(
        'all workflows to be started',
        async () => {
          const c = new Client({ connectionString: r.db.url, connectionTimeoutMillis: 2000 });
          try {
            await c.connect();
            const n = await c.query<{ n: string }>('SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[])', [ids]);
            return Number(n.rows[0]?.n) === ids.length;
          } finally {
            await c.end().catch(() => undefined);
          }
        },
        90_000,
      );
      log('all workflows exist; sending');
      await sendPlan(r, snd, plan, ids, windowStart + (windowEnd - windowStart) * 0.85);
    })();
    const enqueueing = q.enqueueAll(windowStart + (windowEnd - windowStart) * 0.85);
    const settled = await Promise.allSettled([killing, pg, sending, enqueueing, losing]);
    await canceller.finish();
    for (const [i, res] of settled.entries()) {
      if (res.status === 'rejected') {
        r.errors.add('harness', `${['killer', 'pg restart', 'sender', 'queue enqueuer', 'worker loser'][i]}: ${errorText(res.reason)}`);
        log(`harness ${['killer', 'pg restart', 'sender', 'queue enqueuer', 'worker loser'][i]} failed: ${errorText(res.reason)}`);
      }
    }
    // Which sends succeeded (a send that kept failing is reported as a harness problem, not as a lost message).
    const failedKeys = new Set(snd.failed.map((f) => f.split(':')[0]));
    for (let a = 0; a < ids.length; a++) {
      const id = ids[a]!;
      sent.set(id, new Set(plan.perAccount[a]!.filter((p) => !failedKeys.has(messageKey(id, p.seq))).map((p) => p.seq)));
    }
    log(`chaos window over: ${r.kills} kills, ${counters.pgRestarts} Postgres restarts, ${canceller.count} cancels (each resumed), ${snd.sends} sends (${snd.retries} retried)`);

    // ---- final phase: everybody up, stop every workflow by message, wait for the workers to finish
    r.phase = 'final';
    if (!(await waitForDatabase(r.db.url, 60_000))) throw new Error('Postgres is not reachable after the chaos window');
    for (const s of r.slots) if (!s.alive && !s.lost) s.spawn();
    for (let a = 0; a < ids.length; a++) {
      const id = ids[a]!;
      const seq = plan.perAccount[a]!.length + 1;
      if (await snd.send(id, { seq, amount: 0, stop: true }, messageKey(id, seq))) sent.get(id)!.add(seq);
    }
    log('stop messages sent; waiting for every workflow to finish');
    const shutdownProblems: string[] = [];
    try {
      await waitUntil(
        'every workflow to finish and every worker to report its own done',
        async () => r.slots.every((s) => s.lost || s.done !== undefined) && (await unfinished(r.db.url, [...ids, ...q.ids])) === 0,
        // Leave time to check (and report) before the hard limit.
        Math.max(5000, Math.min(opts.drainSeconds * 1000, r.deadline - 40_000 - Date.now())),
      );
      // Only now may workers leave (one may be running another's workflow): SIGTERM = DBOS.shutdown, exit 0.
      await Promise.all(
        r.slots.filter((s) => !s.lost).map(async (s) => {
          if (!(await s.terminate(30_000))) shutdownProblems.push(`${s.executor}: did not exit 0 within 30 s of SIGTERM (exit ${s.proc?.exitCode}, signal ${s.proc?.exitSignal})`);
        }),
      );
    } catch (e) {
      log(errorText(e));
      r.errors.add('harness', errorText(e));
    }
    r.phase = 'check';
    await Promise.all(r.slots.map((s) => s.kill()));
    await snd.destroy();

    // ---- invariants
    const c = await check(r, plan, ids, sent, canceller.cancels);
    const qc = await checkQueue(r.db.url, q.ids, r.procs.map((p) => ({ name: `${p.slot.executor}-${p.instance}`, stepLog: p.stepLog, killed: p.killed, exitedAt: p.exitedAt })));
    const violations = [...c.violations, ...qc.violations];
    if (q.failed.length) violations.push(`harness: ${q.failed.length} queue calls kept failing, e.g. ${q.failed[0]}`);
    if (r.crashes.length) violations.push(...r.crashes.slice(0, 5).map((x) => `crash: ${x}`));
    for (const s of r.slots) if (!s.done && !s.lost) violations.push(`worker: ${s.executor} did not finish (last instance ${s.instances})`);
    violations.push(...shutdownProblems.map((x) => `worker: ${x}`));
    if (snd.failed.length) violations.push(`harness: ${snd.failed.length} sends kept failing, e.g. ${snd.failed[0]}`);
    ok = violations.length === 0 && c.consumed === opts.messages;
    if (!ok) {
      process.stderr.write(`\nchaos: FAILED — ${violations.length} problem(s):\n${violations.map((x) => `  ${redact(x)}`).join('\n')}\n`);
    }
    if (c.firstStack) process.stderr.write(`\nerror of the first failed workflow, with its stack:\n  ${redact(c.firstStack).replace(/\n/g, '\n  ')}\n`);
    if (r.errors.size) process.stderr.write(`\nerrors seen during the run (first occurrence, count):\n${r.errors.lines(25).join('\n')}\n`);
    const line = summary(ok ? 'ok' : 'FAILED', {
      workflows: opts.workflows,
      workers: opts.workers,
      lost_workers: r.slots.filter((s) => s.lost).length,
      kills: r.kills,
      crashes: r.crashes.length,
      launch_retries: r.launchRetries,
      pg_restarts: counters.pgRestarts,
      cancels: canceller.count,
      messages: opts.messages,
      dup_sends: plan.dupSends,
      send_retries: snd.retries,
      consumed: c.consumed,
      lost: c.lost,
      stranded: c.stranded,
      duplicated: c.duplicated,
      bad_balance: c.badBalance,
      bad_event: c.badEvent,
      bad_stream: c.badStream,
      step_runs: c.stepRuns,
      step_reruns: c.stepReruns,
      cancel_reruns: c.cancelReruns,
      bad_reruns: c.badReruns,
      pending: c.pending,
      not_success: c.notSuccess,
      queue_jobs: `${qc.jobs}/${opts.queueJobs}`,
      queue_step_runs: qc.runs,
      queue_reruns: qc.reruns,
      queue_max_global: `${qc.maxGlobal}/${QUEUE_GLOBAL}`,
      queue_max_worker: `${qc.maxWorker}/${QUEUE_WORKER}`,
      seconds: Math.round((Date.now() - t0) / 1000),
      seed: opts.seed,
    });
    await cleanup();
    if (!ok || opts.keep) log(`work dir kept: ${workDir} (step logs, worker stderr)`);
    else fs.rmSync(workDir, { recursive: true, force: true });
    process.stdout.write(line + '\n');
  } catch (e) {
    log(`aborted: ${(e as Error).stack ?? String(e)}`);
    if (run?.errors.size) process.stderr.write(`errors seen during the run:\n${run.errors.lines(25).join('\n')}\n`);
    await cleanup();
    log(`work dir kept: ${workDir}`);
    process.stdout.write(summary('FAILED', { workflows: opts.workflows, kills: run?.kills ?? 0, pg_restarts: counters.pgRestarts, aborted: JSON.stringify(redact(errorText(e)).slice(0, 120)), seed: opts.seed }) + '\n');
  } finally {
    clearTimeout(hardLimit);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
