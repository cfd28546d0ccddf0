// Step checkpoints are written behind the workflow (the next step runs while the previous checkpoint
// commits). What must still hold: a crash leaves a gap-free prefix of checkpoints and recovery re-runs
// only the steps after it; a fenced-out checkpoint stops the workflow within the run-ahead bound; and
// nothing the world can see (events, messages, the outcome, a later step's effects after a stream write)
// gets ahead of the writes before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { DBOS } from 'dbos-native';
import { query, sleep, statusRow, steps } from './helpers/db';
import { finalOutput, killApp, spawnApp } from './helpers/child';
import { appScratch } from './helpers/scratch';

const crashApp = path.join(__dirname, 'apps', 'crash-app.js');

let executed = 0;
let stolenAt = -1;

async function stealOwnership(workflowID: string): Promise<void> {
  // What a recovery elsewhere does to the row: a new owner token fences this execution out.
  await query(scratch.url, `UPDATE dbos.workflow_status SET owner_xid = 'thief' WHERE workflow_uuid = $1`, [workflowID]);
}

const fencedLoop = DBOS.registerWorkflow(
  async (n: number): Promise<number> => {
    for (let i = 0; i < n; i++) {
      await DBOS.runStep(
        async () => {
          executed++;
          if (i === 20) {
            stolenAt = executed;
            await stealOwnership(DBOS.workflowID ?? '');
          }
          return i;
        },
        { name: 'tick' },
      );
    }
    return n;
  },
  { name: 'fencedLoop' },
);

const stepThenEvent = DBOS.registerWorkflow(
  async (): Promise<void> => {
    const v = await DBOS.runStep(async () => 41, { name: 'compute' });
    await DBOS.setEvent('k', v + 1);
    await DBOS.recv('go', 30);
  },
  { name: 'stepThenEvent' },
);

let tellStarted = false;

const writeThenTell = DBOS.registerWorkflow(
  async (): Promise<number> => {
    await DBOS.writeStream('progress', 'half');
    return DBOS.runStep(
      async () => {
        tellStarted = true;
        const rows = await query<{ n: number }>(scratch.url, 'SELECT count(*)::int AS n FROM dbos.streams WHERE workflow_uuid = $1', [DBOS.workflowID]);
        return rows[0]?.n ?? -1;
      },
      { name: 'tell' },
    );
  },
  { name: 'writeThenTell' },
);

const scratch = appScratch('dbosn_write_behind', {
  setup: async () => {
    DBOS.setConfig({ name: 'write-behind', systemDatabaseUrl: scratch.url });
    await DBOS.launch();
  },
  teardown: async () => {
    await DBOS.shutdown();
  },
});

function stepRuns(log: string): Map<number, number> {
  const runs = new Map<number, number>();
  if (!existsSync(log)) return runs;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^S(\d+) /.exec(line);
    if (m) runs.set(Number(m[1]), (runs.get(Number(m[1])) ?? 0) + 1);
  }
  return runs;
}

test('SIGKILL with checkpoints in flight leaves a gap-free prefix; recovery re-runs only the steps after it', async () => {
  const log = scratch.file('many.log');
  const id = 'behind-many';
  const n = 3000;
  const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
  const first = spawnApp(crashApp, { ...env, START: 'manySteps', WF_ID: id, STEPS: String(n) }, 'crash-app');
  const end = Date.now() + 30_000;
  while (stepRuns(log).size < 400) {
    if (Date.now() > end) throw new Error('the app did not run 400 steps');
    await sleep(5);
  }
  await killApp(first);
  const ranBefore = stepRuns(log);
  const recorded = await steps(scratch.url, id);
  assert.ok(recorded.length < n, 'killed before the end');
  // A prefix: function IDs 0..k-1 with nothing missing, each with its own step's output.
  recorded.forEach((s, i) => {
    assert.equal(s.function_id, i, `checkpoint ${i} is in place`);
    assert.equal(s.function_name, 'quick');
  });
  const k = recorded.length;
  assert.ok(k <= ranBefore.size, 'no checkpoint without its step having run');

  const second = spawnApp(crashApp, { ...env, AWAIT: id }, 'crash-app-2');
  assert.deepEqual(await finalOutput(second), { ok: true, value: (n * (n - 1)) / 2 });
  const runs = stepRuns(log);
  for (let i = 0; i < n; i++) {
    const times = runs.get(i) ?? 0;
    if (i < k) assert.equal(times, 1, `step ${i} was recorded before the kill: never re-run`);
    else assert.ok(times === 1 || times === 2, `step ${i} ran ${times} times`);
  }
  const final = await steps(scratch.url, id);
  assert.equal(final.length, n);
  final.forEach((s, i) => assert.equal(s.function_id, i));
  assert.equal((await statusRow(scratch.url, id))?.status, 'SUCCESS');
});

test('a fenced-out checkpoint stops the workflow within the run-ahead bound; later steps are not recorded', async () => {
  const id = 'behind-fenced';
  executed = 0;
  const handle = await DBOS.startWorkflow(fencedLoop, { workflowID: id })(100_000);
  // The thief finishes the workflow its own way; this execution must adopt that outcome.
  const finish = (async () => {
    while (stolenAt < 0) await sleep(5);
    await sleep(300);
    const ranAfterSteal = executed - stolenAt;
    await query(
      scratch.url,
      `UPDATE dbos.workflow_status SET status = 'SUCCESS', owner_xid = NULL WHERE workflow_uuid = $1`,
      [id],
    );
    await query(scratch.url, `INSERT INTO dbos.workflow_output (workflow_uuid, output) VALUES ($1, $2)`, [
      id,
      JSON.stringify({ json: -1, __dbos_serializer: 'superjson' }),
    ]);
    return ranAfterSteal;
  })();
  const [value, ranAfterSteal] = await Promise.all([handle.getResult(), finish]);
  assert.equal(value, -1, "the execution adopted the new owner's outcome");
  assert.ok(ranAfterSteal <= 70, `ran ${ranAfterSteal} steps past the fenced checkpoint (bound 64)`);
  const recorded = await steps(scratch.url, id);
  assert.ok(recorded.length <= 20, `only steps before the steal are recorded (${recorded.length})`);
  recorded.forEach((s, i) => assert.equal(s.function_id, i));
});

const busyLoop = DBOS.registerWorkflow(
  async (n: number): Promise<number> => {
    for (let i = 0; i < n; i++) await DBOS.runStep(async () => i, { name: 'busy' });
    return n;
  },
  { name: 'busyLoop' },
);

test('an event set after a step is only visible once that step is recorded', async () => {
  // Other workflows keep the checkpoint queue long, so a step's checkpoint waits behind theirs: an
  // event that did not wait for it would be visible first.
  const busy = await Promise.all(
    Array.from({ length: 40 }, (_, i) => DBOS.startWorkflow(busyLoop, { workflowID: `behind-busy-${i}` })(300)),
  );
  for (let round = 0; round < 20; round++) {
    const id = `behind-event-${round}`;
    await DBOS.startWorkflow(stepThenEvent, { workflowID: id })();
    assert.equal(await DBOS.getEvent(id, 'k', 10), 42);
    const recorded = await steps(scratch.url, id);
    assert.equal(recorded[0]?.function_name, 'compute', `round ${round}: the step's checkpoint came first`);
    await DBOS.send(id, 'done', 'go');
    await DBOS.retrieveWorkflow(id).getResult();
  }
  for (const h of busy) assert.equal(await h.getResult(), 300);
});

test('a step starts only once the stream values its workflow wrote before it are readable', async () => {
  // Holding off stream inserts: the write is queued behind the workflow and cannot commit yet.
  const locker = new Client({ connectionString: scratch.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE dbos.streams IN SHARE MODE');
    tellStarted = false;
    const h = await DBOS.startWorkflow(writeThenTell, { workflowID: 'behind-stream-tell' })();
    await sleep(300);
    assert.equal(tellStarted, false, 'the step waited for the stream write before it');
    await locker.query('COMMIT');
    assert.equal(await h.getResult(), 1, 'the step saw the value');
  } finally {
    await locker.end();
  }
});

// ---------------------------------------------------------------- cancel while checkpoints are behind

const onceRuns = new Map<string, number>();
const stepGates = new Map<string, Promise<void>>();

/** One step (counted per workflow), then a short recv: its settle waits for the step's checkpoint. */
const stepThenWait = DBOS.registerWorkflow(
  async (): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    const v = await DBOS.runStep(
      async () => {
        onceRuns.set(id, (onceRuns.get(id) ?? 0) + 1);
        await stepGates.get(id);
        return `done-${id}`;
      },
      { name: 'once' },
    );
    await DBOS.recv('never', 0.2);
    return v;
  },
  { name: 'stepThenWait' },
);

/** Holds off every checkpoint insert (a SHARE lock on operation_outputs) until `release`. */
async function holdCheckpoints(): Promise<{ release: () => Promise<void> }> {
  const locker = new Client({ connectionString: scratch.url });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE dbos.operation_outputs IN SHARE MODE');
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await locker.query('COMMIT');
      await locker.end();
    },
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

/** Starts stepThenWait with its checkpoint held back, and returns once the step has returned. */
async function stepReturnedBehind(id: string, opts: { timeoutMS?: number } = {}): Promise<{ release: () => Promise<void> }> {
  const hold = await holdCheckpoints();
  try {
    await DBOS.startWorkflow(stepThenWait, { workflowID: id, ...opts })();
    await until(`${id}'s step ran`, () => onceRuns.get(id) === 1);
    await sleep(50); // its checkpoint is now queued or blocked on the lock
    assert.equal((await steps(scratch.url, id)).length, 0, 'the checkpoint has not committed yet');
  } catch (e) {
    await hold.release();
    throw e;
  }
  return hold;
}

async function resumedResult(id: string): Promise<string> {
  await DBOS.resumeWorkflow(id);
  return DBOS.retrieveWorkflow<string>(id).getResult();
}

test('a cancel right after a step returned keeps its checkpoint: resume does not run the step again', async () => {
  const id = 'behind-cancel-local';
  const hold = await stepReturnedBehind(id);
  await DBOS.cancelWorkflow(id);
  assert.equal((await statusRow(scratch.url, id))?.status, 'CANCELLED');
  await hold.release();
  await until('the checkpoint committed', async () => (await steps(scratch.url, id)).length === 1);
  assert.equal(await resumedResult(id), `done-${id}`);
  assert.equal(onceRuns.get(id), 1, 'the step that returned before the cancel ran once');
  assert.equal((await statusRow(scratch.url, id))?.status, 'SUCCESS');
});

test('a resume right after the cancel waits for the cancelled run\'s queued checkpoints', async () => {
  const id = 'behind-cancel-resume-at-once';
  const hold = await stepReturnedBehind(id);
  await DBOS.cancelWorkflow(id);
  setTimeout(() => void hold.release(), 300);
  assert.equal(await resumedResult(id), `done-${id}`);
  assert.equal(onceRuns.get(id), 1);
});

test('a cancel written by another process (the DBOS CLI\'s statement) keeps checkpoints of steps that returned before it', async () => {
  const id = 'behind-cancel-cli';
  const hold = await stepReturnedBehind(id);
  // The SDK's and CLI's cancel, stamped with the database's clock.
  await query(
    scratch.url,
    `UPDATE dbos.workflow_status SET status = 'CANCELLED', owner_xid = NULL, queue_name = NULL, deduplication_id = NULL,
       started_at_epoch_ms = NULL, updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint,
       completed_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint
     WHERE workflow_uuid = $1 AND status NOT IN ('SUCCESS', 'ERROR')`,
    [id],
  );
  await hold.release();
  await until('the checkpoint committed', async () => (await steps(scratch.url, id)).length === 1);
  assert.equal(await resumedResult(id), `done-${id}`);
  assert.equal(onceRuns.get(id), 1);
});

test('a workflow timeout right after a step returned keeps its checkpoint', async () => {
  const id = 'behind-cancel-timeout';
  const hold = await stepReturnedBehind(id, { timeoutMS: 300 });
  try {
    await until('the timeout cancelled it', async () => (await statusRow(scratch.url, id))?.status === 'CANCELLED');
  } finally {
    await hold.release();
  }
  await until('the checkpoint committed', async () => (await steps(scratch.url, id)).length === 1);
  assert.equal(await resumedResult(id), `done-${id}`);
  assert.equal(onceRuns.get(id), 1);
});

/** Starts stepThenWait as `id` with its step held, and cancels it once the step runs; returns what lets the step return. */
async function cancelledInStep(id: string): Promise<() => void> {
  let open = (): void => undefined;
  stepGates.set(id, new Promise<void>((r) => (open = r)));
  await DBOS.startWorkflow(stepThenWait, { workflowID: id })();
  await until('the step started', () => onceRuns.get(id) === 1);
  await DBOS.cancelWorkflow(id);
  return open;
}

test('a step that returns after the cancel is not recorded: the resumed run does it again', async () => {
  const id = 'behind-cancel-step-after';
  const open = await cancelledInStep(id);
  await sleep(5);
  open();
  await assert.rejects(DBOS.retrieveWorkflow(id).getResult());
  assert.equal((await steps(scratch.url, id)).length, 0, 'nothing of the cancelled run was recorded');
  stepGates.delete(id);
  assert.equal(await resumedResult(id), `done-${id}`);
  assert.equal(onceRuns.get(id), 2);
});

test('a run cancelled and resumed before it stopped here is replaced by a fresh run, which finishes the workflow', async () => {
  const id = 'behind-cancel-resume-live';
  const open = await cancelledInStep(id);
  stepGates.delete(id); // the fresh run's step passes at once
  await DBOS.resumeWorkflow(id);
  const result = DBOS.retrieveWorkflow<string>(id).getResult();
  open(); // the cancelled run's step returns now: fenced out, it must not decide the outcome
  assert.equal(await result, `done-${id}`);
  assert.equal((await statusRow(scratch.url, id))?.status, 'SUCCESS');
  assert.equal((await steps(scratch.url, id))[0]?.function_name, 'once');
});
