// A real PgBouncer in transaction mode in front of a test's Postgres (Debian's `pgbouncer` package, 1.18:
// no protocol-level prepared statements). A small pool, so clients really share server connections.
// Used by the pooling tests and by `npm test` with DBOS_TEST_CONNECTION_MODE=pgbouncer (__test__/run.mjs).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { freePort } from './net';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** The pgbouncer binary, or undefined if it is not installed (`apt-get install -y pgbouncer`). */
export function pgbouncerBinary(): string | undefined {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

export interface PgBouncer {
  port: number;
  /** `url` (a database on the server behind this PgBouncer) with its host and port turned into this PgBouncer's. */
  pooled(url: string): string;
  stop(): Promise<void>;
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts a PgBouncer (`pool_mode = transaction`, `default_pool_size` server connections per database) in front of the server of `serverUrl`. */
export async function startPgBouncer(serverUrl: string, poolSize = 3): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed (Debian: apt-get install -y pgbouncer)');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || userInfo().username);
  const password = decodeURIComponent(server.password);
  const dir = mkdtempSync(path.join(tmpdir(), 'dbos-native-pgbouncer-'));
  const port = await freePort();
  // Clients authenticate with `trust` (the user must be in the auth file); PgBouncer logs in to Postgres as `user`.
  const quoted = (s: string) => `"${s.replace(/"/g, '""')}"`;
  writeFileSync(path.join(dir, 'userlist.txt'), `${quoted(user)} ${quoted(password)}\n`);
  const connstr = [`host=${server.hostname}`, `port=${server.port || '5432'}`, `user=${user}`, password ? `password=${password}` : ''].filter(Boolean).join(' ');
  writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = ${connstr}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 1000',
      'ignore_startup_parameters = extra_float_digits,options',
      // Test databases are dropped WITH (FORCE) while PgBouncer holds connections to them.
      'server_login_retry = 1',
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root: drop to `nobody` then (its files must be readable by it).
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) spawnSync('chmod', ['-R', 'a+rX', dir]);
  const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'nobody'] : []), path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100 && !(await reachable(port)); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(await reachable(port))) {
    await stop();
    throw new Error(`pgbouncer did not start: ${stderr.slice(-2000)}`);
  }
  return {
    port,
    pooled(url: string): string {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    stop,
  };
}
