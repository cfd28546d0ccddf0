// Dispatch of application queues (rows of dbos.queues) in this process: one lane per queue claims its
// ENQUEUED workflows within the queue's limits (the engine computes the budget under a per-queue lock)
// and hands them to the executor's path for claimed workflows. Lanes are woken, not polled: an enqueue
// in this process, an enqueue by another of our processes or clients (a NOTIFY on our own channel), and
// the end of one of the queue's runs here claim at once; polling at the queue's interval remains for
// rows the official SDK enqueues (it does not notify) and notifications lost to a reconnect.
import {
  DBOSDatabaseError,
  DBOSError,
  DBOSInvalidQueuePriorityError,
  DBOSInvalidWorkflowTransitionError,
  DBOSQueueDuplicatedError,
} from './error';
import type { EnqueueOptions } from './executor';
import type { ClaimedWorkflow, Engine, NewWorkflow, StartOutcome } from './native';
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

/** A claimed workflow now running here (`finished` settles when it ends), or undefined if it does not run here. */
export type RunClaimed = (c: ClaimedWorkflow) => Promise<{ finished: Promise<unknown> } | undefined>;

/** How often the list of queues is re-read (queues registered, changed or deleted elsewhere). */
const REFRESH_MS = 1000;
/** At most this many rows per claim; a full claim is followed at once by another. */
const CLAIM_CAP = 1000;

interface Lane {
  readonly name: string;
  pollMs: number;
  claiming: boolean;
  /** Woken while claiming: claim again when this claim ends. */
  again: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class QueueDispatch {
  private readonly lanes = new Map<string, Lane>();
  /** IDs of each queue's workflows running in this process (the worker limit counts these), lane or not. */
  private readonly running = new Map<string, Set<string>>();
  private readonly claims = new Set<Promise<void>>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly run: RunClaimed,
  ) {}

  /** Reads the queues, claims from each at once, and re-reads the list every second. */
  async start(): Promise<void> {
    this.started = true;
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.refreshTimer.unref();
    void this.followNotifications();
  }

  /** Wakes the lanes of queues enqueued onto by other processes and clients (our NOTIFY channel). */
  private async followNotifications(): Promise<void> {
    while (!this.closed) {
      try {
        for (const queue of await this.engine.nextQueueWakes(REFRESH_MS)) this.wake(queue);
      } catch {
        // The engine is closing (or failed): the lanes' polls remain.
        return;
      }
    }
  }

  /** Work for `queue` may be startable now (enqueued here, or one of its runs ended). */
  wake(queue: string): void {
    if (!this.started || this.closed) return;
    const lane = this.lanes.get(queue);
    // A queue registered since the last read: read the list now rather than at the next refresh.
    if (lane) this.poke(lane);
    else void this.refresh();
  }

  /**
   * A claimed run of `queue` started elsewhere in this process (recovered at launch): counted against the
   * queue's worker limit until it ends, and its end wakes the queue.
   */
  track(queue: string, workflowID: string, finished: Promise<unknown>): void {
    const ids = this.runningOf(queue);
    ids.add(workflowID);
    void finished
      .catch(() => undefined)
      .finally(() => {
        ids.delete(workflowID);
        this.wake(queue);
      });
  }

  private runningOf(queue: string): Set<string> {
    let ids = this.running.get(queue);
    if (!ids) this.running.set(queue, (ids = new Set()));
    return ids;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    for (const lane of this.lanes.values()) clearTimeout(lane.timer);
    await this.refreshing;
    await Promise.all([...this.claims]);
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const queues = await this.engine.queuesToServe();
        if (this.closed) return;
        const seen = new Set<string>();
        for (const q of queues) {
          seen.add(q.name);
          const lane = this.lanes.get(q.name);
          if (lane) {
            lane.pollMs = q.pollingIntervalMs;
            continue;
          }
          const fresh: Lane = { name: q.name, pollMs: q.pollingIntervalMs, claiming: false, again: false, timer: undefined };
          this.lanes.set(q.name, fresh);
          this.poke(fresh);
        }
        for (const [name, lane] of this.lanes) {
          // A deleted queue stops dispatching; its runs here go on to their end.
          if (!seen.has(name)) {
            clearTimeout(lane.timer);
            this.lanes.delete(name);
          }
        }
      } catch {
        // The database is unreachable or shutting down: the next refresh tries again.
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private poke(lane: Lane): void {
    if (this.closed || this.lanes.get(lane.name) !== lane) return;
    if (lane.claiming) {
      lane.again = true;
      return;
    }
    lane.claiming = true;
    clearTimeout(lane.timer);
    const claim = this.drain(lane)
      .catch(() => undefined)
      .finally(() => {
        lane.claiming = false;
        this.claims.delete(claim);
        if (this.closed || this.lanes.get(lane.name) !== lane) return;
        // The fallback for work enqueued elsewhere.
        lane.timer = setTimeout(() => this.poke(lane), lane.pollMs);
        lane.timer.unref();
      });
    this.claims.add(claim);
  }

  /** Claims until a claim comes back short with no wake-up in between. */
  private async drain(lane: Lane): Promise<void> {
    for (;;) {
      lane.again = false;
      const running = this.runningOf(lane.name);
      const claimed = await this.engine.claimFromQueue(lane.name, running.size, CLAIM_CAP);
      for (const c of claimed) running.add(c.workflowId);
      await Promise.all(claimed.map((c) => this.startRun(lane, c)));
      if (this.closed || (!lane.again && claimed.length < CLAIM_CAP)) return;
    }
  }

  private async startRun(lane: Lane, c: ClaimedWorkflow): Promise<void> {
    let started: { finished: Promise<unknown> } | undefined;
    try {
      started = await this.run(c);
    } finally {
      if (!started) this.runningOf(lane.name).delete(c.workflowId);
    }
    if (started) this.track(lane.name, c.workflowId, started.finished);
  }
}
