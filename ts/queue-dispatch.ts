// Enqueueing onto application queues (rows of dbos.queues): the checks of an enqueue's options, its insert,
// and the notification that wakes the dispatchers (ts/queue-lanes.ts) of other processes.
import {
  DBOSDatabaseError,
  DBOSError,
  DBOSInvalidQueuePriorityError,
  DBOSInvalidWorkflowTransitionError,
  DBOSQueueDuplicatedError,
} from './error';
import type { EnqueueOptions } from './executor';
import type { Engine, NewWorkflow, StartOutcome } from './native';
import { requireString } from './validation';

const MIN_PRIORITY = 0;
const MAX_PRIORITY = 2 ** 31 - 1;

/** A queue priority: an integer in 0 .. 2^31-1. */
export function checkPriority(priority: number | undefined): void {
  // A fraction would fail at the database in the SDK; here it fails with the priority's own error.
  if (priority !== undefined && !(Number.isInteger(priority) && priority >= MIN_PRIORITY && priority <= MAX_PRIORITY)) {
    throw new DBOSInvalidQueuePriorityError(priority, MIN_PRIORITY, MAX_PRIORITY);
  }
}

/**
 * The checks on an enqueue's options alone (the queue's row is not read), as the SDK makes them; options
 * this build does not dispatch yet are refused rather than ignored.
 */
export function checkEnqueue(options: EnqueueOptions | undefined, appName: string, appVersion: string): void {
  checkPriority(options?.priority);
  if (options?.deduplicationID !== undefined) requireString('deduplication ID', options.deduplicationID, true);
  refuseNotYet([
    options?.queuePartitionKey !== undefined && 'queuePartitionKey',
    (options?.delaySeconds ?? 0) > 0 && 'delaySeconds',
    options?.applicationName !== undefined && options.applicationName !== appName && 'applicationName',
    options?.applicationVersion !== undefined && options.applicationVersion !== appVersion && 'applicationVersion',
  ]);
}

/** Refuses the enqueue options this build does not write yet (each entry: the option's name if it was set). */
export function refuseNotYet(set: ReadonlyArray<string | false>): void {
  const unsupported = set.filter((o): o is string => typeof o === 'string');
  if (unsupported.length > 0) {
    throw new DBOSError(`Enqueue option(s) ${unsupported.join(', ')} are not supported yet by dbos-native`);
  }
}

/** How an enqueue's insert ended: written (or the ID was in use), collided and returned the holder, or refused. */
export type EnqueueResult = { outcome: StartOutcome } | { existing: string } | { duplicated: DBOSQueueDuplicatedError };

/**
 * Runs an enqueue's insert. On a collision of its deduplication ID it yields the refusal, or with
 * `duplicationPolicy: 'return-existing'` the workflow holding the ID; if that one ended between the insert and the
 * read (freeing the ID), the insert runs again.
 */
export async function insertOnQueue(
  engine: Engine,
  row: NewWorkflow & { queueName: string },
  returnExisting: boolean,
  insert: () => Promise<StartOutcome>,
): Promise<EnqueueResult> {
  for (;;) {
    try {
      return { outcome: await insert() };
    } catch (e) {
      if (row.deduplicationId === null || !isDedupCollision(e)) throw e;
      if (!returnExisting) return { duplicated: new DBOSQueueDuplicatedError(row.workflowId, row.queueName, row.deduplicationId) };
      const existing = await engine.deduplicatedWorkflow(row.queueName, row.deduplicationId);
      if (existing !== null && existing !== undefined) return { existing };
    }
  }
}

/** `duplicationPolicy: 'return-existing'` needs a queue and a deduplication ID (the SDK's checks and messages). */
export function checkReturnExisting(queueName: string | undefined, deduplicationID: string | undefined, client = false): void {
  if (!client && queueName === undefined) {
    throw new DBOSInvalidWorkflowTransitionError("`duplicationPolicy: 'return-existing'` requires a `queueName`");
  }
  if (!deduplicationID) {
    const what = client ? '`deduplicationID`' : '`enqueueOptions.deduplicationID`';
    throw new DBOSInvalidWorkflowTransitionError(`\`duplicationPolicy: 'return-existing'\` requires ${what}`);
  }
}

/**
 * Tells the dispatchers of every process that `queue` has new work. The row is already committed, so a
 * failure here is not the enqueue's: the queue's poll finds the row instead.
 */
export async function notifyEnqueued(engine: Engine, queue: string): Promise<void> {
  await engine.notifyQueue(queue).catch(() => undefined);
}

/** The unique violation of the queue's deduplication index: the only one an enqueue's insert can raise. */
export function isDedupCollision(e: unknown): boolean {
  return e instanceof DBOSDatabaseError && e.sqlstate === '23505';
}

export { QueueDispatch, type RunClaimed } from './queue-lanes';
