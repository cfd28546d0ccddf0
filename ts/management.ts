// Management of queued workflows shared by DBOS and DBOSClient: priority and delay changes and resume, each
// checked here (a rejection, the database untouched) before the engine's one statement.
import { DBOSError, DBOSInvalidQueuePriorityError } from './error';
import { checkPriority } from './queue-dispatch';
import { describe, requireString, requireWorkflowIDs } from './validation';

/** The options of setWorkflowDelay (the SDK's `SetWorkflowDelayOptions`). */
export interface SetWorkflowDelayOptions {
  /** Seconds from now. */
  delaySeconds?: number;
  /** An absolute end of the delay, in epoch milliseconds (wins over delaySeconds). */
  delayUntilEpochMS?: number;
}

function positive(what: string, v: unknown): number {
  // `v <= 0` is the SDK's check and message; a non-number or NaN would reach its database as an error.
  if (typeof v !== 'number' || Number.isNaN(v)) throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a number greater than 0`);
  if (v <= 0) throw new DBOSError(`${what} must be greater than 0`);
  if (!Number.isFinite(v)) throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be finite`);
  return v;
}

/** When the delay ends, in epoch ms, as the SDK resolves it (delayUntilEpochMS first, then delaySeconds). */
export function delayEndEpochMS(options: number | SetWorkflowDelayOptions): number {
  if (typeof options === 'number') return Math.round(Date.now() + positive('delaySeconds', options) * 1000);
  if (typeof options !== 'object' || options === null) {
    throw new DBOSError(`Invalid setWorkflowDelay options ${describe(options)}: a number of seconds or {delaySeconds?, delayUntilEpochMS?}`);
  }
  if (options.delayUntilEpochMS !== undefined) return Math.round(positive('delayUntilEpochMS', options.delayUntilEpochMS));
  if (options.delaySeconds !== undefined) return Math.round(Date.now() + positive('delaySeconds', options.delaySeconds) * 1000);
  throw new DBOSError('SetWorkflowDelayOptions must specify either delaySeconds or delayUntilEpochMS');
}

/** The priority check of DBOS.setWorkflowPriority, also made by the client (where the SDK writes any int4). */
export function checkNewPriority(priority: unknown): number {
  if (typeof priority !== 'number') throw new DBOSInvalidQueuePriorityError(priority as number, 0, 2 ** 31 - 1);
  checkPriority(priority);
  return priority;
}

/** The arguments of resumeWorkflow(s), checked: the IDs and the queue to resume onto (null: the internal queue). */
export function resumeArgs(workflowIDs: unknown, options: { queueName?: string } | undefined): string | null {
  requireWorkflowIDs(workflowIDs);
  const queueName = options?.queueName;
  return queueName === undefined || queueName === null ? null : requireString('queueName', queueName);
}

export function requireID(workflowID: unknown): string {
  return requireString('workflow ID', workflowID);
}
