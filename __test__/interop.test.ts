// Interop with the official @dbos-inc/dbos-sdk 5.3.0 on one database: its DBOSClient reads our results,
// errors and steps and enqueues work we run; we read results the official SDK wrote; replay detects a
// checkpoint that does not match the code (nondeterminism).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS } from 'dbos-native';
import { DBOS as OfficialDBOS, DBOSClient } from '@dbos-inc/dbos-sdk';
import { freshDatabase, query, statusRow, steps } from './helpers/db';

class Ledger {
  static entries = 0;

  @DBOS.step()
  static async entry(amount: bigint, at: Date): Promise<{ amount: bigint; at: Date }> {
    Ledger.entries++;
    return { amount, at };
  }

  @DBOS.workflow()
  static async post(amount: bigint, at: Date): Promise<{ total: bigint; at: Date; tags: Set<string> }> {
    const e = await Ledger.entry(amount, at);
    return { total: e.amount * 2n, at: e.at, tags: new Set(['a', 'b']) };
  }

  @DBOS.workflow()
  static async reject(reason: string): Promise<void> {
    const err = new Error(`rejected: ${reason}`) as Error & { code?: string };
    err.code = 'E_REJECT';
    throw err;
  }

  @DBOS.workflow({ serialization: 'portable' })
  static async portable(name: string): Promise<{ hello: string }> {
    return { hello: name };
  }
}

let url = '';
let client: DBOSClient;

before(async () => {
  url = await freshDatabase('dbosn_interop');
  DBOS.setConfig({ name: 'interop-app', systemDatabaseUrl: url, applicationVersion: 'iv1' });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url });
});

after(async () => {
  await client.destroy();
  await DBOS.shutdown();
});

test('the official DBOSClient reads our results with their types, our errors, and our steps', async () => {
  const id = `ledger-${randomUUID()}`;
  const at = new Date('2025-03-04T05:06:07.089Z');
  await (await DBOS.startWorkflow(Ledger, { workflowID: id }).post(21n, at)).getResult();
  const r = await client.retrieveWorkflow<{ total: bigint; at: Date; tags: Set<string> }>(id).getResult();
  assert.equal(r.total, 42n);
  assert.ok(r.at instanceof Date && r.at.getTime() === at.getTime());
  assert.deepEqual([...r.tags], ['a', 'b']);

  const status = await client.getWorkflow(id);
  assert.equal(status?.status, 'SUCCESS');
  assert.equal(status?.workflowName, 'post');
  assert.equal(status?.workflowClassName, 'Ledger');
  assert.deepEqual(status?.input, [21n, at]);
  const stepList = await client.listWorkflowSteps(id);
  assert.equal(stepList?.length, 1);
  assert.equal(stepList?.[0]?.name, 'entry');
  assert.equal((stepList?.[0]?.output as { amount: bigint }).amount, 21n);

  const bad = `reject-${randomUUID()}`;
  await assert.rejects((await DBOS.startWorkflow(Ledger, { workflowID: bad }).reject('no funds')).getResult());
  await assert.rejects(client.retrieveWorkflow(bad).getResult(), (e: unknown) => {
    assert.equal((e as Error).message, 'rejected: no funds');
    assert.equal((e as Error & { code?: string }).code, 'E_REJECT');
    return true;
  });

  const port = `portable-${randomUUID()}`;
  await (await DBOS.startWorkflow(Ledger, { workflowID: port }).portable('Ann')).getResult();
  assert.deepEqual(await client.retrieveWorkflow(port).getResult(), { hello: 'Ann' });
  const rows = await query<{ output: string }>(url, 'SELECT output FROM dbos.workflow_output WHERE workflow_uuid = $1', [port]);
  assert.equal(rows[0]?.output, '{"hello":"Ann"}');
});

test('workflows enqueued by the official DBOSClient (native and portable) are run by us', async () => {
  const id = `enq-${randomUUID()}`;
  const at = new Date('2026-01-01T00:00:00.000Z');
  const handle = await client.enqueue<typeof Ledger.post>(
    { queueName: '_dbos_internal_queue', workflowName: 'post', workflowClassName: 'Ledger', workflowID: id },
    5n,
    at,
  );
  const r = await handle.getResult();
  assert.equal(r.total, 10n);
  const row = await statusRow(url, id);
  assert.equal(row?.status, 'SUCCESS');
  assert.equal(row?.executor_id, 'local');
  assert.equal(row?.application_version, 'iv1');
  assert.equal(row?.recovery_attempts, '1');
  assert.deepEqual(
    (await steps(url, id)).map((s) => s.function_name),
    ['entry'],
  );
  const pid = `enq-portable-${randomUUID()}`;
  await client.enqueuePortable(
    { queueName: '_dbos_internal_queue', workflowName: 'portable', workflowClassName: 'Ledger', workflowID: pid },
    ['Bo'],
  );
  assert.deepEqual(await DBOS.retrieveWorkflow(pid).getResult(), { hello: 'Bo' });
});

test('a replayed checkpoint that does not match the code fails the workflow with DBOSUnexpectedStepError', async () => {
  const id = `nondet-${randomUUID()}`;
  // The status row goes in last: once it is ENQUEUED our dispatcher may claim it at any moment.
  await query(url, 'INSERT INTO dbos.workflow_input (workflow_uuid, inputs) VALUES ($1, $2)', [
    id,
    '{"json":["1","2025-01-01T00:00:00.000Z"],"meta":{"values":{"0":["bigint"],"1":["Date"]}},"__dbos_serializer":"superjson"}',
  ]);
  await query(
    url,
    "INSERT INTO dbos.operation_outputs (workflow_uuid, function_id, function_name, output, serialization) VALUES ($1, 0, 'someOtherStep', '{\"json\":1,\"__dbos_serializer\":\"superjson\"}', 'js_superjson')",
    [id],
  );
  await query(
    url,
    `INSERT INTO dbos.workflow_status (workflow_uuid, status, name, class_name, queue_name, serialization, application_version, application_name)
     VALUES ($1, 'ENQUEUED', 'post', 'Ledger', '_dbos_internal_queue', 'js_superjson', 'iv1', 'interop-app')`,
    [id],
  );
  const before = Ledger.entries;
  await assert.rejects(DBOS.retrieveWorkflow(id).getResult(), (e: unknown) => {
    assert.equal((e as { dbosErrorCode?: number }).dbosErrorCode, 26);
    assert.match((e as Error).message, /step 0, function someOtherStep was recorded when entry was expected/);
    return true;
  });
  assert.equal(Ledger.entries, before, 'the mismatched step did not run');
  assert.equal((await statusRow(url, id))?.status, 'ERROR');
});

test('we read results the official SDK wrote, with their types', async () => {
  const theirs = await freshDatabase('dbosn_interop_sdk');
  const officialWf = OfficialDBOS.registerWorkflow(
    async (n: number) => ({ n, when: new Date('2024-02-03T04:05:06.000Z'), big: BigInt(n) * 10n, m: new Map([['k', n]]) }),
    { name: 'officialWf' },
  );
  OfficialDBOS.setConfig({ name: 'official-app', systemDatabaseUrl: theirs, logLevel: 'error' });
  await OfficialDBOS.launch();
  try {
    await (await OfficialDBOS.startWorkflow(officialWf, { workflowID: 'from-sdk' })(7)).getResult();
  } finally {
    await OfficialDBOS.shutdown();
  }
  await DBOS.shutdown();
  DBOS.setConfig({ name: 'interop-reader', systemDatabaseUrl: theirs });
  await DBOS.launch();
  const r = await DBOS.retrieveWorkflow<{ n: number; when: Date; big: bigint; m: Map<string, number> }>('from-sdk').getResult();
  assert.equal(r.n, 7);
  assert.ok(r.when instanceof Date);
  assert.equal(r.big, 70n);
  assert.equal(r.m.get('k'), 7);
  const st = await DBOS.getWorkflowStatus('from-sdk');
  assert.equal(st?.status, 'SUCCESS');
  assert.deepEqual(st?.input, [7]);
  assert.equal(st?.applicationName, 'official-app');
});
