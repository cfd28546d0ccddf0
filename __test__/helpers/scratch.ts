// Set-up and clean-up shared by test files: a fresh database, with a directory for app processes' files
// or with DBOS launched in this process.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DBOS, type DBOSConfig } from 'dbos-native';
import { killAll } from './child';
import { freshDatabase } from './db';

export interface Scratch {
  /** The fresh database's URL (set once the `before` hook has run). */
  readonly url: string;
  /** The path of `name` in the scratch directory. */
  file(name: string): string;
}

export interface ScratchHooks {
  /** Runs once the database and the directory exist (e.g. DBOS.launch on the database, clients). */
  setup?: () => Promise<void>;
  /** Runs once the apps are killed, before the directory is removed (e.g. destroying clients, DBOS.shutdown). */
  teardown?: () => Promise<void>;
}

/**
 * For a test file whose tests run app processes: a fresh database and a directory for the apps' files
 * (their event logs) before its tests; after them every app still running is killed, so none outlives a
 * failed test, and the directory is removed. The file's own set-up and clean-up go in `hooks`, not in
 * hooks of its own: Node 20 does not run a file's top-level hooks and a helper's in the order registered.
 */
export function appScratch(database: string, hooks: ScratchHooks = {}): Scratch {
  let url = '';
  let dir = '';
  before(async () => {
    url = await freshDatabase(database);
    dir = mkdtempSync(path.join(tmpdir(), `${database}-`));
    await hooks.setup?.();
  });
  after(async () => {
    await killAll();
    await hooks.teardown?.();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get url() {
      return url;
    },
    file: (name) => path.join(dir, name),
  };
}

/**
 * For a test file that runs DBOS in this process: before its tests, a fresh database and DBOS launched on it
 * with `config`; after them, DBOS shut down.
 */
export function launchedDatabase(database: string, config: Omit<DBOSConfig, 'systemDatabaseUrl'>): { readonly url: string } {
  let url = '';
  before(async () => {
    url = await freshDatabase(database);
    DBOS.setConfig({ ...config, systemDatabaseUrl: url });
    await DBOS.launch();
  });
  after(async () => {
    await DBOS.shutdown();
  });
  return {
    get url() {
      return url;
    },
  };
}
