// The server process: starting `postgres` on 127.0.0.1 with its output in <dataDir>/postgres.log (never our stdio,
// so a test runner waiting for our stdout is not blocked and an orphaned server has nothing broken to write to),
// unref'ed (a forgotten stop() cannot keep Node alive), ready once postmaster.pid says so; and stopping it.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Binaries } from './binaries';
import { forgetServer, watchServer } from './exit-hooks';
import { portInUseError } from './ports';
import { childEnv, hasExited, sleep, withTimeout } from './proc';
import type { OsUser } from './root';
import { readPostmasterPid, START_TIMEOUT_MS } from './running';

const LOG_FILE = 'postgres.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export interface StartedServer {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
  stopping?: Promise<void>;
}

/** What starting the server needs: where its binaries and data are, its port and extra flags, whom it runs as. */
export interface ServerOptions {
  bins: Binaries;
  dataDir: string;
  pgdata: string;
  port: number;
  extraFlags: string[];
  runAs: OsUser | undefined;
  log: (line: string) => void;
}

export async function startServer(opts: ServerOptions): Promise<StartedServer> {
  // Right after a server crash its old backends may still be exiting and holding the shared memory segment, which
  // makes a new postmaster refuse to start for a moment: retry briefly in that case.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await startServerOnce(opts);
    } catch (e) {
      if (!/pre-existing shared memory block .* is still in use/.test((e as Error).message) || Date.now() > deadline) throw e;
      opts.log('embedded Postgres: the previous server is still exiting; retrying');
      await sleep(200);
    }
  }
}

async function startServerOnce({ bins, dataDir, pgdata, port, extraFlags, runAs, log }: ServerOptions): Promise<StartedServer> {
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
  const server: StartedServer = { child, pid: child.pid ?? -1, stop: () => stopServer(server) };
  watchServer(server);

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
    forgetServer(server);
  })();
  return server.stopping;
}
