// The official DBOS CLI (`dbos`, from the devDependency @dbos-inc/dbos-sdk 5.3.0) on our database:
// `dbos workflow list / get / steps --sys-db-url <url>` print (as JSON, values through util.inspect) our
// workflows with their status, names, executor, version, inputs, outputs and errors, and our steps with
// their names, outputs and errors; `dbos workflow cancel` stops a workflow running in this process and
// `dbos workflow resume` makes this process run it again from its checkpoints.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DBOS, Error as E } from 'dbos-native';
import { killAll, spawnApp } from './helpers/child';
import { freshDatabase, statusRow, steps } from './helpers/db';

/** The `dbos` bin of the installed SDK (its package.json's `bin`; the package exports no such subpath). */
const sdkRoot = path.resolve(path.dirname(require.resolve('@dbos-inc/dbos-sdk')), '..', '..');
const cli = path.join(sdkRoot, (JSON.parse(readFileSync(path.join(sdkRoot, 'package.json'), 'utf8')) as { bin: { dbos: string } }).bin.dbos);

let url = '';
let cwd = ''; // an empty folder: no dbos-config.yaml for the CLI to find
const runs: Record<string, number> = {};
const bump = (k: string): void => void (runs[k] = (runs[k] ?? 0) + 1);

class Orders {
  @DBOS.step()
  static async reserve(orderID: string, qty: number): Promise<{ orderID: string; qty: number; at: Date }> {
    bump(`reserve:${orderID}`);
    return { orderID, qty, at: new Date('2025-06-07T08:09:10.011Z') };
  }

  @DBOS.step({ retriesAllowed: false })
  static async charge(cents: bigint): Promise<bigint> {
    if (cents < 0n) throw new Error(`refused ${cents}`);
    return cents * 2n;
  }

  @DBOS.workflow()
  static async checkout(orderID: string, cents: bigint): Promise<string> {
    await Orders.reserve(orderID, 3);
    const charged = await Orders.charge(cents);
    await DBOS.runStep(async () => `mailed ${orderID}`, { name: 'sendReceipt' });
    return `receipt:${orderID}:${charged}`;
  }

  @DBOS.workflow()
  static async refused(orderID: string): Promise<string> {
    await Orders.reserve(orderID, 1);
    await Orders.charge(-5n);
    return 'unreachable';
  }

  /** Reserves, waits for an approval message, then charges. */
  @DBOS.workflow()
  static async approval(orderID: string): Promise<string> {
    await Orders.reserve(orderID, 1);
    const ok = await DBOS.recv<string>('approve', 60);
    bump(`after-recv:${orderID}`);
    return `approved by ${ok}`;
  }
}

/** Runs `dbos <args> --sys-db-url <url>` and returns what it printed. */
async function dbosText(...args: string[]): Promise<string> {
  const app = spawnApp(cli, {}, `dbos ${args.join(' ')}`, { args: [...args, '--sys-db-url', url], cwd });
  const code = await app.exited;
  assert.equal(code, 0, `dbos ${args.join(' ')} failed: ${app.stderr()}`);
  return app.stdout().trim();
}

/** The same, parsed as JSON (undefined for commands that print nothing). */
async function dbos(...args: string[]): Promise<unknown> {
  const out = await dbosText(...args);
  return out === '' ? undefined : (JSON.parse(out) as unknown);
}

interface CliStatus {
  workflowID: string;
  status: string;
  workflowName: string;
  workflowClassName: string;
  input?: string;
  output?: string;
  error?: string;
  executorId: string;
  applicationVersion: string;
  applicationName: string;
  recoveryAttempts: number;
}

interface CliStep {
  functionID: number;
  name: string;
  output: string | null;
  error: string | null;
  childWorkflowID: string | null;
}

async function waitStatus(id: string, status: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await statusRow(url, id))?.status === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${id} did not become ${status} (is ${String((await statusRow(url, id))?.status)})`);
}

before(async () => {
  url = await freshDatabase('dbosn_cli_interop');
  cwd = mkdtempSync(path.join(tmpdir(), 'dbosn-cli-'));
  DBOS.setConfig({ name: 'cli-app', systemDatabaseUrl: url, executorID: 'cli-exec', applicationVersion: 'cli-v1' });
  await DBOS.launch();
});

after(async () => {
  await killAll();
  await DBOS.shutdown();
  rmSync(cwd, { recursive: true, force: true });
});

describe('dbos workflow list / get / steps', () => {
  before(async () => {
    assert.equal(await (await DBOS.startWorkflow(Orders, { workflowID: 'order-1' }).checkout('order-1', 1999n)).getResult(), 'receipt:order-1:3998');
    await assert.rejects((await DBOS.startWorkflow(Orders, { workflowID: 'order-2' }).refused('order-2')).getResult(), /refused -5/);
  });

  test('list shows our workflows with status, names, executor, version and values', async () => {
    const all = (await dbos('workflow', 'list', '--limit', '100', '--application-name', 'cli-app')) as CliStatus[];
    const byID = new Map(all.map((w) => [w.workflowID, w]));
    assert.deepEqual([...byID.keys()].sort(), ['order-1', 'order-2']);
    const ok = byID.get('order-1');
    assert.deepEqual(
      [ok?.status, ok?.workflowName, ok?.workflowClassName, ok?.executorId, ok?.applicationVersion, ok?.applicationName, ok?.recoveryAttempts],
      ['SUCCESS', 'checkout', 'Orders', 'cli-exec', 'cli-v1', 'cli-app', 1],
    );
    assert.equal(ok?.input, "[ 'order-1', 1999n ]", 'inputs deserialized with their types (a BigInt)');
    assert.equal(ok?.output, "'receipt:order-1:3998'");
    const bad = byID.get('order-2');
    assert.equal(bad?.status, 'ERROR');
    assert.equal(bad?.workflowName, 'refused');
    assert.match(bad?.error ?? '', /refused -5/);

    // Its filters work on our rows too.
    const failed = (await dbos('workflow', 'list', '--status', 'ERROR', '--application-name', 'cli-app')) as CliStatus[];
    assert.deepEqual(failed.map((w) => w.workflowID), ['order-2']);
    const named = (await dbos('workflow', 'list', '--name', 'checkout', '--application-version', 'cli-v1')) as CliStatus[];
    assert.deepEqual(named.map((w) => w.workflowID), ['order-1']);
  });

  test('get shows one workflow', async () => {
    const w = (await dbos('workflow', 'get', 'order-1')) as CliStatus;
    assert.equal(w.workflowID, 'order-1');
    assert.equal(w.status, 'SUCCESS');
    assert.equal(w.workflowName, 'checkout');
    assert.equal(w.output, "'receipt:order-1:3998'");
    assert.equal(await dbosText('workflow', 'get', 'no-such-workflow'), 'undefined', 'what it prints for a missing ID (not JSON)');
  });

  test('steps shows our steps in order with names, outputs and errors', async () => {
    const ok = (await dbos('workflow', 'steps', 'order-1')) as CliStep[];
    assert.deepEqual(
      ok.map((s) => [s.functionID, s.name, s.output, s.error, s.childWorkflowID]),
      [
        [0, 'reserve', "{ orderID: 'order-1', qty: 3, at: 2025-06-07T08:09:10.011Z }", null, null],
        [1, 'charge', '3998n', null, null],
        [2, 'sendReceipt', "'mailed order-1'", null, null],
      ],
    );
    const bad = (await dbos('workflow', 'steps', 'order-2')) as CliStep[];
    assert.deepEqual(bad.map((s) => [s.functionID, s.name]), [
      [0, 'reserve'],
      [1, 'charge'],
    ]);
    assert.equal(bad[1]?.output, null);
    assert.match(bad[1]?.error ?? '', /refused -5/);
    // The same rows we wrote.
    assert.deepEqual((await steps(url, 'order-1')).map((s) => s.function_name), ['reserve', 'charge', 'sendReceipt']);
  });
});

describe('dbos workflow cancel / resume', () => {
  test('cancel stops our running workflow; resume makes this process run it again from its checkpoints', async () => {
    const id = 'order-3';
    const h = await DBOS.startWorkflow(Orders, { workflowID: id }).approval(id);
    // Wait until it is blocked in recv (its deadline, function 2, is recorded).
    for (let i = 0; i < 200 && !(await steps(url, id)).some((s) => s.function_id === 2); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(((await dbos('workflow', 'get', id)) as CliStatus).status, 'PENDING');

    await dbos('workflow', 'cancel', id);
    await assert.rejects(h.getResult(), E.DBOSWorkflowCancelledError, 'the local run stops');
    assert.equal(((await dbos('workflow', 'get', id)) as CliStatus).status, 'CANCELLED');
    // A message now is not consumed: nothing runs a cancelled workflow.
    await DBOS.send(id, 'the manager', 'approve');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(runs[`after-recv:${id}`], undefined);
    assert.equal((await steps(url, id)).some((s) => s.function_name === 'DBOS.recv'), false);

    await dbos('workflow', 'resume', id);
    // The CLI only re-enqueued it; this process claims it (within a second) and replays it.
    await waitStatus(id, 'SUCCESS');
    assert.equal(await DBOS.retrieveWorkflow(id).getResult(), 'approved by the manager');
    assert.equal(runs[`reserve:${id}`], 1, 'the recorded step was replayed, not run again');
    assert.equal(runs[`after-recv:${id}`], 1);
    const st = (await dbos('workflow', 'get', id)) as CliStatus;
    assert.deepEqual([st.status, st.executorId, st.output], ['SUCCESS', 'cli-exec', "'approved by the manager'"]);
    const row = await statusRow(url, id);
    assert.equal(row?.queue_name, '_dbos_internal_queue');
    assert.deepEqual(
      ((await dbos('workflow', 'steps', id)) as CliStep[]).map((s) => [s.functionID, s.name]),
      [
        [0, 'reserve'],
        [1, 'DBOS.recv'],
        [2, 'DBOS.sleep'],
      ],
    );
  });
});
