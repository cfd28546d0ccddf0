// Detecting a server that is already running for a data directory (started by another process, or orphaned by a
// SIGKILLed one), so that it is reused rather than started twice, and telling it apart from a stale postmaster.pid.

import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { isAlive, isZombie, sleep } from './proc';

export const START_TIMEOUT_MS = 60_000;

interface PostmasterPid {
  pid: number;
  port: number;
  status: string;
}

export async function readPostmasterPid(pgdata: string): Promise<PostmasterPid | undefined> {
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

export async function findRunningServer(pgdata: string, log: (line: string) => void): Promise<{ pid: number; port: number } | undefined> {
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
