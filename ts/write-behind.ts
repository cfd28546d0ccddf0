// The TS side of the write-behind protocol: the one place that decides when workflow code waits for
// the writes it has handed to the engine (the engine side is src/engine/behind/ and held.rs).
//
// Invariant: nothing the world can see ever depends on a write that did not commit.
// - A step's checkpoint and workflow code's stream writes are handed over without waiting
//   (`recordBehind`, `writeStreamBehind`); the engine commits one workflow's writes in the order given,
//   so a crash leaves a prefix of them. A step may thus start before the previous checkpoint committed;
//   steps are at-least-once either way.
// - Every other durable operation (send, setEvent, recv, getEvent, children, sleeps, status reads,
//   synchronous checkpoints) first waits for them (`settled`, `record`), and so does the completion
//   (`complete`: the engine queues it behind them and writes it only if they all committed).
// - A step waits for the workflow's stream writes (`beforeStep`): its effects (a webhook, a message)
//   may tell someone to read what the workflow wrote. Otherwise run-ahead is bounded: a workflow more
//   than MAX_WRITES_BEHIND writes ahead waits, so with the database slow or away it does not run (and
//   after a crash re-run) an unbounded number of steps past its last commit.
// - A held start (a generated ID: no earlier run to meet) writes its row at the workflow's first
//   durable operation, at the end of the starter's turn if still running, or with its outcome
//   (`holdStart`, `releaseAtEndOfTurn`, `heldStartWritten`); the start call returns only once the row committed.
// - The first write that failed is kept on the workflow (`writeError`) and thrown at its next durable
//   operation: the workflow stops where it would have stopped had it waited.
// Tests holding this: write-behind.test.ts, held-start.test.ts (and tests/all/engine.rs for the engine side).
import type { DBOSError } from './error';
import type { WorkflowState } from './context';
import { dbosErrorFromNative, type Engine, type NewWorkflow } from './native';
import { completeTogether } from './together';

/** Step checkpoints a workflow may have in flight before its next step waits for them. */
const MAX_WRITES_BEHIND = 64;

export type CheckpointResult = {
  output?: string | null;
  error?: string | null;
  serialization?: string | null;
  childWorkflowId?: string;
};

/**
 * Hands a step's checkpoint to the engine without waiting for its commit, so the workflow's next
 * step runs while it commits.
 */
export function recordBehind(engine: Engine, wf: WorkflowState, functionID: number, name: string, startedAt: number, result: CheckpointResult): void {
  engine.recordBehind(wf.workflowID, wf.token, {
    functionId: functionID,
    name,
    output: result.output ?? null,
    error: result.error ?? null,
    serialization: result.serialization ?? null,
    startedAt,
    completedAt: Date.now(),
    childWorkflowId: null,
  });
  wf.writesBehind = (wf.writesBehind ?? 0) + 1;
}

/**
 * A stream write of workflow code, handed over like a step's checkpoint (its value and its checkpoint
 * commit together, after the workflow's earlier writes): readers see it once committed, and the
 * workflow's next step waits for it.
 */
export async function writeStreamBehind(
  engine: Engine,
  wf: WorkflowState,
  functionID: number,
  name: string,
  key: string,
  value: string,
  serialization: string,
): Promise<void> {
  await boundRunAhead(engine, wf);
  engine.writeStreamBehind({
    workflowId: wf.workflowID,
    token: wf.token,
    functionId: functionID,
    checkpointName: name,
    startedAt: Date.now(),
    key,
    value,
    serialization,
  });
  wf.writesBehind = (wf.writesBehind ?? 0) + 1;
  wf.streamWritesBehind = true;
}

/** Records a checkpoint after the workflow's writes in flight, and waits for its commit. */
export async function record(
  engine: Engine,
  wf: WorkflowState,
  functionID: number,
  name: string,
  startedAt: number,
  result: CheckpointResult,
  conflictCheck = true,
  completedAt = Date.now(),
): Promise<void> {
  await settled(engine, wf);
  await engine.recordCheckpoint(
    wf.workflowID,
    wf.token,
    {
      functionId: functionID,
      name,
      output: result.output ?? null,
      error: result.error ?? null,
      childWorkflowId: result.childWorkflowId ?? null,
      serialization: result.serialization ?? null,
      startedAt,
      completedAt,
    },
    conflictCheck,
  );
}

/** Waits for the workflow's writes in flight (and a held start); throws the first failure among them. */
export async function settled(engine: Engine, wf: WorkflowState): Promise<void> {
  if (wf.writesBehind || wf.startHeld) {
    wf.writesBehind = 0;
    wf.streamWritesBehind = false;
    wf.startHeld = false;
    try {
      await engine.settle(wf.workflowID);
    } catch (error) {
      wf.writeError ??= { error };
    }
  }
  throwIfWriteFailed(wf);
}

/**
 * Before a step (or a recorded value): stop on a failed write, settle stream writes and a held start,
 * and bound the run-ahead.
 */
export async function beforeStep(engine: Engine, wf: WorkflowState): Promise<void> {
  if (wf.streamWritesBehind || wf.startHeld) await settled(engine, wf);
  else await boundRunAhead(engine, wf);
}

async function boundRunAhead(engine: Engine, wf: WorkflowState): Promise<void> {
  if ((wf.writesBehind ?? 0) >= MAX_WRITES_BEHIND) await settled(engine, wf);
  else throwIfWriteFailed(wf);
}

function throwIfWriteFailed(wf: WorkflowState): void {
  if (wf.writeError) throw wf.writeError.error;
}

/**
 * Writes the workflow's outcome in one call: the engine first waits for the writes behind the
 * workflow, or writes a still-held start together with the outcome (the completion takes it over from
 * the end-of-turn release, hence `startHeld` is cleared first).
 */
export function complete(
  engine: Engine,
  wf: WorkflowState,
  status: 'SUCCESS' | 'ERROR',
  output: string | null,
  error: string | null,
): Promise<{ won: boolean; writeError: DBOSError | null }> {
  wf.startHeld = false;
  const done = { workflowId: wf.workflowID, token: wf.token, status, output, error };
  return completeTogether(engine, done).then((r) => ({
    won: r.won,
    writeError: r.writeError && dbosErrorFromNative(r.writeError),
  }));
}

/**
 * Holds a workflow's start back in the engine (called before the workflow runs, so its first durable
 * operation finds the start queued ahead of it). Resolves once the row has committed.
 */
export function holdStart(engine: Engine, row: NewWorkflow, wf: WorkflowState): Promise<unknown> {
  const written = engine.holdStart(row);
  wf.startHeld = true;
  return written;
}

/** After the held workflow began running: has its start written at the end of this turn of the event loop if nothing wrote it before. */
export function releaseAtEndOfTurn(engine: Engine, wf: WorkflowState): void {
  setImmediate(() => {
    if (wf.startHeld) engine.releaseStart(wf.workflowID);
  });
}

/**
 * The starter saw `holdStart`'s promise settle (it awaits it itself: a wrapper would add a hop to every
 * start): the row is written, or refused, so nothing is held any more.
 */
export function heldStartWritten(wf: WorkflowState): void {
  wf.startHeld = false;
}
