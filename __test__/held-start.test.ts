// A start with a generated workflow ID is held back (the engine's held.rs): the workflow runs at once
// and its row is written when it first needs it. What must hold: startWorkflow returns only once the row
// has committed, nothing the workflow does reaches the world before that row, a workflow that needs
// nothing else is written once with its outcome, and a row that can't be written leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { DBOS } from 'dbos-native';
import { query, sleep, statusRow } from './helpers/db';
import { killApp, spawnApp } from './helpers/child';
import { appScratch } from './helpers/scratch';

const crashApp = path.join(__dirname, 'apps', 'crash-app.js');

const answer = DBOS.registerWorkflow(async (n: number): Promise<number> => n + 1, { name: 'answer' });

const fails = DBOS.registerWorkflow(
  async (): Promise<number> => {
    throw new Error('no luck');
  },
  { name: 'fails' },
);

const ownRowInStep = DBOS.registerWorkflow(
  async (): Promise<string> =>
    DBOS.runStep(async () => {
      const rows = await query<{ status: string }>(scratch.url, 'SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1', [DBOS.workflowID]);
      return rows[0]?.status ?? 'missing';
    }, { name: 'look' }),
  { name: 'ownRowInStep' },
);

const ownStatus = DBOS.registerWorkflow(
  async (): Promise<string> => (await DBOS.getWorkflowStatus(DBOS.workflowID ?? ''))?.status ?? 'missing',
  { name: 'ownStatus' },
);

let openGate = (): void => undefined;
const gate = new Promise<void>((r) => (openGate = r));
const waitsOnGate = DBOS.registerWorkflow(
  async (): Promise<string> => {
    await gate;
    return 'through';
  },
  { name: 'waitsOnGate' },
);

let refusedStepRuns = 0;
const refusedQuick = DBOS.registerWorkflow(async (): Promise<number> => 1, { name: 'refusedQuick' });
const refusedWithStep = DBOS.registerWorkflow(
  async (): Promise<number> =>
    DBOS.runStep(async () => {
      refusedStepRuns++;
      return 2;
    }, { name: 'never' }),
  { name: 'refusedWithStep' },
);

const scratch = appScratch('dbosn_held_start', {
  setup: async () => {
    DBOS.setConfig({ name: 'held-start', systemDatabaseUrl: scratch.url });
    await DBOS.launch();
    // Every write to a status row, with its transaction; and a refusal for some workflow names.
    await query(
      scratch.url,
      `CREATE TABLE status_writes (workflow_uuid text, op text, status text, xid bigint);
       CREATE FUNCTION log_status_write() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO status_writes VALUES (NEW.workflow_uuid, TG_OP, NEW.status, txid_current());
         RETURN NEW;
       END $$;
       CREATE TRIGGER log_status_write AFTER INSERT OR UPDATE ON dbos.workflow_status
         FOR EACH ROW EXECUTE FUNCTION log_status_write();
       CREATE FUNCTION refuse_start() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'start refused by the test';
       END $$;
       CREATE TRIGGER refuse_start BEFORE INSERT ON dbos.workflow_status
         FOR EACH ROW WHEN (NEW.name LIKE 'refused%') EXECUTE FUNCTION refuse_start();`,
    );
  },
  teardown: async () => {
    await DBOS.shutdown();
  },
});

async function writesOf(id: string): Promise<{ op: string; status: string }[]> {
  return query(scratch.url, 'SELECT op, status FROM status_writes WHERE workflow_uuid = $1 ORDER BY xid', [id]);
}

test('a workflow that needs nothing but its outcome is written once, already finished, with the columns a normal run leaves', async () => {
  const h = await DBOS.startWorkflow(answer)(41);
  assert.equal(await h.getResult(), 42);
  assert.deepEqual(await writesOf(h.workflowID), [{ op: 'INSERT', status: 'SUCCESS' }]);
  const row = await statusRow(scratch.url, h.workflowID);
  assert.equal(row?.owner_xid, null, 'no owner once finished');
  assert.equal(row?.recovery_attempts, '1');
  assert.ok(Number(row?.completed_at) >= Number(row?.created_at));
  const [io] = await query<{ inputs: string; output: string; error: string | null }>(
    scratch.url,
    `SELECT i.inputs, o.output, o.error FROM dbos.workflow_input i JOIN dbos.workflow_output o USING (workflow_uuid) WHERE workflow_uuid = $1`,
    [h.workflowID],
  );
  assert.ok(io, 'input and output rows');
  assert.equal(io.error, null);
  const status = await DBOS.getWorkflowStatus(h.workflowID);
  assert.equal(status?.status, 'SUCCESS');
  assert.deepEqual(status?.input, [41]);
  assert.equal(status?.output, 42);
  // A direct call takes the same path.
  assert.equal(await answer(1), 2);

  const bad = await DBOS.startWorkflow(fails)();
  await assert.rejects(bad.getResult(), /no luck/);
  assert.deepEqual(await writesOf(bad.workflowID), [{ op: 'INSERT', status: 'ERROR' }]);
  await assert.rejects(DBOS.retrieveWorkflow(bad.workflowID).getResult(), /no luck/);
});

test('a step starts only once its workflow row has committed; so does a read of the workflow status', async () => {
  // Inserts wait while the table is SHARE-locked; the step's read would not.
  const locker = new Client({ connectionString: scratch.url });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE dbos.workflow_status IN SHARE MODE');
  const started = DBOS.startWorkflow(ownRowInStep)();
  await sleep(300);
  await locker.query('COMMIT');
  await locker.end();
  const h = await started;
  assert.equal(await h.getResult(), 'PENDING');
  assert.deepEqual(await writesOf(h.workflowID), [
    { op: 'INSERT', status: 'PENDING' },
    { op: 'UPDATE', status: 'SUCCESS' },
  ]);
  assert.equal(await ownRowInStep(), 'PENDING');
  assert.equal(await (await DBOS.startWorkflow(ownStatus)()).getResult(), 'PENDING');
});

test('a workflow still running when its starter yields gets its row and startWorkflow returns', async () => {
  const started = DBOS.startWorkflow(waitsOnGate)();
  const h = await Promise.race([started, sleep(5000).then(() => undefined)]);
  assert.ok(h, 'startWorkflow returned while the workflow waits');
  assert.equal((await statusRow(scratch.url, h.workflowID))?.status, 'PENDING');
  openGate();
  assert.equal(await h.getResult(), 'through');
  assert.equal((await statusRow(scratch.url, h.workflowID))?.status, 'SUCCESS');
});

test('a start whose row is refused fails startWorkflow, runs no step and leaves nothing behind', async () => {
  const before = await query<{ n: number }>(scratch.url, 'SELECT count(*)::int AS n FROM dbos.workflow_status');
  await assert.rejects(DBOS.startWorkflow(refusedQuick)(), /start refused by the test/);
  await assert.rejects(DBOS.startWorkflow(refusedWithStep)(), /start refused by the test/);
  assert.equal(refusedStepRuns, 0, 'the step did not run');
  const afterRows = await query<{ n: number }>(scratch.url, 'SELECT count(*)::int AS n FROM dbos.workflow_status');
  assert.equal(afterRows[0]?.n, before[0]?.n);
  const io = await query<{ n: number }>(
    scratch.url,
    `SELECT (SELECT count(*) FROM dbos.workflow_input i WHERE NOT EXISTS (SELECT 1 FROM dbos.workflow_status s WHERE s.workflow_uuid = i.workflow_uuid))
          + (SELECT count(*) FROM dbos.workflow_output o WHERE NOT EXISTS (SELECT 1 FROM dbos.workflow_status s WHERE s.workflow_uuid = o.workflow_uuid)) AS n`,
  );
  assert.equal(Number(io[0]?.n), 0, 'no input or output rows without a status row');
});

test('SIGKILL while starting unnamed workflows: every ID startWorkflow returned, and every step that ran, has its row; recovery finishes them', async () => {
  const log = scratch.file('unnamed.log');
  const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
  const app = spawnApp(crashApp, { ...env, START: 'unnamed' }, 'crash-app');
  const lines = (): string[] => {
    try {
      return readFileSync(log, 'utf8').split('\n');
    } catch {
      return [];
    }
  };
  const end = Date.now() + 30_000;
  while (lines().filter((l) => l.startsWith('started ')).length < 300) {
    if (Date.now() > end) throw new Error('the app did not start 300 workflows');
    await sleep(5);
  }
  await killApp(app);
  const started = lines().flatMap((l) => /^started (\S+)/.exec(l)?.[1] ?? []);
  const stepped = lines().flatMap((l) => /^step (\S+)/.exec(l)?.[1] ?? []);
  const ids = [...new Set([...started, ...stepped])];
  const rows = await query<{ workflow_uuid: string; status: string }>(scratch.url, 'SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)', [ids]);
  const found = new Map(rows.map((r) => [r.workflow_uuid, r.status]));
  for (const id of ids) assert.ok(found.has(id), `workflow ${id} was promised or ran a step, so its row exists`);
  const pending = rows.filter((r) => r.status === 'PENDING').map((r) => r.workflow_uuid);
  if (pending.length > 0) {
    // A new process of the same executor recovers them.
    const second = spawnApp(crashApp, env, 'crash-app-2');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const left = await query<{ n: number }>(scratch.url, `SELECT count(*)::int AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) AND status <> 'SUCCESS'`, [pending]);
      if (left[0]?.n === 0) break;
      if (Date.now() > deadline) throw new Error(`${left[0]?.n} recovered workflows did not finish`);
      await sleep(50);
    }
    await killApp(second);
  }
});
