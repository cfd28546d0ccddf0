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
import { INTERNAL_QUEUE } from './recovery';
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
 * The checks on an enqueue's options alone, as the SDK makes them (the queue's row is read by the insert
 * itself: see `insertOnQueue`).
 */
export function checkEnqueue(options: EnqueueOptions | undefined): void {
  checkPriority(options?.priority);
  if (options?.deduplicationID !== undefined) requireString('deduplication ID', options.deduplicationID, true);
  if (options?.queuePartitionKey !== undefined) requireString('queuePartitionKey', options.queuePartitionKey, true);
  if (options?.applicationName !== undefined) requireString('applicationName', options.applicationName, true);
  if (options?.applicationVersion !== undefined) requireString('applicationVersion', options.applicationVersion, true);
}

/** Where an enqueued row waits: ENQUEUED, or DELAYED until `delaySeconds` from now; its partition. */
export function placement(o: { queuePartitionKey?: string; delaySeconds?: number } | undefined): {
  status: 'ENQUEUED' | 'DELAYED';
  queuePartitionKey: string | null;
  delayUntilEpochMs: number | null;
} {
  const delay = o?.delaySeconds;
  // As the SDK: only a positive number delays (anything else enqueues at once).
  const delayed = typeof delay === 'number' && delay > 0;
  if (delayed && !Number.isFinite(delay)) {
    throw new DBOSError(`Invalid delaySeconds ${delay}: it must be a finite number of seconds`);
  }
  return {
    status: delayed ? 'DELAYED' : 'ENQUEUED',
    queuePartitionKey: o?.queuePartitionKey ?? null,
    // Whole milliseconds: the column is a bigint (a fraction fails the SDK's insert).
    delayUntilEpochMs: delayed ? Math.round(Date.now() + delay * 1000) : null,
  };
}

// --- debouncer
/**
 * The debounce columns of an enqueued row, from the SDK's internal enqueue options `isDebounced` and
 * `debounceDeadlineEpochMS` (set only by a Debouncer): the delay ends no later than the deadline, as the SDK caps it.
 */
export function debounceColumns(
  delayUntilEpochMs: number | null,
  options: (EnqueueOptions & { isDebounced?: boolean; debounceDeadlineEpochMS?: number }) | undefined,
): Pick<NewWorkflow, 'delayUntilEpochMs' | 'isDebounced' | 'debounceDeadlineEpochMs'> {
  const deadline = options?.debounceDeadlineEpochMS;
  const capped = delayUntilEpochMs !== null && deadline !== undefined && deadline < delayUntilEpochMs;
  return {
    delayUntilEpochMs: capped ? Math.round(deadline) : delayUntilEpochMs,
    isDebounced: options?.isDebounced ?? false,
    debounceDeadlineEpochMs: deadline !== undefined ? Math.round(deadline) : null,
  };
}

/** Queue names already warned about as unregistered, in this process. */
const warnedUnregistered = new Set<string>();

/**
 * Warns, once per queue name in this process, that a workflow was enqueued on a queue with no row in
 * dbos.queues: accepted, as the SDK accepts it (a process may register the queue later), but nothing
 * dispatches it until then. The SDK says nothing.
 */
export function warnIfUnregistered(queueName: string, outcome: Pick<StartOutcome, 'queueRegistered'>): void {
  if (outcome.queueRegistered || queueName === INTERNAL_QUEUE || warnedUnregistered.has(queueName)) return;
  warnedUnregistered.add(queueName);
  console.warn(
    `Workflow enqueued on queue '${queueName}', which is not registered in this system database: ` +
      `it will not run until a process registers the queue (DBOS.registerQueue or DBOSClient.registerQueue).`,
  );
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
      const outcome = await insert();
      warnIfUnregistered(row.queueName, outcome);
      return { outcome };
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

/** A queue's notification in flight, and the one that follows it for enqueues committed meanwhile. */
interface Notifying {
  inFlight: Promise<void> | undefined;
  followUp: Promise<void> | undefined;
}
const notifying = new WeakMap<Engine, Map<string, Notifying>>();

/**
 * Tells the dispatchers of every process that `queue` has new work. The row is already committed, so a
 * failure here is not the enqueue's: the queue's poll finds the row instead. Concurrent enqueues share
 * notifications: while one is in flight, every enqueue committed meanwhile waits for a single follow-up
 * (sent after their commits), so a burst of N enqueues costs at most two NOTIFYs in flight, not N.
 */
export function notifyEnqueued(engine: Engine, queue: string): Promise<void> {
  let queues = notifying.get(engine);
  if (queues === undefined) notifying.set(engine, (queues = new Map()));
  let n = queues.get(queue);
  if (n === undefined) queues.set(queue, (n = { inFlight: undefined, followUp: undefined }));
  const state = n;
  if (state.inFlight === undefined) {
    state.inFlight = engine
      .notifyQueue(queue)
      .catch(() => undefined)
      .finally(() => {
        state.inFlight = undefined;
      });
    return state.inFlight;
  }
  state.followUp ??= state.inFlight.then(() => {
    state.followUp = undefined;
    return notifyEnqueued(engine, queue);
  });
  return state.followUp;
}

/** The unique violation of the queue's deduplication index: the only one an enqueue's insert can raise. */
export function isDedupCollision(e: unknown): boolean {
  return e instanceof DBOSDatabaseError && e.sqlstate === '23505';
}

export { QueueDispatch, type RunClaimed } from './queue-lanes';
