// Compiled with `tsc --noEmit` by types.test.ts: code written against DBOS Transact's documented
// signatures must type-check against dbos-native, and (with only the import changed) against
// @dbos-inc/dbos-sdk 5.3.0 too.
import { DBOS, DBOSClient, ConfiguredInstance, Error as DBOSErrors, DBOSWorkflowConflictError, type WorkflowHandle, type WorkflowStatus, type DBOSConfig, type StepConfig, type WorkflowConfig, type WorkflowQueue, type EnqueueWorkflowOptions } from 'dbos-native';
import { Client as PgClient } from 'pg';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type ExpectTrue<T extends true> = T;

const config: DBOSConfig = {
  name: 'typed-app',
  systemDatabaseUrl: 'postgresql://postgres:dbos@localhost:5432/typed_dbos_sys',
  applicationVersion: 'v1',
  executorID: 'local',
  systemDatabaseSchemaName: 'dbos',
  systemDatabasePoolSize: 10,
  runMigrations: true,
};

class Payments {
  @DBOS.step({ retriesAllowed: true, maxAttempts: 5, intervalSeconds: 1, backoffRate: 2 })
  static async charge(amount: number): Promise<string> {
    return `charged ${amount}`;
  }

  @DBOS.workflow({ maxRecoveryAttempts: 10 })
  static async checkout(amount: number, customer: string): Promise<{ receipt: string; customer: string }> {
    const receipt = await Payments.charge(amount);
    await DBOS.sleep(1000);
    await DBOS.sleepms(10);
    await DBOS.sleepSeconds(1);
    const now: number = await DBOS.now();
    const id: string = await DBOS.randomUUID();
    const wfid: string | undefined = DBOS.workflowID;
    void [now, id, wfid];
    return { receipt, customer };
  }
}

class Configured extends ConfiguredInstance {
  constructor() {
    super('configured');
  }
}
void Configured;

const stepCfg: StepConfig = { name: 'x', retriesAllowed: false, timeoutMS: 1000 };
const wfCfg: WorkflowConfig = { name: 'y', maxRecoveryAttempts: 3, serialization: 'portable' };
void [stepCfg, wfCfg];

async function plainFn(a: number, b: string): Promise<string> {
  return `${a}${b}`;
}
const registered: (a: number, b: string) => Promise<string> = DBOS.registerWorkflow(plainFn, { name: 'plainFn' });
const step = DBOS.registerStep(async (n: number) => n + 1, { name: 'inc' });

async function usage(): Promise<void> {
  DBOS.setConfig(config);
  await DBOS.launch();

  const h1: WorkflowHandle<{ receipt: string; customer: string }> = await DBOS.startWorkflow(Payments, {
    workflowID: 'order-1',
  }).checkout(10, 'ann');
  const r1 = await h1.getResult();
  type _r1 = ExpectTrue<Equal<typeof r1, { receipt: string; customer: string }>>;
  const idOf: string = h1.workflowID;
  const st: WorkflowStatus | null = await h1.getStatus();
  void [idOf, st?.status, st?.workflowName];

  const h2: WorkflowHandle<string> = await DBOS.startWorkflow(registered, { workflowID: 'fn-1' })(1, 'x');
  const r2: string = await h2.getResult();
  const r3: string = await registered(2, 'y');
  const r4: number = await step(3);
  const r5: number = await DBOS.runStep(async () => 5, { name: 'five', retriesAllowed: true, maxAttempts: 2 });
  const r6: string | null = await DBOS.getResult<string>('fn-1', 5);
  const r7: string | null = await DBOS.getResult<string>('fn-1', { timeoutSeconds: 5, pollingIntervalMs: 100 });
  const s2: WorkflowStatus | null = await DBOS.getWorkflowStatus('fn-1');
  const retrieved: WorkflowHandle<string> = DBOS.retrieveWorkflow<string>('fn-1');
  const r8: string = await DBOS.withNextWorkflowID('next-1', () => registered(3, 'z'));
  const flags: boolean[] = [DBOS.isWithinWorkflow(), DBOS.isInStep(), DBOS.isInWorkflow(), DBOS.isInitialized()];
  void [r2, r3, r4, r5, r6, r7, s2, retrieved, r8, flags];

  // Managing workflows (the SDK's signatures).
  const listed: WorkflowStatus[] = await DBOS.listWorkflows({ status: ['SUCCESS', 'ERROR'], workflowName: 'wf', limit: 10, sortDesc: true, loadInput: false });
  const queued: WorkflowStatus[] = await DBOS.listQueuedWorkflows({ queueName: 'q', startTime: new Date().toISOString() });
  await DBOS.setWorkflowPriority('fn-1', 3);
  await DBOS.setWorkflowDelay('fn-1', 10);
  await DBOS.setWorkflowDelay('fn-1', { delayUntilEpochMS: Date.now() + 1000 });
  const resumed: WorkflowHandle<string> = await DBOS.resumeWorkflow<string>('fn-1', { queueName: 'q' });
  const mgmt = await DBOSClient.create({ systemDatabaseUrl: 'postgresql://localhost/x' });
  const clientListed: WorkflowStatus[] = await mgmt.listQueuedWorkflows({ workflow_id_prefix: ['a', 'b'] });
  await mgmt.setWorkflowPriority('fn-1', 1);
  await mgmt.setWorkflowDelay('fn-1', { delaySeconds: 5 });
  const clientResumed: WorkflowHandle<unknown>[] = await mgmt.resumeWorkflows(['fn-1'], { queueName: 'q' });
  void [listed, queued, resumed, clientListed, clientResumed];

  // Communicating with workflows: the documented signatures, and the SDK's newer forms.
  await DBOS.send<{ ok: boolean }>('order-1', { ok: true }, 'topic');
  await DBOS.send('order-1', 'm', undefined, 'idempotency-key', { serializationType: 'portable' });
  const m1: string | null = await DBOS.recv<string>('topic', 10);
  const m2: number | null = await DBOS.recv<number>(undefined, { timeoutSeconds: 1, pollingIntervalMs: 50 });
  const m3: Date | null = await DBOS.recv<Date>('t', { deadlineEpochMS: Date.now() + 1000 });
  await DBOS.setEvent<number>('k', 1);
  await DBOS.setEvent('k', { a: 1 }, { serializationType: 'native' });
  const e1: number | null = await DBOS.getEvent<number>('order-1', 'k', 5);
  const e2: string | null = await DBOS.getEvent<string>('order-1', 'k', { timeoutSeconds: 5 });
  await DBOS.writeStream<{ step: number }>('s', { step: 1 });
  await DBOS.writeStream('s', 'x', { serializationType: 'portable' });
  await DBOS.closeStream('s');
  const gen: AsyncGenerator<{ step: number }, void, unknown> = DBOS.readStream<{ step: number }>('order-1', 's');
  for await (const v of gen) void v.step;
  for await (const v of DBOS.readStream<string>('order-1', 's', { offset: 2, timeoutSeconds: 1, pollingIntervalMs: 10 })) void v.length;
  const one: number = await DBOS.readStreamOffset<number>('order-1', 's', 0, { timeoutSeconds: 1 });
  const client: DBOSClient = await DBOSClient.create({ systemDatabaseUrl: 'postgresql://localhost/x' });
  await client.send<string>('order-1', 'm', 't', 'key');
  const ce: number | null = await client.getEvent<number>('order-1', 'k', 1);
  for await (const v of client.readStream<number>('order-1', 's', { offset: 0 })) void (v + 1);
  const co: number = await client.readStreamOffset<number>('order-1', 's', 1);
  const ch: WorkflowHandle<string> = client.retrieveWorkflow<string>('order-1');
  await client.destroy();
  void [m1, m2, m3, e1, e2, one, ce, co, ch];

  try {
    await registered(1, 'a');
  } catch (e) {
    if (e instanceof DBOSErrors.DBOSMaxStepRetriesError) void e.errors;
    if (e instanceof DBOSErrors.DBOSError) void e.dbosErrorCode;
    if (e instanceof DBOSWorkflowConflictError) void e.message;
  }
  await DBOS.shutdown();
}
void usage;

async function queueUsage(): Promise<void> {
  const q: WorkflowQueue = await DBOS.registerQueue('q', {
    globalConcurrency: 4,
    workerConcurrency: 2,
    rateLimit: { limitPerPeriod: 10, periodSec: 1 },
    partitionConcurrency: 2,
    partitionWorkerConcurrency: 1,
    partitionRateLimit: { limitPerPeriod: 5, periodSec: 2 },
    minPollingIntervalMs: 500,
    onConflict: 'never_update',
  });
  const again: WorkflowQueue | null = await DBOS.retrieveQueue('q');
  const mine: WorkflowQueue[] = await DBOS.listQueues();
  const named: WorkflowQueue[] = await DBOS.listQueues(['a', 'b']);
  await DBOS.deleteQueue('q');
  const limit: number | undefined = await q.getGlobalConcurrency();
  const rate = await q.getPartitionRateLimit();
  type _rate = ExpectTrue<Equal<typeof rate, { limitPerPeriod: number; periodSec: number } | undefined>>;
  await q.setGlobalConcurrency(undefined);
  await q.setRateLimit({ limitPerPeriod: 1, periodSec: 1 });
  await q.setMinPollingIntervalMs(100);
  const flags: [string, boolean, boolean, string | undefined] = [q.name, q.databaseBacked, q.clientBound, q.applicationName];
  type _keys = ExpectTrue<
    Equal<
      keyof WorkflowQueue,
      | 'name'
      | 'concurrency'
      | 'rateLimit'
      | 'workerConcurrency'
      | 'partitionConcurrency'
      | 'partitionWorkerConcurrency'
      | 'partitionRateLimit'
      | 'minPollingIntervalMs'
      | 'applicationName'
      | 'databaseBacked'
      | 'clientBound'
      | 'setConcurrency'
      | 'setGlobalConcurrency'
      | 'setWorkerConcurrency'
      | 'setRateLimit'
      | 'setPartitionConcurrency'
      | 'setPartitionWorkerConcurrency'
      | 'setPartitionRateLimit'
      | 'setMinPollingIntervalMs'
      | 'getConcurrency'
      | 'getGlobalConcurrency'
      | 'getWorkerConcurrency'
      | 'getRateLimit'
      | 'getPartitionConcurrency'
      | 'getPartitionWorkerConcurrency'
      | 'getPartitionRateLimit'
      | 'getMinPollingIntervalMs'
    >
  >;
  const client = await DBOSClient.create({ systemDatabaseUrl: 'postgresql://localhost/x', applicationName: 'app' });
  const cq: WorkflowQueue = await client.registerQueue('c', { concurrency: 2, applicationName: 'other', onConflict: 'always_update' });
  const found: WorkflowQueue | null = await client.retrieveQueue('c');
  const listed: WorkflowQueue[] = await client.listQueues('other');
  await client.deleteQueue('c');
  // @ts-expect-error: limits are numbers
  await DBOS.registerQueue('bad', { globalConcurrency: '2' });
  // @ts-expect-error: onConflict is one of three modes
  await DBOS.registerQueue('bad', { onConflict: 'sometimes' });
  // @ts-expect-error: a rate limit needs both fields
  await q.setRateLimit({ limitPerPeriod: 1 });
  void [again, mine, named, limit, flags, cq, found, listed];
}
void queueUsage;

async function enqueueUsage(): Promise<void> {
  const every: EnqueueWorkflowOptions = {
    queueName: 'q',
    workflowName: 'w',
    queuePartitionKey: 'k',
    delaySeconds: 1,
    attributes: { a: 1 },
    authenticatedUser: 'u',
    authenticatedRoles: ['r'],
    applicationName: 'a',
    appVersion: 'v',
  };
  const byName: WorkflowHandle<string> = await DBOS.enqueueWorkflowWithOptions<string>(every, 1, 'x');
  const portable: WorkflowHandle<number> = await DBOS.enqueueWorkflowWithOptionsPortable<number>(every, [1], { k: 2 });
  const options = { queuePartitionKey: 'k', delaySeconds: 2, applicationVersion: 'v', applicationName: 'a' };
  await DBOS.startWorkflow(registered, { queueName: 'q', enqueueOptions: options })(1, 'x');
  const client = await DBOSClient.create({ systemDatabaseUrl: 'postgresql://localhost/x' });
  const pg = new PgClient();
  await pg.query('BEGIN');
  const inTx = await client.enqueueInTransaction<typeof registered>(pg, { ...every, duplicationPolicy: 'reject' }, 1, 'x');
  const result: string = await inTx.getResult();
  const inTxPortable = await client.enqueuePortableInTransaction<number>(pg, every, [1], { k: 1 });
  // Without a type argument any arguments are accepted (api-coverage.test.ts relies on this).
  await client.enqueue(every, 1, 'x', { any: true });
  await client.enqueueInTransaction(pg, every, 1, 'x', { any: true });
  void [byName, portable, result, inTxPortable];
}
void enqueueUsage;

async function negative(): Promise<void> {
  // @ts-expect-error: the wrong argument type is rejected
  void DBOS.startWorkflow(Payments).checkout('ten', 'ann');
  // @ts-expect-error: handles are typed by the workflow's return type
  const wrong: WorkflowHandle<number> = await DBOS.startWorkflow(registered)(1, 'x');
  // @ts-expect-error: recv-style misuse of types: sleep takes a number
  await DBOS.sleep('1s');
  // @ts-expect-error: a stream's values are typed
  for await (const v of DBOS.readStream<number>('id', 'k')) v.toUpperCase();
  // @ts-expect-error: readStreamOffset takes a numeric offset
  await DBOS.readStreamOffset('id', 'k', '0');
  void wrong;
}
void negative;

export {};
