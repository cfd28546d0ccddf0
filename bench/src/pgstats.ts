// Postgres statement counts per scenario, from pg_stat_statements (when the server has it loaded: the
// embedded server started by run.ts does). Read through the admin database, so the reads are not counted.
import { Client } from 'pg';
import { ServerCpu } from './pgcpu';

export interface StatementCount {
  query: string;
  calls: number;
  /** Server time executing it (pg_stat_statements total_exec_time), ms. */
  execMs: number;
}

export interface StatementDelta {
  total: number;
  /** Server time executing statements (planning excluded), ms. */
  execMs: number;
  /** The most frequent statements, most calls first. */
  top: StatementCount[];
}

/**
 * Whether pg_stat_statements is usable through the admin database. With `create` (our own throwaway server),
 * creates the extension there first; on someone else's server, only uses it if it is already there.
 */
export async function enablePgStatStatements(adminUrl: string, create: boolean): Promise<boolean> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    if (create) await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await c.query('SELECT 1 FROM pg_stat_statements LIMIT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end();
  }
}

export class StatementCounter {
  private constructor(
    private readonly client: Client,
    private readonly database: string,
  ) {}

  static async connect(adminUrl: string, database: string): Promise<StatementCounter> {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    return new StatementCounter(client, database);
  }

  /** The server's CPU clock, when the server runs on this machine. */
  serverCpu(): Promise<ServerCpu | undefined> {
    return ServerCpu.find(this.client);
  }

  async snapshot(): Promise<Map<string, StatementCount>> {
    const res = await this.client.query<{ id: string; query: string; calls: string; exec_ms: number }>(
      `SELECT queryid::text AS id, query, calls::text AS calls, total_exec_time AS exec_ms FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`,
      [this.database],
    );
    return new Map(res.rows.map((r) => [`${r.id}`, { query: r.query, calls: Number(r.calls), execMs: Number(r.exec_ms) }]));
  }

  static delta(before: Map<string, StatementCount>, after: Map<string, StatementCount>, topN = 12): StatementDelta {
    const counts: StatementCount[] = [];
    for (const [id, a] of after) {
      const calls = a.calls - (before.get(id)?.calls ?? 0);
      const execMs = Math.round((a.execMs - (before.get(id)?.execMs ?? 0)) * 1000) / 1000;
      if (calls > 0) counts.push({ query: a.query.replace(/\s+/g, ' ').slice(0, 300), calls, execMs });
    }
    counts.sort((x, y) => y.calls - x.calls);
    return { total: counts.reduce((s, c) => s + c.calls, 0), execMs: counts.reduce((s, c) => s + c.execMs, 0), top: counts.slice(0, topN) };
  }

  /**
   * The server's next transaction ID (without taking one). The difference between two readings is the number of
   * transactions that wrote something (only those get an ID), on the whole server: the SDK's, plus the odd
   * autovacuum/analyze. Immediate, unlike pg_stat_database.xact_commit, which an idle backend may report up to
   * 10 s late (and which also counts read-only transactions).
   */
  async nextXid(): Promise<bigint> {
    const res = await this.client.query<{ x: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x');
    return BigInt(res.rows[0].x);
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
