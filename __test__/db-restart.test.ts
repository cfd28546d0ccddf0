// Postgres itself goes away under a running app: restarted mid-run, then stopped for seconds and started
// again. The engine's pool and its listener reconnect, calls in flight wait and then complete, and every
// message is applied exactly once, every event and stream entry written once, nothing left PENDING.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DBOS, DBOSClient } from 'dbos-native';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../ts/embedded-postgres';
import { query, sleep } from './helpers/db';
import { freePort } from './helpers/net';

const ACCOUNTS = 10;
const ROUNDS = 4;

let server: EmbeddedPostgresHandle | undefined;
let dataDir = '';
let port = 0;
let url = '';
let client: DBOSClient | undefined;
const applied = new Map<string, number>();

const account = DBOS.registerWorkflow(
  async (rounds: number) => {
    let balance = 0;
    for (let r = 0; r < rounds; r++) {
      const amount = await DBOS.recv<number>('op', 120);
      if (amount === null) throw new Error('no message within 120 s');
      balance = await DBOS.runStep(
        async () => {
          const id = DBOS.workflowID ?? '';
          applied.set(id, (applied.get(id) ?? 0) + 1);
          return balance + amount;
        },
        { name: 'apply' },
      );
      await DBOS.setEvent('balance', balance);
      await DBOS.writeStream('log', amount);
    }
    return balance;
  },
  { name: 'account' },
);

async function startServer(): Promise<void> {
  server = await startEmbeddedPostgres({ dataDir, port, ephemeral: true });
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbosn-restart-'));
  fs.chmodSync(dataDir, 0o755); // as root the server runs as "postgres"
  port = await freePort();
  await startServer();
  const u = new URL(server?.url ?? '');
  u.pathname = '/restart_test';
  url = u.toString();
  DBOS.setConfig({ name: 'restart-test', systemDatabaseUrl: url });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url });
});

after(async () => {
  await client?.destroy();
  await DBOS.shutdown();
  await server?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`);

/** Sends round `r` to every account; each message twice with one idempotency key (it must count once). */
async function sendRound(r: number): Promise<void> {
  await Promise.all(
    ids.flatMap((id) => [0, 1].map(() => client?.send(id, r + 1, 'op', `round-${r}`))),
  );
}

async function waitForBalances(expected: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      const b = await client?.getEvent<number>(id, 'balance', 1);
      if (b === expected) break;
      if (Date.now() > end) throw new Error(`${id}: balance ${String(b)}, expected ${expected}`);
      await sleep(50);
    }
  }
}

test('a restart and a 4-second outage of Postgres lose and double nothing', async () => {
  const handles = await Promise.all(ids.map((id) => DBOS.startWorkflow(account, { workflowID: id })(ROUNDS)));
  await sendRound(0);
  await waitForBalances(1, 30_000);

  // 1. Restart while every workflow waits in recv (pool and listener connections all die).
  await server?.stop();
  await startServer();
  await sendRound(1);
  await waitForBalances(3, 30_000);

  // 2. Stop for 4 s while work is in flight: sends issued during the outage wait, then complete.
  await server?.stop();
  const during = sendRound(2);
  await sleep(4000);
  await startServer();
  await during;
  await waitForBalances(6, 30_000);

  // 3. After the outage the listener is back: a message wakes its receiver at once, not at a poll.
  const t0 = Date.now();
  await sendRound(3);
  const results = await Promise.all(handles.map((h) => h.getResult()));
  assert.ok(Date.now() - t0 < 8000, `the last round took ${Date.now() - t0} ms`);

  assert.deepEqual(results, ids.map(() => 10));
  for (const id of ids) {
    assert.equal(applied.get(id), ROUNDS, `${id}: each message applied once`);
    const log: number[] = [];
    for await (const v of DBOS.readStream<number>(id, 'log')) log.push(v);
    assert.deepEqual(log, [1, 2, 3, 4], `${id}: stream in order, no gap or duplicate`);
  }
  const notes = await query<{ n: string; consumed: string }>(
    url,
    'SELECT count(*) AS n, count(*) FILTER (WHERE consumed) AS consumed FROM dbos.notifications',
  );
  assert.deepEqual(notes[0], { n: String(ACCOUNTS * ROUNDS), consumed: String(ACCOUNTS * ROUNDS) });
  const recvs = await query<{ n: string }>(url, "SELECT count(*) AS n FROM dbos.operation_outputs WHERE function_name = 'DBOS.recv'");
  assert.equal(recvs[0]?.n, String(ACCOUNTS * ROUNDS));
  const pending = await query<{ n: string }>(url, "SELECT count(*) AS n FROM dbos.workflow_status WHERE status <> 'SUCCESS'");
  assert.equal(pending[0]?.n, '0');
});
