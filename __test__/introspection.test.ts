// listWorkflowSteps on DBOS and DBOSClient: the same workflow run by us and by the official SDK 5.3.0 lists the
// same operations under the same names (steps, children, sleeps, messages, events, now); on our database our
// listing equals the official client's; paging, unknown workflows and bad input.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS as OfficialDBOS, DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as E, type StepInfo } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

/** The DBOS calls the workflow makes, so that one body runs on either SDK. */
interface Api {
  step(name: string, fn: () => Promise<unknown>): Promise<unknown>;
  child(id: string): Promise<string>;
  sleep(ms: number): Promise<void>;
  send(dest: string, msg: string, topic: string): Promise<void>;
  recv(topic: string): Promise<string | null>;
  setEvent(key: string, value: string): Promise<void>;
  getEvent(id: string, key: string): Promise<string | null>;
  now(): Promise<number>;
  id(): string;
}

async function body(api: Api): Promise<string> {
  await api.step('addOne', async () => 41 + 1);
  try {
    await api.step('boom', async () => {
      throw new Error('step failed');
    });
  } catch {
    // recorded as the step's error
  }
  const child = await api.child(`${api.id()}-kid`);
  await api.sleep(1);
  await api.send(api.id(), 'hello', 'self');
  const got = await api.recv('self');
  await api.setEvent('k', 'v');
  const ev = await api.getEvent(api.id(), 'k');
  await api.now();
  return `${child}/${got}/${ev}`;
}

const ourChild = DBOS.registerWorkflow(async (s: string) => `child ${s}`, { name: 'stepsChild' });
const ours = DBOS.registerWorkflow(
  async () =>
    body({
      step: (name, fn) => DBOS.runStep(fn, { name }),
      child: async (id) => (await DBOS.startWorkflow(ourChild, { workflowID: id })('x')).getResult(),
      sleep: (ms) => DBOS.sleep(ms),
      send: (d, m, t) => DBOS.send(d, m, t),
      recv: (t) => DBOS.recv<string>(t, 5),
      setEvent: (k, v) => DBOS.setEvent(k, v),
      getEvent: (id, k) => DBOS.getEvent<string>(id, k, 5),
      now: () => DBOS.now(),
      id: () => DBOS.workflowID ?? '',
    }),
  { name: 'stepsWorkflow' },
);
/** Lists its own steps from workflow code: recorded as one step named as the SDK names it. */
const introspector = DBOS.registerWorkflow(
  async (id: string) => (await DBOS.listWorkflowSteps(id))?.length ?? -1,
  { name: 'stepsIntrospector' },
);

const theirChild = OfficialDBOS.registerWorkflow(async (s: string) => `child ${s}`, { name: 'stepsChild' });
const theirs = OfficialDBOS.registerWorkflow(
  async () =>
    body({
      step: (name, fn) => OfficialDBOS.runStep(fn, { name }),
      child: async (id) => (await OfficialDBOS.startWorkflow(theirChild, { workflowID: id })('x')).getResult(),
      sleep: (ms) => OfficialDBOS.sleep(ms),
      send: (d, m, t) => OfficialDBOS.send(d, m, t),
      recv: (t) => OfficialDBOS.recv<string>(t, 5),
      setEvent: (k, v) => OfficialDBOS.setEvent(k, v),
      getEvent: (id, k) => OfficialDBOS.getEvent<string>(id, k, 5),
      now: () => OfficialDBOS.now(),
      id: () => OfficialDBOS.workflowID ?? '',
    }),
  { name: 'stepsWorkflow' },
);

type OfficialStepInfo = NonNullable<Awaited<ReturnType<typeof OfficialDBOS.listWorkflowSteps>>>[number];

let url = '';
let client: DBOSClient;
let official: OfficialClient;

before(async () => {
  url = await freshDatabase('dbosn_introspection');
  DBOS.setConfig({ name: 'steps-app', systemDatabaseUrl: url });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url });
  official = await OfficialClient.create({ systemDatabaseUrl: url });
});

after(async () => {
  await client.destroy();
  await official.destroy();
  await DBOS.shutdown();
});

/** What two listings must agree on (errors compared by message; `acrossRuns`: recorded times as their type). */
function shape(steps: readonly (StepInfo | OfficialStepInfo)[] | undefined, acrossRuns = false): unknown {
  const timed = (s: StepInfo | OfficialStepInfo) => acrossRuns && (s.name === 'DBOS.sleep' || s.name === 'DBOS.now');
  return steps?.map((s) => ({
    functionID: s.functionID,
    name: s.name,
    output: timed(s) ? typeof s.output : s.output,
    error: s.error ? s.error.message : null,
    childWorkflowID: s.childWorkflowID,
  }));
}

test('the same workflow lists the same operations, named as the SDK names them, run by us and by the SDK', async () => {
  assert.equal(await (await DBOS.startWorkflow(ours, { workflowID: 'steps-wf' })()).getResult(), 'child x/hello/v');
  const theirDb = await freshDatabase('dbosn_introspection_sdk');
  OfficialDBOS.setConfig({ name: 'steps-app', systemDatabaseUrl: theirDb, logLevel: 'error' });
  await OfficialDBOS.launch();
  let reference: OfficialStepInfo[] | undefined;
  try {
    await (await OfficialDBOS.startWorkflow(theirs, { workflowID: 'steps-wf' })()).getResult();
    reference = await OfficialDBOS.listWorkflowSteps('steps-wf');
  } finally {
    await OfficialDBOS.shutdown();
  }
  const listed = await DBOS.listWorkflowSteps('steps-wf');
  assert.ok(listed && listed.length >= 9, `steps listed: ${JSON.stringify(listed)}`);
  assert.deepEqual(shape(listed, true), shape(reference, true));
  for (const s of listed) {
    assert.equal(typeof s.startedAtEpochMs, 'number');
    assert.ok((s.completedAtEpochMs ?? 0) >= (s.startedAtEpochMs ?? 0));
  }
  assert.ok(listed[1].error instanceof Error);
});

test('on our database, our listing (DBOS and client) equals the official client’s, with payloads and pages', async () => {
  const mine = await DBOS.listWorkflowSteps('steps-wf');
  const viaClient = await client.listWorkflowSteps('steps-wf');
  const theirsOnOurs = await official.listWorkflowSteps('steps-wf');
  assert.deepEqual(shape(viaClient), shape(theirsOnOurs));
  assert.deepEqual(shape(mine), shape(theirsOnOurs));
  assert.deepEqual(
    mine?.map((s) => [s.startedAtEpochMs, s.completedAtEpochMs]),
    theirsOnOurs?.map((s) => [s.startedAtEpochMs, s.completedAtEpochMs]),
  );
  for (const page of [{ limit: 2 }, { offset: 3 }, { limit: 3, offset: 2 }, { limit: 0 }, { offset: 100 }]) {
    assert.deepEqual(shape(await client.listWorkflowSteps('steps-wf', page)), shape(await official.listWorkflowSteps('steps-wf', page)), JSON.stringify(page));
  }
  // A workflow with no recorded operation lists [], an unknown one undefined (as the SDK's).
  assert.deepEqual(await DBOS.listWorkflowSteps('steps-wf-kid'), await official.listWorkflowSteps('steps-wf-kid'));
  assert.deepEqual(await DBOS.listWorkflowSteps('steps-wf-kid'), []);
  assert.equal(await DBOS.listWorkflowSteps('no-such-workflow'), undefined);
  assert.equal(await client.listWorkflowSteps('no-such-workflow'), undefined);
});

test('from workflow code the listing is recorded as a step named DBOS.listWorkflowSteps', async () => {
  assert.equal(await (await DBOS.startWorkflow(introspector, { workflowID: 'steps-intro' })('steps-wf')).getResult(), (await DBOS.listWorkflowSteps('steps-wf'))?.length);
  assert.deepEqual(
    (await DBOS.listWorkflowSteps('steps-intro'))?.map((s) => s.name),
    ['DBOS.listWorkflowSteps'],
  );
});

test('bad arguments reject with a DBOSError and read nothing', async () => {
  const before = await query(url, 'SELECT count(*) AS n FROM dbos.operation_outputs');
  const bad: [string, unknown, unknown][] = [
    ['id', 42, undefined],
    ['options', 'steps-wf', 'all'],
    ['limit', 'steps-wf', { limit: -1 }],
    ['offset', 'steps-wf', { offset: 1.5 }],
  ];
  for (const [what, id, options] of bad) {
    for (const call of [
      () => DBOS.listWorkflowSteps(id as string, options as { limit?: number }),
      () => client.listWorkflowSteps(id as string, options as { limit?: number }),
    ]) {
      const p = call();
      assert.ok(p instanceof Promise, what);
      await assert.rejects(p, (e: unknown) => e instanceof E.DBOSError, what);
    }
  }
  assert.deepEqual(await query(url, 'SELECT count(*) AS n FROM dbos.operation_outputs'), before);
});
