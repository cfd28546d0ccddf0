// Preloaded into every test process (NODE_OPTIONS=--require, set by __test__/run.mjs) when
// DBOS_TEST_CONNECTION_MODE is set, so that the same test files run once more in another connection mode:
//   polling    every DBOS.setConfig and DBOSClient.create gets `useListenNotify: false` (nothing LISTENs)
//   pgbouncer  system database URLs on the test server go through the PgBouncer at DBOS_TEST_PGBOUNCER_PORT
//              (transaction pooling), and LISTEN through `systemDatabaseListenUrl`, the direct URL
// The tests' own checks (helpers/db.ts) still talk to the server directly.
import { DBOS, DBOSClient } from 'dbos-native';

type Config = Parameters<typeof DBOS.setConfig>[0];
type ClientConfig = Parameters<typeof DBOSClient.create>[0];

const mode = process.env.DBOS_TEST_CONNECTION_MODE;

function onTestServer(url: string): boolean {
  const server = process.env.DBOS_TEST_DATABASE_URL;
  if (!server) return false;
  try {
    const a = new URL(url);
    const b = new URL(server);
    return a.hostname === b.hostname && a.port === b.port;
  } catch {
    return false; // not a URL: leave it for the library's own error
  }
}

function adjust<T extends { systemDatabaseUrl?: string; useListenNotify?: boolean; systemDatabaseListenUrl?: string }>(cfg: T): T {
  if (typeof cfg !== 'object' || cfg === null) return cfg; // bad input: the library's error, unchanged
  if (mode === 'polling') return { ...cfg, useListenNotify: false };
  const port = process.env.DBOS_TEST_PGBOUNCER_PORT;
  const url = cfg.systemDatabaseUrl;
  if (mode === 'pgbouncer' && port && typeof url === 'string' && onTestServer(url)) {
    const pooled = new URL(url);
    pooled.hostname = '127.0.0.1';
    pooled.port = port;
    return { ...cfg, systemDatabaseUrl: pooled.toString(), systemDatabaseListenUrl: url };
  }
  return cfg;
}

if (mode === 'polling' || mode === 'pgbouncer') {
  const setConfig = DBOS.setConfig.bind(DBOS);
  DBOS.setConfig = (cfg: Config) => setConfig(adjust(cfg));
  const create = DBOSClient.create.bind(DBOSClient);
  DBOSClient.create = (cfg: ClientConfig) => create(adjust(cfg));
} else if (mode !== undefined && mode !== '') {
  throw new Error(`DBOS_TEST_CONNECTION_MODE=${mode}: expected polling or pgbouncer`);
}
