// Postgres statement counts per scenario, from pg_stat_statements (when the server has it loaded: the
// embedded server started by run.ts does). Read through the admin database, so the reads are not counted.
import { Client } from 'pg';

export interface StatementCount {
  query: string;
  calls: number;
}

export interface StatementDelta {
  total: number;
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

  async snapshot(): Promise<Map<string, StatementCount>> {
    const res = await this.client.query<{ id: string; query: string; calls: string }>(
      `SELECT queryid::text AS id, query, calls::text AS calls FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)`,
      [this.database],
    );
    return new Map(res.rows.map((r) => [`${r.id}`, { query: r.query, calls: Number(r.calls) }]));
  }

  static delta(before: Map<string, StatementCount>, after: Map<string, StatementCount>, topN = 12): StatementDelta {
    const counts: StatementCount[] = [];
    for (const [id, a] of after) {
      const calls = a.calls - (before.get(id)?.calls ?? 0);
      if (calls > 0) counts.push({ query: a.query.replace(/\s+/g, ' ').slice(0, 300), calls });
    }
    counts.sort((x, y) => y.calls - x.calls);
    return { total: counts.reduce((s, c) => s + c.calls, 0), top: counts.slice(0, topN) };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
