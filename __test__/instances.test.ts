// ConfiguredInstance in one process: registration by class and name, initialize() at launch, the
// instance's name recorded as config_name on every way of starting its workflows, and the objects a
// workflow may not run on. Recovery on the right instance after a crash: instances-crash.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfiguredInstance, DBOS, DBOSClient, Error as DBOSErrors } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

class Store extends ConfiguredInstance {
  initialized = false;

  constructor(
    name: string,
    readonly prefix: string,
  ) {
    super(name);
  }

  override async initialize(): Promise<void> {
    this.initialized = true;
  }

  @DBOS.workflow()
  async label(item: string): Promise<string> {
    return `${this.prefix}:${item}`;
  }

  @DBOS.workflow()
  async labelTwice(item: string): Promise<string> {
    // A child workflow started from an instance's workflow also records its instance.
    return `${await this.label(item)}/${DBOS.workflowID}`;
  }
}

class Other extends ConfiguredInstance {}

class Plain {
  @DBOS.workflow()
  static async wf(): Promise<string> {
    return 'plain';
  }
}

const east = new Store('east', 'E');
const west = new Store('west', 'W');
// The same name in another class is another instance.
const otherEast = new Other('east');
void otherEast;

let url = '';

before(async () => {
  url = await freshDatabase('dbosn_instances');
  DBOS.setConfig({ name: 'instances-test', systemDatabaseUrl: url });
  await DBOS.launch();
});

after(async () => {
  await DBOS.shutdown();
});

const configName = async (id: string) =>
  (await query<{ config_name: string | null }>(url, 'SELECT config_name FROM dbos.workflow_status WHERE workflow_uuid = $1', [id]))[0]
    ?.config_name;

test('a second instance of a class under a name already taken is refused', () => {
  assert.throws(
    () => new Store('east', 'again'),
    (e: unknown) =>
      e instanceof DBOSErrors.DBOSConflictingRegistrationError && /An instance of class 'Store' with name 'east' was already registered/.test(e.message),
  );
});

test('launch initializes every configured instance', () => {
  assert.equal(east.initialized, true);
  assert.equal(west.initialized, true);
});

test('every start of an instance workflow records the instance name, visible in the status', async () => {
  const h = await DBOS.startWorkflow(east, { workflowID: 'inst-start' }).label('a');
  assert.equal(await h.getResult(), 'E:a');
  assert.equal(await configName('inst-start'), 'east');
  assert.equal((await h.getStatus())?.workflowConfigName, 'east');

  assert.equal(await DBOS.withNextWorkflowID('inst-direct', () => west.label('b')), 'W:b');
  assert.equal(await configName('inst-direct'), 'west');

  // A generated ID (a start the engine holds back) and a child workflow.
  const held = await DBOS.startWorkflow(west).labelTwice('c');
  assert.equal(await held.getResult(), `W:c/${held.workflowID}`);
  assert.equal(await configName(held.workflowID), 'west');
  assert.equal(await configName(`${held.workflowID}-0`), 'west');

  const client = await DBOSClient.create({ systemDatabaseUrl: url });
  try {
    assert.equal((await client.getWorkflow('inst-start'))?.workflowConfigName, 'east');
  } finally {
    await client.destroy();
  }

  // Static workflows have none (NULL, '' in the status), as in DBOS.
  const p = await DBOS.startWorkflow(Plain, { workflowID: 'inst-plain' }).wf();
  assert.equal(await p.getResult(), 'plain');
  assert.equal(await configName('inst-plain'), null);
  assert.equal((await DBOS.getWorkflowStatus('inst-plain'))?.workflowConfigName, '');
});

test('reusing a workflow ID with another instance is a conflict', async () => {
  await (await DBOS.startWorkflow(east, { workflowID: 'inst-conflict' }).label('x')).getResult();
  await assert.rejects(
    DBOS.startWorkflow(west, { workflowID: 'inst-conflict' }).label('x'),
    (e: unknown) =>
      e instanceof DBOSErrors.DBOSConflictingWorkflowError && /different class configuration: east, but the provided class configuration is: west/.test(e.message),
  );
});

test('a workflow cannot run on an object that is not a ConfiguredInstance', async () => {
  const count = async () => (await query(url, 'SELECT 1 FROM dbos.workflow_status')).length;
  const before = await count();
  const plain = { label: east.label, prefix: 'P' };
  await assert.rejects(plain.label('y'), DBOSErrors.DBOSInvalidWorkflowTransitionError);
  const started = DBOS.startWorkflow(plain as unknown as Store).label('y');
  await assert.rejects(started, DBOSErrors.DBOSInvalidWorkflowTransitionError);
  assert.equal(await count(), before, 'nothing was written');
});
