// Time in workflow code: timers that a workflow's cancellation interrupts, durable sleeps and deadlines
// (recorded as `DBOS.sleep`, so a recovered workflow keeps its original end), values produced once and
// replayed (DBOS.now, DBOS.randomUUID), and waits that a cancellation wakes.
import { recordedCheckpoint, takeFunctionID, workflowCode, type WorkflowState } from './context';
import { DBOSWorkflowCancelledError } from './error';
import type { Engine } from './native';
import { appSerializationName, deserializeValue, PORTABLE_JSON, serializeValue, type MaybePromise } from './serialization';
import { checkSleepDuration } from './validation';
import { beforeStep, record, recordBehind } from './write-behind';

/** The longest delay a Node timer takes (a longer one fires at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Sleeps in chunks a Node timer accepts; a workflow's cancellation interrupts it. */
export async function timerSleep(ms: number, cancel?: { signal: AbortSignal; workflowID: string }): Promise<void> {
  let left = ms;
  while (left > 0) {
    const chunk = Math.min(left, MAX_TIMER_MS);
    await new Promise<void>((resolve, reject) => {
      const signal = cancel?.signal;
      if (signal?.aborted) return reject(new DBOSWorkflowCancelledError(cancel?.workflowID ?? ''));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new DBOSWorkflowCancelledError(cancel?.workflowID ?? ''));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, chunk);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    left -= chunk;
  }
}

/** DBOS.sleep: durable in workflow code (a recovered workflow sleeps only what is left), a timer elsewhere. */
export async function sleepms(engine: Engine, ms: number): Promise<void> {
  checkSleepDuration(ms);
  const wf = workflowCode();
  if (!wf) return timerSleep(ms);
  const functionID = takeFunctionID(wf);
  const end = await durableDeadline(engine, wf, functionID, ms, true);
  if (end !== undefined) await timerSleep(end - Date.now(), { signal: wf.cancel.signal, workflowID: wf.workflowID });
}

/** A deadline an earlier run recorded at `functionID` (as DBOS.sleep), if there is one. */
export function recordedDeadline(wf: WorkflowState, functionID: number): number | undefined {
  const cp = recordedCheckpoint(wf, functionID, 'DBOS.sleep');
  return cp ? Number(JSON.parse(cp.output ?? 'null')) : undefined;
}

/**
 * The recorded end of a durable wait at `functionID`, recording `now + ms` if there is none. Returns
 * undefined (and records nothing) for a non-positive duration, as the SDK does.
 */
export async function durableDeadline(engine: Engine, wf: WorkflowState, functionID: number, ms: number, isSleep: boolean): Promise<number | undefined> {
  const recorded = recordedDeadline(wf, functionID);
  if (recorded !== undefined) return recorded;
  if (ms <= 0) return undefined;
  const now = Date.now();
  const end = now + Math.ceil(ms);
  await record(engine, wf, functionID, 'DBOS.sleep', now, { output: JSON.stringify(end), serialization: PORTABLE_JSON }, false, isSleep ? end : now);
  return end;
}

/** A value produced once and replayed after (DBOS.now, DBOS.randomUUID). */
export async function recordedValue<T>(engine: Engine, name: string, produce: () => T): Promise<T> {
  const wf = workflowCode();
  if (!wf) return produce();
  const functionID = takeFunctionID(wf);
  const cp = recordedCheckpoint(wf, functionID, name);
  if (cp) return deserializeValue(cp.output ?? null, appSerializationName()) as MaybePromise<T>;
  await beforeStep(engine, wf);
  const startedAt = Date.now();
  const value = produce();
  const text = serializeValue(value, appSerializationName());
  recordBehind(engine, wf, functionID, name, startedAt, { output: typeof text === 'string' ? text : await text });
  return value;
}

/**
 * Runs a wait of workflow code (recv, getEvent, a stream read) so that cancelling the workflow
 * interrupts it: the abort wakes the engine's waiter, which then finds the execution no longer owns
 * its row.
 */
export async function whileWaiting<T>(engine: Engine, wf: WorkflowState, key: string, wait: () => Promise<T>): Promise<T> {
  const onAbort = () => void engine.wake(key).catch(() => undefined);
  wf.cancel.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (wf.cancel.signal.aborted) throw new DBOSWorkflowCancelledError(wf.workflowID);
    return await wait();
  } finally {
    wf.cancel.signal.removeEventListener('abort', onAbort);
  }
}
