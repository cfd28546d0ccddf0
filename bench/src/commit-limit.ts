// The server's raw commit rate, to put workflow throughput in proportion: single-row INSERTs, each its own
// transaction (autocommit), as fast as possible from 1 and from 32 clients. With pgbench when it is installed,
// else an equivalent loop of `pg` clients in this process (labelled as such).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';

export const COMMIT_LIMIT_CLIENTS = [1, 32] as const;
const DURATION_S = 5;
const DATABASE = 'bench_commit_limit';
const TABLE = 'commit_limit';
const INSERT = `INSERT INTO ${TABLE} (v) VALUES (1)`;

export interface CommitLimit {
  /** How it was measured, for the table header. */
  tool: string;
  durationS: number;
  /** Transactions per second by number of clients. */
  tps: Record<number, number>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin(adminUrl: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Runs a command to completion (killed after `capMs`); stdout, or an error with its stderr. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, capMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), capMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited with ${code ?? signal}: ${err.trim().slice(0, 500)}`));
    });
  });
}

async function pgbenchVersion(): Promise<string | undefined> {
  try {
    return (await run('pgbench', ['--version'], process.env, 10_000)).trim();
  } catch {
    return undefined;
  }
}

async function viaPgbench(url: string, clients: number): Promise<number> {
  const u = new URL(url);
  const script = path.join(os.tmpdir(), `dbos-bench-commit-${process.pid}.sql`);
  fs.writeFileSync(script, `${INSERT};\n`);
  try {
    const args = ['-n', '-M', 'prepared', '-f', script, '-c', String(clients), '-j', String(Math.min(clients, os.cpus().length)), '-T', String(DURATION_S)];
    args.push('-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username), decodeURIComponent(u.pathname.slice(1)));
    const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
    const out = await run('pgbench', args, env, (DURATION_S + 30) * 1000);
    const m = /tps = ([\d.]+)/.exec(out);
    if (!m) throw new Error(`no tps in pgbench output: ${out.slice(0, 500)}`);
    return Number(m[1]);
  } finally {
    fs.rmSync(script, { force: true });
  }
}

/** `clients` connections, each running the INSERT (prepared, autocommit) back to back for DURATION_S. */
async function viaPgClients(url: string, clients: number): Promise<number> {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  try {
    let count = 0;
    const t0 = performance.now();
    const until = t0 + DURATION_S * 1000;
    await Promise.all(
      conns.map(async (c) => {
        while (performance.now() < until) {
          await c.query({ name: 'ins', text: INSERT });
          count++;
        }
      }),
    );
    return (count * 1000) / (performance.now() - t0);
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

/** Measures on a scratch database of the server (created, then dropped). */
export async function measureCommitLimit(adminUrl: string): Promise<CommitLimit> {
  const url = withDatabase(adminUrl, DATABASE);
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin(adminUrl, `CREATE DATABASE ${DATABASE}`);
  try {
    await admin(url, `CREATE TABLE ${TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL)`);
    const version = await pgbenchVersion();
    const tool = version
      ? `${version}, custom script "${INSERT}", -M prepared`
      : `no pgbench found: node \`pg\` clients in the runner, each looping the prepared "${INSERT}"`;
    const tps: Record<number, number> = {};
    for (const clients of COMMIT_LIMIT_CLIENTS) {
      tps[clients] = version ? await viaPgbench(url, clients) : await viaPgClients(url, clients);
    }
    return { tool, durationS: DURATION_S, tps };
  } finally {
    await admin(adminUrl, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  }
}
