// The cluster on disk, <dataDir>/pgdata: whether one exists, and creating one with initdb (scram-sha-256 with the
// random password of the credentials file, UTF-8, the builtin C locale so no installed locale is needed).

import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Binaries } from './binaries';
import { childEnv } from './proc';
import type { OsUser } from './root';
import type { State } from './state';

/** Never mistake an unreadable cluster for a missing one (we would re-initialise, i.e. wipe, it). */
export async function clusterExists(pgdata: string): Promise<boolean> {
  try {
    await fsp.stat(path.join(pgdata, 'PG_VERSION'));
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new Error(`Cannot read the embedded Postgres cluster in ${pgdata}: ${(e as Error).message}`);
  }
}

export async function initdb(
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
