// waitFirst / waitAll, shared by DBOS and DBOSClient: one query per check for all the handles, re-checked when
// any of them signals its completion (queued rows' NOTIFY, or the end of a run in this process) and otherwise
// every polling interval.
import { workflowCode } from './context';
import { DBOSError, DBOSWorkflowCancelledError } from './error';
import type { PollingOptions, WorkflowHandle } from './handles';
import type { Engine } from './native';
import { describe } from './validation';

export type WaitFirstOptions = PollingOptions;
export type WaitAllOptions = PollingOptions;

/** Who waits: the engine, and (in an app) the end of a run in this process. */
export interface Waiter {
  engine: Engine;
  localEnd?: (workflowID: string) => Promise<unknown> | undefined;
}

/** The SDK's check of pollingIntervalMs (default: its 1 s result polling). */
export function pollingInterval(options: PollingOptions | undefined): number {
  const interval = options?.pollingIntervalMs;
  if (interval === undefined) return 1000;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
    throw new DBOSError('pollingIntervalMs must be a positive finite number');
  }
  return interval;
}

function requireHandles(handles: unknown): asserts handles is WorkflowHandle<unknown>[] {
  if (!Array.isArray(handles)) throw new DBOSError(`Invalid handles ${describe(handles)}: they must be an array of workflow handles`);
  for (const h of handles) {
    const id: unknown = (h as { workflowID?: unknown } | null)?.workflowID;
    if (typeof id !== 'string') throw new DBOSError(`Invalid workflow handle ${describe(h)}: it has no workflowID`);
  }
}

/**
 * The IDs among `ids` found finished: at least one (`all` false) or all of them. Each engine call waits at most
 * one polling interval, so a run of this process ending (not notified) or the caller's cancellation is seen.
 */
async function awaitDone(by: Waiter, ids: string[], all: boolean, pollMs: number): Promise<string[]> {
  const caller = workflowCode();
  let remaining = ids;
  for (;;) {
    if (caller?.cancel.signal.aborted) throw new DBOSWorkflowCancelledError(caller.workflowID);
    const local = remaining.map((id) => by.localEnd?.(id)).filter((p) => p !== undefined);
    const slice = by.engine.awaitDone({ workflowIds: remaining, all, pollMs: Math.ceil(pollMs), deadlineEpochMs: Date.now() + pollMs });
    // A local run's end only wakes the next check (its completion may still be committing).
    const done = await Promise.race([slice, ...local.map((p) => p.then(() => [] as string[]))]);
    if (!all && done.length > 0) return done;
    remaining = remaining.filter((id) => !done.includes(id));
    if (remaining.length === 0) return ids;
  }
}

export async function waitFirst(by: Waiter, handles: WorkflowHandle<unknown>[], options: WaitFirstOptions | undefined, record?: (fn: () => Promise<string>) => Promise<string>): Promise<WorkflowHandle<unknown>> {
  const pollMs = pollingInterval(options);
  requireHandles(handles);
  if (handles.length === 0) throw new DBOSError('handles must not be empty');
  const byID = new Map<string, WorkflowHandle<unknown>>();
  for (const h of handles) {
    if (byID.has(h.workflowID)) throw new DBOSError(`Duplicate workflow ID in waitFirst: ${h.workflowID}`);
    byID.set(h.workflowID, h);
  }
  const first = async () => (await awaitDone(by, [...byID.keys()], false, pollMs))[0] ?? '';
  const id = record ? await record(first) : await first();
  return byID.get(id) ?? handles[0];
}

export async function waitAll<R>(by: Waiter, handles: WorkflowHandle<R>[], options: WaitAllOptions | undefined, record?: (fn: () => Promise<void>) => Promise<void>): Promise<WorkflowHandle<R>[]> {
  requireHandles(handles);
  if (handles.length === 0) return [];
  const pollMs = pollingInterval(options);
  const all = async () => void (await awaitDone(by, [...new Set(handles.map((h) => h.workflowID))], true, pollMs));
  await (record ? record(all) : all());
  return handles;
}
