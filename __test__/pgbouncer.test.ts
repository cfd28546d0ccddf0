// Transaction-mode pooling: a real PgBouncer (pool_mode = transaction, 3 server connections, so many
// clients share each) in front of the test server. Named prepared statements break there (PgBouncer 1.18
// does not carry them across transactions: "prepared statement ... does not exist" / "already exists");
// with `systemDatabaseTransactionPooling` every statement runs unnamed. The communication and queue suites
// also run through PgBouncer (DBOS_TEST_CONNECTION_MODE=pgbouncer, __test__/run.mjs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, DBOSClient } from 'dbos-native';
import { freshDatabase, query, within } from './helpers/db';
import { startPgBouncer, type PgBouncer } from './helpers/pgbouncer';

const WORKFLOWS = 30;
const EXECUTOR = 'pgbouncer-exec';

const talker = DBOS.registerWorkflow(
  async (i: number) => {
    let sum = 0;
    for (let s = 0; s < 3; s++) sum += await DBOS.runStep(async () => i + s, { name: `step${s}` });
    await DBOS.setEvent('sum', sum);
    const reply = await DBOS.recv<string>('reply', 30);
    return `${i}:${reply}`;
  },
  { name: 'pgbTalker' },
);
const queued = DBOS.registerWorkflow(async (i: number) => i * 2, { name: 'pgbQueued' });

let bouncer: PgBouncer;
let direct: string;
let client: DBOSClient;
let listening: DBOSClient;

before(async () => {
  direct = await freshDatabase('dbosn_pgbouncer');
  bouncer = await startPgBouncer(direct, 3);
  // Everything through PgBouncer, no listen URL: transaction pooling in polling mode, migrations included.
  DBOS.setConfig({ name: 'pgbouncer-test', systemDatabaseUrl: bouncer.pooled(direct), systemDatabaseTransactionPooling: true, systemDatabasePoolSize: 10, executorID: EXECUTOR });
  await DBOS.launch();
  await DBOS.registerQueue('pgb-queue');
  client = await DBOSClient.create({ systemDatabaseUrl: bouncer.pooled(direct), systemDatabaseTransactionPooling: true });
  // A listen URL: statements through PgBouncer, LISTEN on the direct connection.
  listening = await DBOSClient.create({ systemDatabaseUrl: bouncer.pooled(direct), systemDatabaseListenUrl: direct });
});

after(async () => {
  await listening?.destroy();
  await client?.destroy();
  await DBOS.shutdown();
  await bouncer?.stop();
});

describe('through PgBouncer in transaction mode', () => {
  test('many concurrent workflows checkpoint, set events, receive and finish (no named statement crosses a transaction)', async () => {
    const handles = await Promise.all(Array.from({ length: WORKFLOWS }, (_, i) => DBOS.startWorkflow(talker, { workflowID: `pgb-${i}` })(i)));
    const sums = await Promise.all(handles.map((h) => within(client.getEvent<number>(h.workflowID, 'sum', 30), 20_000, `event of ${h.workflowID}`)));
    assert.deepEqual(sums, handles.map((_, i) => 3 * i + 3));
    await Promise.all(handles.map((h, i) => (i % 2 ? client : listening).send(h.workflowID, 'ok', 'reply')));
    const results = await Promise.all(handles.map((h) => within(h.getResult(), 20_000, `result of ${h.workflowID}`)));
    assert.deepEqual(results, handles.map((_, i) => `${i}:ok`));
    const [{ n }] = await query<{ n: string }>(direct, `SELECT count(*) AS n FROM dbos.operation_outputs WHERE workflow_uuid LIKE 'pgb-%' AND function_name LIKE 'step%'`);
    assert.equal(Number(n), 3 * WORKFLOWS);
  });

  test('client enqueues are dispatched and their results read through the pooler', async () => {
    const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => client.enqueue({ queueName: 'pgb-queue', workflowName: 'pgbQueued' }, i)));
    const results = await Promise.all(handles.map((h) => within(h.getResult(), 20_000, `queued ${h.workflowID}`)));
    assert.deepEqual(results, handles.map((_, i) => i * 2));
  });

  test('the listen URL carries LISTEN on a direct connection', async () => {
    // A wait (on a key never set) starts the client's listener.
    assert.equal(await listening.getEvent('pgb-0', 'never', 0.3), null);
    let rows: { query: string }[] = [];
    for (let i = 0; i < 50 && !rows.some((r) => /LISTEN/.test(r.query)); i++) {
      rows = await query<{ query: string }>(direct, `SELECT query FROM pg_stat_activity WHERE application_name = 'dbos_native_listener_dbos-client' AND datname = current_database()`);
      if (!rows.some((r) => /LISTEN/.test(r.query))) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(rows.some((r) => /LISTEN/.test(r.query)), 'the client listener LISTENs on the direct server');
    const waiting = await DBOS.startWorkflow(talker, { workflowID: 'pgb-listen' })(100);
    assert.equal(await within(listening.getEvent<number>(waiting.workflowID, 'sum', 30), 10_000, 'event'), 303);
    await listening.send(waiting.workflowID, 'ok', 'reply');
    assert.equal(await waiting.getResult(), '100:ok');
  });
});
