// Dispatch of application queues (rows of dbos.queues) in this process: one lane per queue claims its
// ENQUEUED workflows within the queue's limits (the engine computes the budgets under a per-queue lock,
// per partition key on a partitioned queue) and hands them to the executor's path for claimed workflows.
// Lanes are woken, not polled: an enqueue in this process, an enqueue by another engine (a NOTIFY on our
// own channel; our own echo is skipped), a due DELAYED row and the end of one of the queue's runs here
// claim at once. Polling remains for rows the official SDK enqueues (it does not notify) and
// notifications lost to a reconnect, and stays cheap while idle: one statement per poll tells which of
// the due queues have claimable rows, and only those run a claim transaction.
import type { ClaimedWorkflow, Engine } from './native';
import { allWorkflows } from './registry';

/** A claimed workflow now running here (`finished` settles when it ends), or undefined if it does not run here. */
export type RunClaimed = (c: ClaimedWorkflow) => Promise<{ finished: Promise<unknown> } | undefined>;

/** How often the list of queues is re-read (queues registered, changed or deleted elsewhere) and due DELAYED rows moved. */
const REFRESH_MS = 1000;
/** At most this many rows per claim; a full claim is followed at once by another. */
const CLAIM_CAP = 1000;
/** The SDK's default `minPollingIntervalMs`, used for a stored interval that is not a positive number. */
const DEFAULT_POLL_MS = 1000;
/** The SDK never polls less often than this (its backoff ceiling). */
const MAX_POLL_MS = 120_000;
/**
 * The SDK accepts any positive interval; below this one the fallback poll would only burn CPU (wake-ups
 * start local and notified work at once), so it is raised to this.
 */
const MIN_POLL_MS = 10;
/**
 * Polling mode: no NOTIFY wakes a lane for another process's enqueue, so a lane polls at least this often
 * (one statement for all due lanes), not at its queue's interval (the SDK's default is 1 s).
 */
export const POLLING_MODE_QUEUE_POLL_MS = 200;
/** The poll interval of a queue whose row holds `storedMs` (0, negative or not a number must not spin). */
export function pollInterval(storedMs: number): number {
  if (!Number.isFinite(storedMs) || storedMs <= 0) return DEFAULT_POLL_MS;
  return Math.round(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, storedMs)));
}

/**
 * When a lane that last looked for work at `now` looks again: on the next multiple of its interval (epoch
 * time) after `now`, so that every idle lane with that interval (or a divisor of it) is due at the same instant
 * and one statement checks them all. So work no one wakes the lane for (the official SDK's enqueues) waits at
 * most one interval, as the SDK's own poll promises; rounding up past a whole interval made it up to two.
 */
export function nextPoll(now: number, pollMs: number): number {
  return (Math.floor(now / pollMs) + 1) * pollMs;
}

interface Lane {
  readonly name: string;
  pollMs: number;
  partitioned: boolean;
  /** It has a concurrency limit: the end of one of its runs may let another start. */
  bounded: boolean;
  claiming: boolean;
  /** Woken while claiming: claim again when this claim ends. */
  again: boolean;
  /** When to look for work again if nothing wakes the lane (epoch ms). */
  nextPollAt: number;
  /** The partition key the last claim ended on: the next starts after it. */
  cursor: string | null;
}

export class QueueDispatch {
  private readonly lanes = new Map<string, Lane>();
  /** Each queue's workflows running in this process (the worker limits count these), by ID, with their partition key. */
  private readonly running = new Map<string, Map<string, string | null>>();
  private readonly claims = new Set<Promise<void>>();
  private runnable: { name: string; className: string }[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  private delayDueAt = Infinity;
  private started = false;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly run: RunClaimed,
    /** The longest a lane waits between polls (POLLING_MODE_QUEUE_POLL_MS in polling mode). */
    private readonly maxPollMs = Infinity,
  ) {}

  /** Reads the queues, claims from each at once, and re-reads the list every second. */
  async start(): Promise<void> {
    this.started = true;
    // The registry is frozen at launch: only these can run here, so only these are claimed.
    this.runnable = allWorkflows().map((w) => ({ name: w.name, className: w.className }));
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.refreshTimer.unref();
    void this.followNotifications();
  }

  /** Wakes the lanes of queues enqueued onto by other engines (our NOTIFY channel). */
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

  /** Work for `queue` may be startable now (enqueued here or by another engine, or delayed rows came due). */
  wake(queue: string): void {
    if (!this.started || this.closed) return;
    const lane = this.lanes.get(queue);
    // A queue registered since the last read: read the list now rather than at the next refresh.
    if (lane) this.poke(lane);
    else void this.refresh();
  }

  /** A DELAYED row is due at `dueEpochMs` (enqueued here): move it then rather than at a refresh. */
  delayed(dueEpochMs: number): void {
    if (this.started && !this.closed) this.armDelayTimer(dueEpochMs);
  }

  /**
   * A claimed run of `queue` started elsewhere in this process (recovered at launch): counted against the
   * queue's worker limit until it ends, and its end wakes the queue if that frees a slot (a queue without a
   * concurrency limit had nothing waiting for one: an end there would cost a claim for nothing).
   */
  track(queue: string, workflowID: string, finished: Promise<unknown>, partitionKey: string | null = null): void {
    const ids = this.runningOf(queue);
    ids.set(workflowID, partitionKey);
    void finished
      .catch(() => undefined)
      .finally(() => {
        ids.delete(workflowID);
        const lane = this.lanes.get(queue);
        if (lane?.bounded) this.poke(lane);
      });
  }

  private runningOf(queue: string): Map<string, string | null> {
    let ids = this.running.get(queue);
    if (!ids) this.running.set(queue, (ids = new Map()));
    return ids;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    clearTimeout(this.pollTimer);
    clearTimeout(this.delayTimer);
    await this.refreshing;
    await this.polling;
    await Promise.all([...this.claims]);
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        // A failed sweep is the next refresh's to redo; it must not keep the queue list stale.
        const [queues] = await Promise.all([this.engine.queuesToServe(), this.sweepDelayed().catch(() => undefined)]);
        if (this.closed) return;
        const seen = new Set<string>();
        for (const q of queues) {
          seen.add(q.name);
          const pollMs = Math.min(pollInterval(q.pollingIntervalMs), this.maxPollMs);
          const lane = this.lanes.get(q.name);
          if (lane) {
            lane.pollMs = pollMs;
            lane.partitioned = q.partitioned;
            lane.bounded = q.bounded;
            continue;
          }
          const fresh: Lane = {
            name: q.name,
            pollMs,
            partitioned: q.partitioned,
            bounded: q.bounded,
            claiming: false,
            again: false,
            nextPollAt: 0,
            cursor: null,
          };
          this.lanes.set(q.name, fresh);
          this.poke(fresh);
        }
        // A deleted queue stops dispatching; its runs here go on to their end.
        for (const name of this.lanes.keys()) if (!seen.has(name)) this.lanes.delete(name);
        this.schedulePoll();
      } catch {
        // The database is unreachable or shutting down: the next refresh tries again.
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Moves due DELAYED rows to ENQUEUED, wakes their queues, and arms the timer for the next due row. */
  private async sweepDelayed(): Promise<void> {
    const swept = await this.engine.sweepDelayed();
    if (this.closed) return;
    for (const queue of swept.woken) this.wake(queue);
    this.delayDueAt = Infinity;
    clearTimeout(this.delayTimer);
    if (swept.nextDueEpochMs !== null && swept.nextDueEpochMs !== undefined) this.armDelayTimer(swept.nextDueEpochMs);
  }

  private armDelayTimer(dueEpochMs: number): void {
    // Rows due after the next refresh are the refresh's: it re-arms this timer with the earliest.
    if (dueEpochMs >= this.delayDueAt || dueEpochMs > Date.now() + 2 * REFRESH_MS) return;
    this.delayDueAt = dueEpochMs;
    clearTimeout(this.delayTimer);
    this.delayTimer = setTimeout(
      () => {
        this.delayDueAt = Infinity;
        this.sweepDelayed().catch(() => undefined);
      },
      Math.max(0, dueEpochMs - Date.now()),
    );
    this.delayTimer.unref();
  }

  /** Arms the one poll timer for the earliest lane due to poll. */
  private schedulePoll(): void {
    if (this.closed || this.polling) return;
    let next = Infinity;
    for (const lane of this.lanes.values()) if (!lane.claiming) next = Math.min(next, lane.nextPollAt);
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    if (next === Infinity) return;
    this.pollTimer = setTimeout(() => this.poll(), Math.max(0, next - Date.now()));
    this.pollTimer.unref();
  }

  /** One statement for every lane due: claims only from those that have claimable rows. */
  private poll(): void {
    if (this.closed || this.polling) return;
    const now = Date.now();
    const due = [...this.lanes.values()].filter((l) => !l.claiming && l.nextPollAt <= now);
    if (due.length === 0) return this.schedulePoll();
    // Cleared in a promise callback, so always after the assignment (never inside it).
    this.polling = this.pollLanes(due).finally(() => {
      this.polling = undefined;
      this.schedulePoll();
    });
  }

  private async pollLanes(due: Lane[]): Promise<void> {
    try {
      const withWork = new Set(await this.engine.queuesWithWork(due.map((l) => l.name), this.runnable));
      for (const lane of due) {
        if (withWork.has(lane.name)) this.poke(lane);
        else lane.nextPollAt = nextPoll(Date.now(), lane.pollMs);
      }
    } catch {
      // The database is unreachable: try again one interval later.
      for (const lane of due) lane.nextPollAt = nextPoll(Date.now(), lane.pollMs);
    }
  }

  private poke(lane: Lane): void {
    if (this.closed || this.lanes.get(lane.name) !== lane) return;
    if (lane.claiming) {
      lane.again = true;
      return;
    }
    lane.claiming = true;
    const claim = this.drain(lane)
      .catch(() => undefined)
      .finally(() => {
        lane.claiming = false;
        this.claims.delete(claim);
        // The fallback for work enqueued elsewhere.
        lane.nextPollAt = nextPoll(Date.now(), lane.pollMs);
        this.schedulePoll();
      });
    this.claims.add(claim);
  }

  /** Claims until a claim comes back short with no wake-up in between. */
  private async drain(lane: Lane): Promise<void> {
    for (;;) {
      lane.again = false;
      const running = this.runningOf(lane.name);
      const perKey = new Map<string, number>();
      if (lane.partitioned) {
        for (const key of running.values()) if (key !== null) perKey.set(key, (perKey.get(key) ?? 0) + 1);
      }
      const claim = await this.engine.claimFromQueue({
        queue: lane.name,
        partitioned: lane.partitioned,
        localRunning: running.size,
        partitionRunning: [...perKey].map(([key, n]) => ({ key, running: n })),
        cap: CLAIM_CAP,
        cursor: lane.cursor,
        runnable: this.runnable,
      });
      if (claim.cursor !== null && claim.cursor !== undefined) lane.cursor = claim.cursor;
      claim.workflows.forEach((c, i) => running.set(c.workflowId, claim.partitionKeys[i] ?? null));
      await Promise.all(claim.workflows.map((c, i) => this.startRun(lane, c, claim.partitionKeys[i] ?? null)));
      if (this.closed || (!lane.again && claim.workflows.length < CLAIM_CAP)) return;
    }
  }

  private async startRun(lane: Lane, c: ClaimedWorkflow, partitionKey: string | null): Promise<void> {
    let started: { finished: Promise<unknown> } | undefined;
    try {
      started = await this.run(c);
    } finally {
      if (!started) this.runningOf(lane.name).delete(c.workflowId);
    }
    if (started) this.track(lane.name, c.workflowId, started.finished, partitionKey);
  }
}
