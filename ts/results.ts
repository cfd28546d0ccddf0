// Awaiting workflows: a run in this process is waited for, any other is polled in the database; from
// workflow code the outcome (getResult) or status (getWorkflowStatus) is recorded and replayed.
import { recordedCheckpoint, type WorkflowState } from './context';
import {
  DBOSAwaitedWorkflowCancelledError,
  DBOSAwaitedWorkflowExceededMaxRecoveryAttempts,
  DBOSError,
  DBOSWorkflowCancelledError,
  DBOSWorkflowConflictError,
} from './error';
import { durableDeadline, MAX_TIMER_MS, timerSleep } from './durable-time';
import type { Engine, WorkflowOutcome } from './native';
import {
  appSerializationName,
  deserializeError,
  deserializeValue,
  isPromiseLike,
  PORTABLE_JSON,
  replayCheckpoint,
  serializeError,
  serializeValue,
  throwRevived,
  type MaybePromise,
  type SerializerOptions,
} from './serialization';
import { fromLegacyStatus, toLegacyStatus, toWorkflowStatus, type LegacyStatus, type WorkflowStatus } from './workflow-status';
import { record, settled, type CheckpointResult } from './write-behind';

/** A workflow executing in this process; `recorded.outcome` is set once its completion is written. */
export interface RunningWorkflow {
  state: WorkflowState;
  promise: Promise<unknown>;
  recorded: { outcome?: WorkflowOutcome };
}

/**
 * Waits for `ended` (true), or for the deadline to pass (false); the caller's cancellation rejects
 * the wait with its `DBOSWorkflowCancelledError`.
 */
function untilDeadline(ended: Promise<boolean>, deadlineEpochMS: number | null, caller: WorkflowState | undefined): Promise<boolean> {
  const signal = caller?.cancel.signal;
  if (deadlineEpochMS === null && !signal) return ended;
  return new Promise<boolean>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(new DBOSWorkflowCancelledError(caller?.workflowID ?? '')));
    // A Node timer fires at once past 2^31-1 ms: re-arm until the deadline.
    const arm = () => {
      if (deadlineEpochMS === null) return;
      const left = deadlineEpochMS - Date.now();
      if (left <= 0) return finish(() => resolve(false));
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    arm();
    void ended.then(() => finish(() => resolve(true)));
  });
}

/**
 * Awaits a workflow's recorded outcome, as any process would see it (a cancelled workflow is
 * `DBOSAwaitedWorkflowCancelledError`). A run in this process is waited for instead of polled.
 * With `caller` (workflow code awaiting), the caller's cancellation interrupts the wait.
 */
export async function awaitResult(
  engine: Engine,
  local: RunningWorkflow | undefined,
  workflowID: string,
  pollMs: number,
  deadlineEpochMS: number | null,
  caller?: WorkflowState,
): Promise<{ done: boolean; value?: unknown }> {
  if (local) {
    const ended = local.promise.then(
      () => true,
      () => true,
    );
    if (!(await untilDeadline(ended, deadlineEpochMS, caller))) return { done: false };
  }
  // A local run's own outcome if it recorded one; else (cancelled, lost its row, shut down, or run
  // elsewhere) the database says what happened.
  const outcome =
    local?.recorded.outcome ??
    (caller
      ? await pollOutcome(engine, workflowID, pollMs, deadlineEpochMS, caller)
      : await engine.awaitOutcome(workflowID, pollMs, deadlineEpochMS));
  if (!outcome) return { done: false };
  const value = outcomeValue(workflowID, outcome);
  return { done: true, value: isPromiseLike(value) ? await value : value };
}

/** Polls for an outcome between timer sleeps that the caller's cancellation interrupts. */
async function pollOutcome(
  engine: Engine,
  workflowID: string,
  pollMs: number,
  deadlineEpochMS: number | null,
  caller: WorkflowState,
): Promise<WorkflowOutcome | null> {
  const cancel = { signal: caller.cancel.signal, workflowID: caller.workflowID };
  for (;;) {
    if (cancel.signal.aborted) throw new DBOSWorkflowCancelledError(caller.workflowID);
    // A deadline of now: one read.
    const outcome = await engine.awaitOutcome(workflowID, pollMs, Date.now());
    if (outcome) return outcome;
    const left = deadlineEpochMS === null ? pollMs : deadlineEpochMS - Date.now();
    if (left <= 0) return null;
    await timerSleep(Math.min(pollMs, left), cancel);
  }
}

/** A getResult of workflow code: what it awaits, and the function IDs its caller took for it. */
export interface ResultWait {
  workflowID: string;
  /** Where the outcome is recorded (`DBOS.getResult`). */
  functionID: number;
  pollMs: number;
  /** With a timeout: its deadline is recorded as a durable `DBOS.sleep` at `functionID`. */
  timer?: { functionID: number; timeoutMS: number };
}

/**
 * getResult from workflow code: the outcome is recorded as `DBOS.getResult` and replayed after
 * recovery.
 */
export async function checkpointedResult<R>(
  engine: Engine,
  running: ReadonlyMap<string, RunningWorkflow>,
  wf: WorkflowState,
  { workflowID, functionID, pollMs, timer }: ResultWait,
): Promise<R | null> {
  const cp = recordedCheckpoint(wf, functionID, 'DBOS.getResult');
  if (cp) return replayCheckpoint(cp) as MaybePromise<R | null>;
  const startedAt = Date.now();
  let deadline: number | null = null;
  if (timer) {
    deadline = (await durableDeadline(engine, wf, timer.functionID, timer.timeoutMS, false)) ?? Date.now();
  }
  let result: { done: boolean; value?: unknown };
  try {
    result = await awaitResult(engine, running.get(workflowID), workflowID, pollMs, deadline, wf);
  } catch (e) {
    if (e instanceof DBOSWorkflowConflictError) throw e;
    // The awaiting workflow's own cancellation is not the awaited outcome: a resume waits again.
    if (e instanceof DBOSWorkflowCancelledError && e.workflowID === wf.workflowID) throw e;
    const recorded = await outcomeCheckpoint({ error: e }, appSerializationName());
    await record(engine, wf, functionID, 'DBOS.getResult', startedAt, { ...recorded, childWorkflowId: workflowID });
    throw e;
  }
  const value = result.done ? result.value : null;
  const recorded = await outcomeCheckpoint({ value }, appSerializationName());
  await record(engine, wf, functionID, 'DBOS.getResult', startedAt, { ...recorded, childWorkflowId: workflowID });
  return value as R | null;
}

/**
 * getWorkflowStatus from workflow code: recorded as `getStatus` (the SDK's legacy-shaped JSON) and
 * replayed. Like the SDK, a call at function ID 0 is not recorded.
 */
export async function checkpointedStatus(engine: Engine, wf: WorkflowState, functionID: number, workflowID: string): Promise<WorkflowStatus | null> {
  const cp = functionID > 0 ? recordedCheckpoint(wf, functionID, 'getStatus') : undefined;
  if (cp) {
    const legacy = JSON.parse(cp.output ?? 'null') as LegacyStatus | null;
    return legacy ? toWorkflowStatus(fromLegacyStatus(legacy)) : null;
  }
  await settled(engine, wf);
  const startedAt = Date.now();
  const row = await engine.getWorkflowStatus(workflowID);
  if (functionID > 0) {
    await record(engine, wf, functionID, 'getStatus', startedAt, {
      output: JSON.stringify(row ? toLegacyStatus(row) : null),
      serialization: PORTABLE_JSON,
    });
  }
  return row ? toWorkflowStatus(row) : null;
}

/** An outcome (a value, or the error thrown) as the text of a checkpoint, serialized in `format`. */
export async function outcomeCheckpoint(outcome: { value: unknown } | { error: unknown }, format: string): Promise<CheckpointResult> {
  if ('error' in outcome) return { error: await serializeError(outcome.error, format) };
  return { output: await serializeValue(outcome.value, format) };
}

/**
 * The value of a terminal outcome read from the database, or the error it stands for (thrown, or as a rejected
 * promise: a Promise is returned only when the serializer is asynchronous, so callers must await it then).
 */
export function outcomeValue(workflowID: string, outcome: WorkflowOutcome | null, opts?: SerializerOptions): MaybePromise<unknown> {
  if (!outcome) return null;
  switch (outcome.status) {
    case 'SUCCESS':
      return deserializeValue(outcome.output ?? null, outcome.serialization ?? null, opts);
    case 'ERROR':
      return throwRevived(deserializeError(outcome.error ?? null, outcome.serialization ?? null, opts));
    case 'CANCELLED':
      throw new DBOSAwaitedWorkflowCancelledError(workflowID);
    case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
      throw new DBOSAwaitedWorkflowExceededMaxRecoveryAttempts(workflowID);
    default:
      throw new DBOSError(`Workflow ${workflowID} has unexpected status ${outcome.status}`);
  }
}
