// A chaos worker: one DBOS process (executor CHAOS_EXECUTOR) running its share of the account workflows.
// The driver (chaos.ts) SIGKILLs and restarts it; each launch recovers this executor's PENDING workflows.
//
// Environment (set by the driver):
//   DBOS_SYSTEM_DATABASE_URL  the shared system database
//   CHAOS_EXECUTOR            executor ID (chaos-w1, chaos-w2, ...)
//   CHAOS_ACCOUNTS            comma-separated workflow IDs this worker owns
//   CHAOS_START=1             start those workflows (first launch, until the driver has seen `started`)
//   CHAOS_STEP_LOG            file the `apply` step appends a line to each time it runs (one file per process)
//   CHAOS_RECV_TIMEOUT_S      recv timeout of the account loop
//   CHAOS_DEADLINE            epoch ms after which this process gives up waiting for its workflows (exit 3)
//
// stdout: one JSON WorkerMessage per line (`done` once every one of its own workflows has finished). It then runs
// on until SIGTERM, which shuts DBOS down and exits 0.
import { appendFileSync, writeSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import './queue-job'; // registers the limited queue's job (chaos/queue-check.ts)
import { APP_NAME, APP_VERSION, EVENT_KEY, STEP_NAME, STREAM_KEY, TOPIC, WORKFLOW_NAME, stepLogLine, type AccountResult, type Applied, type Op, type WorkerMessage } from './common';

const MAX_OPS = 100_000; // iteration bound of the account loop (far above any run's message count)

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
}

const stepLog = env('CHAOS_STEP_LOG');
const recvTimeoutS = Number(process.env.CHAOS_RECV_TIMEOUT_S ?? '60');

// An exit nobody asked for (the event loop ran empty while workflows were still running) is reported on stderr.
let exitRequested = false;
let inFlight = 0; // account workflow executions in progress in this process
function exit(code: number): never {
  exitRequested = true;
  process.exit(code);
}
process.on('exit', (code) => {
  if (exitRequested) return;
  const resources = process.getActiveResourcesInfo().join(',');
  writeSync(2, `chaos worker: process exiting by itself with code ${code}: the event loop is empty (active resources: ${resources || 'none'}) although DBOS was not shut down and ${inFlight} workflow execution(s) were in progress\n`);
});

function emit(m: WorkerMessage): void {
  process.stdout.write(JSON.stringify(m) + '\n');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const apply = DBOS.registerStep(
  async (workflowID: string, balance: number, op: Op): Promise<number> => {
    // Logged before returning: a kill after this line but before the checkpoint commits is a legitimate re-run.
    appendFileSync(stepLog, stepLogLine(workflowID, DBOS.stepID ?? -1, op.seq, Date.now()));
    return balance + op.amount;
  },
  { name: STEP_NAME },
);

const account = DBOS.registerWorkflow(
  async (workflowID: string): Promise<AccountResult> => {
    inFlight++;
    try {
      return await accountLoop(workflowID);
    } catch (e) {
      // Only the engine can make the loop throw (e.g. a durable operation giving up on the database): say which.
      process.stderr.write(`${DBOS.executorID}: workflow ${workflowID} threw: ${(e as Error).stack ?? String(e)}\n`);
      throw e;
    } finally {
      inFlight--;
    }
  },
  { name: WORKFLOW_NAME },
);

/** The account loop: recv an op, apply it in a step, publish the balance event and the stream entry; until stop. */
async function accountLoop(workflowID: string): Promise<AccountResult> {
  let balance = 0;
  let applied = 0;
  let lastSeq = 0;
  let idle = 0;
  for (let i = 0; i < MAX_OPS; i++) {
    const op = await DBOS.recv<Op>(TOPIC, recvTimeoutS);
    if (op === null) {
      idle++;
      continue;
    }
    if (op.stop) break;
    balance = await apply(workflowID, balance, op);
    applied++;
    lastSeq = op.seq;
    await DBOS.setEvent(EVENT_KEY, balance);
    const entry: Applied = { seq: op.seq, amount: op.amount };
    await DBOS.writeStream(STREAM_KEY, entry);
  }
  await DBOS.closeStream(STREAM_KEY);
  return { balance, applied, lastSeq, idle };
}

let stackShown = false;
const TERMINAL = new Set(['SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED']);

/** Waits until the workflow is terminal; returns its status. Retries (bounded by the deadline) on errors. */
async function awaitTerminal(id: string, deadline: number): Promise<string> {
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      await DBOS.retrieveWorkflow(id).getResult();
      return 'SUCCESS';
    } catch (e) {
      try {
        const s = await DBOS.getWorkflowStatus(id);
        if (s && TERMINAL.has(s.status)) return s.status;
      } catch (e2) {
        process.stderr.write(`${DBOS.executorID}: getWorkflowStatus(${id}) failed: ${(e2 as Error).message}\n`);
      }
      process.stderr.write(`${DBOS.executorID}: getResult(${id}) failed (attempt ${attempt}): ${(e as Error).message}\n`);
      if (!stackShown) {
        stackShown = true; // once per process: which operation failed
        process.stderr.write(`${DBOS.executorID}: first getResult failure, stack: ${(e as Error).stack ?? ''}\n`);
      }
      await sleep(1000);
    }
  }
  return 'TIMEOUT';
}

async function main(): Promise<void> {
  // Orphaned (the driver was killed): exit instead of running on.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && exit(4), 1000).unref();
  const executor = env('CHAOS_EXECUTOR');
  const ids = env('CHAOS_ACCOUNTS').split(',');
  const deadline = Number(env('CHAOS_DEADLINE'));
  DBOS.setConfig({ name: APP_NAME, applicationVersion: APP_VERSION, executorID: executor });
  // A restart can land while Postgres is down (--pg-restart): launch fails then, so retry it (bounded).
  for (let attempt = 1; ; attempt++) {
    try {
      await DBOS.launch();
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      process.stderr.write(`${executor}: DBOS.launch failed (attempt ${attempt}): ${(e as Error).message}\n`);
      await sleep(500);
    }
  }
  emit({ kind: 'ready', pid: process.pid });
  if (process.env.CHAOS_START === '1') {
    // Fixed IDs: a start of a workflow that already exists (a previous, killed, first launch) is a no-op.
    for (const id of ids) await DBOS.startWorkflow(account, { workflowID: id })(id);
    emit({ kind: 'started', count: ids.length });
  }
  const statuses = await Promise.all(ids.map(async (id) => [id, await awaitTerminal(id, deadline)] as const));
  const failed = statuses.filter(([, s]) => s !== 'SUCCESS').map(([id, s]) => `${id}:${s}`);
  emit({ kind: 'done', workflows: ids.length, failed });
  // Keep running until the driver's SIGTERM: after a recovery, any worker may have dequeued (and be running) another
  // worker's workflows, and a PENDING workflow is only recovered by its current executor, so nobody leaves early.
  await sleep(deadline - Date.now());
  process.stderr.write(`${executor}: no SIGTERM before the deadline\n`);
  exit(3);
}

process.once('SIGTERM', () => {
  void DBOS.shutdown().then(
    () => exit(0),
    (e: unknown) => {
      process.stderr.write(`chaos worker: shutdown failed: ${(e as Error).stack ?? String(e)}\n`);
      exit(1);
    },
  );
});

main().catch((e: unknown) => {
  process.stderr.write(`chaos worker failed: ${(e as Error).stack ?? String(e)}\n`);
  exit(1);
});
