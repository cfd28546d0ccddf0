// Queue registration (issue 14): DBOS.registerQueue / retrieveQueue / listQueues / deleteQueue, the same on
// DBOSClient, and the WorkflowQueue object's getters and setters, on a real Postgres. Every refusal is checked
// against the official SDK 5.3.0 (same class, same message) and leaves dbos.queues unchanged; the rows we write
// are the rows the official SDK writes, and each side reads the other's queues field for field.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, DBOSClient, Error as DBOSErrors, type WorkflowQueue } from 'dbos-native';
import { DBOS as OfficialDBOS, DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { freshDatabase, query } from './helpers/db';
import { internalQueue } from '../ts/wfqueue';

const APP = 'queue-app';
let url = '';
let client: DBOSClient;
let official: OfficialClient;

before(async () => {
  url = await freshDatabase('dbosn_queues_registry');
  DBOS.setConfig({ name: APP, systemDatabaseUrl: url, applicationVersion: 'qv1' });
});

after(async () => {
  await client?.destroy();
  await official?.destroy();
  await DBOS.shutdown();
});

type Row = Record<string, unknown>;

async function queueRows(): Promise<Row[]> {
  return query(url, 'SELECT * FROM dbos.queues ORDER BY name');
}

async function row(name: string): Promise<Row | undefined> {
  return (await query(url, 'SELECT * FROM dbos.queues WHERE name = $1', [name]))[0];
}

/** The row without what differs between two registrations of the same configuration. */
function config(r: Row | undefined): Row {
  assert.ok(r, 'queue row missing');
  const { queue_id, name, created_at, updated_at, ...rest } = r;
  assert.match(String(queue_id), /^[0-9a-f-]{36}$/);
  assert.equal(typeof name, 'string');
  assert.ok(Number(created_at) > 0 && Number(updated_at) > 0);
  return rest;
}

/** The error a call rejects with (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error, `not an Error: ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

/** Same class (by constructor name) and message. */
function sameError(ours: Error, theirs: Error, what: string): void {
  assert.equal(ours.constructor.name, theirs.constructor.name, what);
  assert.equal(ours.message, theirs.message, what);
}

/** A queue's public fields, as a plain object in declaration order. */
function fields(q: WorkflowQueue | { name: string } | null): Row {
  assert.ok(q);
  return { ...q };
}

test('queue calls before launch reject with the SDK TypeError; after launch they work', async () => {
  const calls: [string, () => Promise<unknown>][] = [
    ['registerQueue', () => DBOS.registerQueue('early')],
    ['retrieveQueue', () => DBOS.retrieveQueue('early')],
    ['listQueues', () => DBOS.listQueues()],
    ['deleteQueue', () => DBOS.deleteQueue('early')],
  ];
  for (const [what, call] of calls) {
    const e = await rejection(call());
    assert.ok(e instanceof TypeError, what);
    assert.equal(e.message, `\`DBOS.launch()\` must be called before running ${what}.`);
  }
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: APP });
  official = await OfficialClient.create({ systemDatabaseUrl: url, applicationName: APP });
  assert.deepEqual(await queueRows(), []);
});

test('each validation rule: the official SDK class and message, and dbos.queues unchanged', async () => {
  await DBOS.registerQueue('existing', { globalConcurrency: 3 });
  const before = await queueRows();
  const cases: [string, string, Record<string, unknown>][] = [
    ['reserved name', '_dbos_mine', {}],
    ['priorityEnabled', 'v', { priorityEnabled: true }],
    ['partitionQueue', 'v', { partitionQueue: false }],
    ['concurrency and globalConcurrency', 'v', { concurrency: 1, globalConcurrency: 1 }],
    ['partitionConcurrency 0', 'v', { partitionConcurrency: 0 }],
    ['partitionWorkerConcurrency 0', 'v', { partitionWorkerConcurrency: 0 }],
    ['partitionRateLimit half', 'v', { partitionRateLimit: { limitPerPeriod: 1 } }],
    ['partitionWorker > partition', 'v', { partitionConcurrency: 1, partitionWorkerConcurrency: 2 }],
    ['partitionWorker > worker', 'v', { workerConcurrency: 1, partitionWorkerConcurrency: 2 }],
    ['worker > global', 'v', { globalConcurrency: 1, workerConcurrency: 2 }],
    ['partition > global', 'v', { globalConcurrency: 1, partitionConcurrency: 2 }],
    ['partitionWorker > concurrency', 'v', { concurrency: 1, partitionWorkerConcurrency: 2 }],
    ['minPollingIntervalMs 0', 'v', { minPollingIntervalMs: 0 }],
    ['rateLimit half', 'v', { rateLimit: { periodSec: 2 } }],
    ['existing queue, bad options', 'existing', { globalConcurrency: 1, workerConcurrency: 2 }],
  ];
  for (const [what, name, options] of cases) {
    const theirs = await rejection(official.registerQueue(name, options));
    assert.equal(theirs.constructor, Error, `${what}: the SDK throws a plain Error`);
    sameError(await rejection(DBOS.registerQueue(name, options)), theirs, `DBOS.registerQueue: ${what}`);
    sameError(await rejection(client.registerQueue(name, options)), theirs, `DBOSClient.registerQueue: ${what}`);
  }
  // What only Postgres refused in the SDK (a fractional or huge limit, NaN) and an unknown mode: DBOSError.
  const typed: [string, Record<string, unknown>][] = [
    ['fractional', { globalConcurrency: 2.5 }],
    ['huge', { workerConcurrency: 2 ** 31 }],
    ['string', { partitionConcurrency: '3' }],
    ['NaN polling', { minPollingIntervalMs: Number.NaN }],
    ['infinite period', { rateLimit: { limitPerPeriod: 1, periodSec: Infinity } }],
    ['unknown mode', { onConflict: 'sometimes' }],
    ['null rate limit', { rateLimit: null }],
  ];
  for (const [what, options] of typed) {
    const e = await rejection(DBOS.registerQueue('v', options));
    assert.ok(e instanceof DBOSErrors.DBOSError, `${what}: ${e.constructor.name}`);
    assert.match(e.message, /^Invalid /, what);
  }
  const clientOnly = await rejection(client.registerQueue('v', { onConflict: 'update_if_latest_version' }));
  sameError(clientOnly, await rejection(official.registerQueue('v', { onConflict: 'update_if_latest_version' })), 'client latest');
  assert.deepEqual(await queueRows(), before);
});

test('registered rows are the official SDK rows, and each side reads the other field for field', async () => {
  const full = {
    globalConcurrency: 10,
    workerConcurrency: 5,
    rateLimit: { limitPerPeriod: 3, periodSec: 1.5 },
    partitionConcurrency: 4,
    partitionWorkerConcurrency: 2,
    partitionRateLimit: { limitPerPeriod: 7, periodSec: 0.5 },
    minPollingIntervalMs: 250,
  };
  const configs: [string, Record<string, unknown>][] = [
    ['full', full],
    ['bare', {}],
    ['deprecated', { concurrency: 6 }],
    ['partition-rate', { partitionRateLimit: { limitPerPeriod: 1, periodSec: 2 } }],
  ];
  for (const [label, options] of configs) {
    const ours = await client.registerQueue(`ours-${label}`, options);
    const theirs = await official.registerQueue(`theirs-${label}`, options);
    assert.deepEqual(config(await row(`ours-${label}`)), config(await row(`theirs-${label}`)), label);
    assert.deepEqual({ ...fields(ours), name: '' }, { ...fields(theirs), name: '' }, label);
    // Cross reads: ours of theirs, theirs of ours.
    assert.deepEqual(fields(await client.retrieveQueue(`theirs-${label}`)), fields(theirs), label);
    assert.deepEqual(fields(await official.retrieveQueue(`ours-${label}`)), fields(ours), label);
    // Through DBOS: the same fields, bound to the launched DBOS rather than a client.
    assert.deepEqual(fields(await DBOS.retrieveQueue(`theirs-${label}`)), { ...fields(theirs), clientBound: false }, label);
  }
  const r = await row('ours-full');
  assert.equal(r?.priority_enabled, true);
  assert.equal(r?.partition_queue, true);
  assert.equal(r?.polling_interval_sec, 0.25);
  assert.equal(r?.application_name, APP);
  const bare = await row('ours-bare');
  assert.deepEqual(
    [bare?.concurrency, bare?.worker_concurrency, bare?.rate_limit_max, bare?.partition_concurrency, bare?.partition_queue, bare?.polling_interval_sec],
    [null, null, null, null, false, 1],
  );
  const q = await DBOS.registerQueue('dbos-full', full);
  assert.deepEqual(fields(q), { ...fields(await official.retrieveQueue('dbos-full')), clientBound: false });
  assert.deepEqual(config(await row('dbos-full')), config(await row('ours-full')));
  assert.equal(await DBOS.retrieveQueue('missing'), null);
  assert.equal(await client.retrieveQueue('missing'), null);
});

test("the official DBOS.registerQueue writes the row ours writes; each DBOS reads the other's queue and refuses it", async () => {
  OfficialDBOS.setConfig({ name: 'official-app', systemDatabaseUrl: url, applicationVersion: 'ov1', logLevel: 'error' });
  await OfficialDBOS.launch();
  try {
    const options = { globalConcurrency: 8, workerConcurrency: 2, partitionRateLimit: { limitPerPeriod: 2, periodSec: 3 }, minPollingIntervalMs: 1500 };
    const theirs = await OfficialDBOS.registerQueue('sdk-dbos', options);
    const ours = await DBOS.registerQueue('our-dbos', options);
    assert.deepEqual(config(await row('our-dbos')), { ...config(await row('sdk-dbos')), application_name: APP });
    assert.deepEqual({ ...fields(ours), name: '' }, { ...fields(theirs), name: '', applicationName: APP });
    assert.deepEqual(fields(await OfficialDBOS.retrieveQueue('our-dbos')), fields(ours));
    assert.deepEqual(fields(await DBOS.retrieveQueue('sdk-dbos')), fields(theirs));
    // Each refuses the other's queue with the same message, names swapped.
    const theirRefusal = await rejection(OfficialDBOS.registerQueue('our-dbos', options));
    const ourRefusal = await rejection(DBOS.registerQueue('sdk-dbos', options));
    const swapped = theirRefusal.message
      .replaceAll('our-dbos', 'sdk-dbos')
      .replaceAll(APP, '<ours>')
      .replaceAll('official-app', APP)
      .replaceAll('<ours>', 'official-app');
    assert.equal(ourRefusal.constructor.name, theirRefusal.constructor.name);
    assert.equal(ourRefusal.message, swapped);
    // Their setter, our getter, and the other way round.
    await theirs.setWorkerConcurrency(1);
    assert.equal(await (await DBOS.retrieveQueue('sdk-dbos'))?.getWorkerConcurrency(), 1);
    await ours.setPartitionRateLimit(undefined);
    assert.equal(await (await OfficialDBOS.retrieveQueue('our-dbos'))?.getPartitionRateLimit(), undefined);
    assert.deepEqual(config(await row('our-dbos')), { ...config(await row('sdk-dbos')), application_name: APP, worker_concurrency: 2, partition_rate_limit_max: null, partition_rate_limit_period_sec: null, partition_queue: false });
  } finally {
    await OfficialDBOS.shutdown();
  }
});

test('onConflict: always_update, never_update, update_if_latest_version against application_versions', async () => {
  await DBOS.registerQueue('mode', { globalConcurrency: 5 });
  const first = await row('mode');
  const q = await DBOS.registerQueue('mode', { globalConcurrency: 7, onConflict: 'always_update' });
  assert.equal(q.concurrency, 7);
  assert.equal((await row('mode'))?.concurrency, 7);
  assert.equal((await row('mode'))?.queue_id, first?.queue_id);
  // never_update leaves the row and returns it as stored, not as asked.
  const kept = await DBOS.registerQueue('mode', { globalConcurrency: 9, workerConcurrency: 1, onConflict: 'never_update' });
  assert.equal(kept.concurrency, 7);
  assert.equal(kept.workerConcurrency, undefined);
  assert.equal((await row('mode'))?.concurrency, 7);
  // The default, update_if_latest_version: this process runs the latest version, so it updates...
  await DBOS.registerQueue('mode', { globalConcurrency: 8 });
  assert.equal((await row('mode'))?.concurrency, 8);
  // ...until a newer version of this application is registered.
  await query(url, "INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp, application_name) VALUES ('newer-id', 'qv2', $1, $2)", [Date.now() + 60_000, APP]);
  try {
    const stale = await DBOS.registerQueue('mode', { globalConcurrency: 2 });
    assert.equal(stale.concurrency, 8);
    assert.equal((await row('mode'))?.concurrency, 8);
    // A new queue is still created.
    assert.equal((await DBOS.registerQueue('mode-new', { globalConcurrency: 2 })).concurrency, 2);
    // Another application's newer version does not make this one stale.
    await query(url, "UPDATE dbos.application_versions SET application_name = 'elsewhere' WHERE version_id = 'newer-id'");
    await DBOS.registerQueue('mode', { globalConcurrency: 3 });
    assert.equal((await row('mode'))?.concurrency, 3);
  } finally {
    await query(url, "DELETE FROM dbos.application_versions WHERE version_id = 'newer-id'");
  }
});

test('a queue owned by another application is refused in every mode (the SDK message); an unclaimed one is claimed', async () => {
  const otherClient = await OfficialClient.create({ systemDatabaseUrl: url, applicationName: 'other-app' });
  const ourThird = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: 'third-app' });
  const theirThird = await OfficialClient.create({ systemDatabaseUrl: url, applicationName: 'third-app' });
  const unnamed = await DBOSClient.create({ systemDatabaseUrl: url });
  try {
    await otherClient.registerQueue('taken', { globalConcurrency: 4 });
    const before = await queueRows();
    for (const onConflict of ['always_update', 'never_update'] as const) {
      const theirs = await rejection(theirThird.registerQueue('taken', { onConflict }));
      assert.equal(theirs.constructor.name, 'DBOSError');
      sameError(await rejection(ourThird.registerQueue('taken', { onConflict })), theirs, onConflict);
      // The applicationName option names the owner, as the client's own name does.
      sameError(await rejection(client.registerQueue('taken', { onConflict, applicationName: 'third-app' })), theirs, onConflict);
    }
    for (const onConflict of ['always_update', 'never_update', 'update_if_latest_version'] as const) {
      const e = await rejection(DBOS.registerQueue('taken', { onConflict, globalConcurrency: 1 }));
      assert.ok(e instanceof DBOSErrors.DBOSError, onConflict);
      assert.equal(
        e.message,
        `Queue 'taken' is already registered by application 'other-app' in this system database. Queue names must be unique ` +
          `across applications sharing a system database. Either give '${APP}' a different queue name, or, if 'other-app' ` +
          `was renamed to '${APP}', re-own its rows first with dbos rename-application`,
      );
    }
    assert.deepEqual(await queueRows(), before);
    // A client without an application writes an unclaimed row and may update an owned one, keeping its owner.
    await unnamed.registerQueue('taken', { globalConcurrency: 2 });
    assert.equal((await row('taken'))?.application_name, 'other-app');
    assert.equal((await row('taken'))?.concurrency, 2);
    await unnamed.registerQueue('unclaimed', { globalConcurrency: 2 });
    assert.equal((await row('unclaimed'))?.application_name, null);
    await DBOS.registerQueue('unclaimed', { onConflict: 'never_update' });
    assert.equal((await row('unclaimed'))?.application_name, null);
    // DBOS.registerQueue has no applicationName option: one passed anyway is ignored, as in the SDK.
    const claimed = await DBOS.registerQueue('unclaimed', { onConflict: 'always_update', globalConcurrency: 3, applicationName: 'x' } as never);
    assert.equal(claimed.applicationName, APP);
    assert.equal((await row('unclaimed'))?.application_name, APP);
  } finally {
    await otherClient.destroy();
    await ourThird.destroy();
    await theirThird.destroy();
    await unnamed.destroy();
  }
});

test('listQueues: own plus unclaimed by default, named applications, all for an unnamed client', async () => {
  await query(url, 'DELETE FROM dbos.queues');
  const other = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: 'list-other' });
  const unnamed = await DBOSClient.create({ systemDatabaseUrl: url });
  try {
    await DBOS.registerQueue('l-mine');
    await other.registerQueue('l-other');
    await unnamed.registerQueue('l-free');
    const names = (qs: WorkflowQueue[]) => qs.map((q) => q.name).sort();
    assert.deepEqual(names(await DBOS.listQueues()), ['l-free', 'l-mine']);
    assert.deepEqual(names(await DBOS.listQueues('list-other')), ['l-free', 'l-other']);
    assert.deepEqual(names(await DBOS.listQueues([APP, 'list-other'])), ['l-free', 'l-mine', 'l-other']);
    assert.deepEqual(names(await DBOS.listQueues('')), ['l-free', 'l-mine', 'l-other']);
    assert.deepEqual(names(await other.listQueues()), ['l-free', 'l-other']);
    assert.deepEqual(names(await unnamed.listQueues()), ['l-free', 'l-mine', 'l-other']);
    assert.deepEqual(names(await official.listQueues()), names(await client.listQueues()));
    for (const q of await client.listQueues()) assert.equal(q.clientBound, true);
    for (const q of await DBOS.listQueues()) assert.equal(q.clientBound, false);
  } finally {
    await other.destroy();
    await unnamed.destroy();
  }
});

test('getters re-read the row; setters re-check bounds against it, write one column and updated_at; undefined clears', async () => {
  const q = await DBOS.registerQueue('conf', { globalConcurrency: 10 });
  await query(url, "UPDATE dbos.queues SET updated_at = 1 WHERE name = 'conf'");
  await q.setWorkerConcurrency(4);
  assert.equal((await row('conf'))?.worker_concurrency, 4);
  assert.ok(Number((await row('conf'))?.updated_at) > 1);
  assert.equal(q.workerConcurrency, 4);
  // Another process lowers the global limit: the getter sees it, the setter is checked against it.
  await query(url, "UPDATE dbos.queues SET concurrency = 3 WHERE name = 'conf'");
  assert.equal(q.concurrency, 10);
  const before = await row('conf');
  const bound = await rejection(q.setWorkerConcurrency(5));
  assert.equal(bound.constructor, Error);
  assert.equal(bound.message, 'workerConcurrency must be less than or equal to concurrency');
  assert.deepEqual(await row('conf'), before);
  await query(url, "UPDATE dbos.queues SET concurrency = 4 WHERE name = 'conf'");
  assert.equal(q.concurrency, 3);
  assert.equal(await q.getGlobalConcurrency(), 4);
  await query(url, "UPDATE dbos.queues SET concurrency = 3 WHERE name = 'conf'");
  assert.equal(await q.getConcurrency(), 3);
  assert.equal((await rejection(q.setGlobalConcurrency(2))).message, 'workerConcurrency must be less than or equal to concurrency');
  await q.setGlobalConcurrency(undefined);
  assert.equal((await row('conf'))?.concurrency, null);
  assert.equal(await q.getGlobalConcurrency(), undefined);
  // Partition limits: partition_queue follows them.
  await q.setPartitionConcurrency(3);
  assert.equal((await row('conf'))?.partition_queue, true);
  assert.equal((await rejection(q.setPartitionWorkerConcurrency(4))).message, 'partitionWorkerConcurrency must be less than or equal to partitionConcurrency');
  assert.equal((await rejection(q.setPartitionConcurrency(0))).message, 'partitionConcurrency must be at least 1');
  await q.setPartitionWorkerConcurrency(2);
  assert.equal((await rejection(q.setPartitionConcurrency(1))).message, 'partitionConcurrency must be greater than or equal to partitionWorkerConcurrency');
  await q.setPartitionConcurrency(undefined);
  assert.equal((await row('conf'))?.partition_queue, true);
  await q.setPartitionWorkerConcurrency(undefined);
  assert.equal((await row('conf'))?.partition_queue, false);
  await q.setPartitionRateLimit({ limitPerPeriod: 5, periodSec: 2 });
  assert.deepEqual([(await row('conf'))?.partition_rate_limit_max, (await row('conf'))?.partition_rate_limit_period_sec, (await row('conf'))?.partition_queue], [5, 2, true]);
  assert.deepEqual(await q.getPartitionRateLimit(), { limitPerPeriod: 5, periodSec: 2 });
  await q.setPartitionRateLimit(undefined);
  assert.equal((await row('conf'))?.partition_queue, false);
  await q.setRateLimit({ limitPerPeriod: 9, periodSec: 0.5 });
  assert.deepEqual(await q.getRateLimit(), { limitPerPeriod: 9, periodSec: 0.5 });
  assert.equal((await rejection(q.setRateLimit({ limitPerPeriod: 1 } as never))).message, 'rateLimit must specify both limitPerPeriod and periodSec');
  assert.ok((await rejection(q.setRateLimit(null as never))) instanceof DBOSErrors.DBOSError);
  await q.setRateLimit(undefined);
  assert.deepEqual([(await row('conf'))?.rate_limit_max, (await row('conf'))?.rate_limit_period_sec], [null, null]);
  await q.setMinPollingIntervalMs(500);
  assert.equal((await row('conf'))?.polling_interval_sec, 0.5);
  assert.equal(await q.getMinPollingIntervalMs(), 500);
  assert.equal((await rejection(q.setMinPollingIntervalMs(0))).message, 'minPollingIntervalMs must be positive');
  assert.ok((await rejection(q.setWorkerConcurrency(1.5))) instanceof DBOSErrors.DBOSError);
  assert.equal((await row('conf'))?.worker_concurrency, 4);
  // The official SDK reads what our setters wrote.
  const theirs = await official.retrieveQueue('conf');
  assert.deepEqual({ ...fields(theirs), clientBound: false }, fields(q));
  // Our setters through a client, and theirs seen by us.
  const cq = await client.retrieveQueue('conf');
  await cq?.setWorkerConcurrency(2);
  await theirs?.setGlobalConcurrency(6);
  assert.equal(await q.getWorkerConcurrency(), 2);
  assert.equal(await q.getGlobalConcurrency(), 6);
});

test('deleteQueue: the row goes; getters and re-checking setters reject with the SDK message', async () => {
  const q = await DBOS.registerQueue('gone');
  const cq = await client.retrieveQueue('gone');
  const theirs = await official.retrieveQueue('gone');
  await DBOS.deleteQueue('gone');
  assert.equal(await row('gone'), undefined);
  assert.equal(await DBOS.retrieveQueue('gone'), null);
  await DBOS.deleteQueue('gone');
  for (const [what, call, their] of [
    ['getGlobalConcurrency', () => q.getGlobalConcurrency(), () => theirs!.getGlobalConcurrency()],
    ['getMinPollingIntervalMs', () => cq!.getMinPollingIntervalMs(), () => theirs!.getMinPollingIntervalMs()],
    ['setWorkerConcurrency', () => q.setWorkerConcurrency(1), () => theirs!.setWorkerConcurrency(1)],
    ['setPartitionRateLimit', () => cq!.setPartitionRateLimit(undefined), () => theirs!.setPartitionRateLimit(undefined)],
  ] as const) {
    const e = await rejection(call());
    assert.equal(e.message, "Queue 'gone' was not found in the database.", what);
    sameError(e, await rejection(their()), what);
  }
  await client.registerQueue('gone2');
  await client.deleteQueue('gone2');
  assert.equal(await row('gone2'), undefined);
});

test('an internal queue refuses configuration; a destroyed client rejects', async () => {
  const internal = internalQueue('_dbos_internal_queue');
  assert.equal(internal.databaseBacked, false);
  assert.equal(await internal.getGlobalConcurrency(), undefined);
  const e = await rejection(internal.setGlobalConcurrency(1));
  assert.equal(e.constructor, Error);
  assert.equal(
    e.message,
    'Cannot configure queue _dbos_internal_queue: dynamic configuration is only supported for queues registered via DBOS.registerQueue.',
  );
  const short = await DBOSClient.create({ systemDatabaseUrl: url });
  const q = await short.registerQueue('short-lived');
  await short.destroy();
  assert.ok((await rejection(q.getGlobalConcurrency())) instanceof DBOSErrors.DBOSError);
  assert.ok((await rejection(short.listQueues())) instanceof DBOSErrors.DBOSError);
});

test('a queue from DBOS follows the launched DBOS: after shutdown it rejects as the SDK does, after a relaunch it works', async () => {
  const q = await DBOS.registerQueue('relaunch', { globalConcurrency: 2 });
  await DBOS.shutdown();
  for (const call of [() => q.getGlobalConcurrency(), () => q.setWorkerConcurrency(1), () => q.setMinPollingIntervalMs(10)]) {
    const e = await rejection(call());
    assert.equal(e.constructor, Error);
    assert.equal(e.message, "Cannot access system database for queue relaunch: DBOS has not been launched.");
  }
  await DBOS.launch();
  assert.equal(await q.getGlobalConcurrency(), 2);
  await q.setWorkerConcurrency(1);
  assert.equal((await row('relaunch'))?.worker_concurrency, 1);
});

test('racing registrations of a new name by two applications: one owns it, every call of the other is refused', async () => {
  const a = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: 'race-a' });
  const b = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: 'race-b' });
  try {
    for (let round = 0; round < 20; round++) {
      const name = `race-${round}`;
      const calls = [a, b, a, b].map((c, i) => c.registerQueue(name, { globalConcurrency: i + 1 }).then(
        (q) => ({ app: c.applicationName, ok: true, q }),
        (e: unknown) => ({ app: c.applicationName, ok: false, q: e }),
      ));
      const results = await Promise.all(calls);
      const stored = await row(name);
      for (const r of results) {
        // Whoever the row belongs to registered it; the other application's calls all failed with DBOSError.
        assert.equal(r.ok, r.app === stored?.application_name, `round ${round}: ${r.app}`);
        if (!r.ok) assert.ok(r.q instanceof DBOSErrors.DBOSError);
      }
      const winners = results.filter((r) => r.ok).map((r) => (r.q as WorkflowQueue).concurrency);
      assert.ok(winners.includes(Number(stored?.concurrency)), `round ${round}: the stored limit is a winner's`);
    }
  } finally {
    await a.destroy();
    await b.destroy();
  }
});
