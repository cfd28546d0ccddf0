// Database-backed workflow queues: the rows of `dbos.queues` that DBOS.registerQueue and
// DBOSClient.registerQueue write, and the WorkflowQueue object that reads (getters re-read the row)
// and reconfigures them (setters re-check the limits against the stored row, then write one column).
// Validation, its order and its messages are the SDK's: its rules throw a plain Error; what only
// Postgres would have refused (a fractional or out-of-range limit, NaN) is a DBOSError here.
import { DBOSError } from './error';
import { executor, isInitialized } from './lifecycle';
import type { Engine, QueueConflict, QueueRecord } from './native';
import { describe, requireString } from './validation';

/** At most `limitPerPeriod` dispatches from the queue per `periodSec` seconds. */
export interface QueueRateLimit {
  limitPerPeriod: number;
  periodSec: number;
}

/** A queue's limits; setting any partition limit partitions the queue. */
export interface QueueParameters {
  workerConcurrency?: number;
  globalConcurrency?: number;
  rateLimit?: QueueRateLimit;
  partitionConcurrency?: number;
  partitionWorkerConcurrency?: number;
  partitionRateLimit?: QueueRateLimit;
  /** Base (minimum) polling interval in ms of the queue's dispatchers (default 1000). */
  minPollingIntervalMs?: number;
  /** @deprecated Use `globalConcurrency`. */
  concurrency?: number;
}

/** What registering a queue that already has a row does to it. */
export type QueueConflictResolution = 'update_if_latest_version' | 'always_update' | 'never_update';

export interface RegisterQueueOptions extends QueueParameters {
  onConflict?: QueueConflictResolution;
}

/** Names starting with this belong to DBOS's own queues. */
export const RESERVED_QUEUE_NAME_PREFIX = '_dbos_';

const CONFLICT_MODES: readonly string[] = ['update_if_latest_version', 'always_update', 'never_update'] satisfies QueueConflictResolution[];

/** Options removed in 5.0, with what replaces each (the SDK's wording). */
const REMOVED_OPTIONS: Record<string, string> = {
  priorityEnabled: 'every queue dispatches in priority order, so the option can be deleted',
  partitionQueue:
    'set partitionConcurrency, partitionWorkerConcurrency, or partitionRateLimit instead, any of which partitions the queue',
};

const INT4_MIN = -(2 ** 31);
const INT4_MAX = 2 ** 31 - 1;

/** Where a queue's reads and writes go: a client's engine, or the launched runtime's, resolved at each call. */
const clientEngines = new WeakMap<WorkflowQueue, () => Engine>();

function engineFor(q: WorkflowQueue): Engine {
  const client = clientEngines.get(q);
  if (client) return client();
  if (!isInitialized()) throw new Error(`Cannot access system database for queue ${q.name}: DBOS has not been launched.`);
  return executor('WorkflowQueue').engine;
}

function rateLimitOf(max: number | null, periodSec: number | null): QueueRateLimit | undefined {
  return max !== null && periodSec !== null ? { limitPerPeriod: max, periodSec } : undefined;
}

function applyRecord(q: WorkflowQueue, r: QueueRecord): void {
  q.concurrency = r.concurrency ?? undefined;
  q.workerConcurrency = r.workerConcurrency ?? undefined;
  q.rateLimit = rateLimitOf(r.rateLimitMax, r.rateLimitPeriodSec);
  q.partitionConcurrency = r.partitionConcurrency ?? undefined;
  q.partitionWorkerConcurrency = r.partitionWorkerConcurrency ?? undefined;
  q.partitionRateLimit = rateLimitOf(r.partitionRateLimitMax, r.partitionRateLimitPeriodSec);
  q.minPollingIntervalMs = r.pollingIntervalSec * 1000;
  q.applicationName = r.applicationName ?? undefined;
}

/** Re-reads the queue's row into its cached fields (internal queues have none). */
async function refresh(q: WorkflowQueue): Promise<void> {
  if (!q.databaseBacked) return;
  const record = await engineFor(q).getQueue(q.name);
  if (!record) throw new Error(`Queue '${q.name}' was not found in the database.`);
  applyRecord(q, record);
}

function requireDatabaseBacked(q: WorkflowQueue): void {
  if (!q.databaseBacked) {
    throw new Error(
      `Cannot configure queue ${q.name}: dynamic configuration is only supported for queues registered via DBOS.registerQueue.`,
    );
  }
}

/** A limit as the int4 column holds it (Postgres would refuse anything else). */
function checkLimit(what: string, v: unknown): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT4_MIN || v > INT4_MAX) {
    throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be an integer from ${INT4_MIN} to ${INT4_MAX}`);
  }
}

function checkRateLimitValues(what: string, v: QueueRateLimit | undefined): void {
  if (v === undefined) return;
  checkLimit(`${what}.limitPerPeriod`, v.limitPerPeriod);
  if (typeof v.periodSec !== 'number' || !Number.isFinite(v.periodSec)) {
    throw new DBOSError(`Invalid ${what}.periodSec ${describe(v.periodSec)}: it must be a finite number of seconds`);
  }
}

function checkPollingMs(v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new DBOSError(`Invalid minPollingIntervalMs ${describe(v)}: it must be a finite number of milliseconds`);
  }
}

function checkBothRateFields(what: string, v: QueueRateLimit | undefined): void {
  // null would fail on a property read (a bare TypeError in the SDK).
  if (v === null) throw new DBOSError(`Invalid ${what} null: it must be {limitPerPeriod, periodSec}, or undefined for none`);
  if (v !== undefined && (v.limitPerPeriod === undefined || v.periodSec === undefined)) {
    throw new Error(`${what} must specify both limitPerPeriod and periodSec`);
  }
}

/** Both limits set and the first above the second. */
function exceeds(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && a > b;
}

/** The SDK's rules for a set of queue parameters, in its order, then the values' types. */
function validateParams(params: QueueParameters): void {
  for (const [option, replacement] of Object.entries(REMOVED_OPTIONS)) {
    if (Object.hasOwn(params, option)) throw new Error(`${option} was removed: ${replacement}.`);
  }
  const { concurrency, globalConcurrency, workerConcurrency, rateLimit, partitionConcurrency, partitionWorkerConcurrency, partitionRateLimit, minPollingIntervalMs } = params;
  if (concurrency !== undefined && globalConcurrency !== undefined) {
    throw new Error('concurrency is deprecated in favor of globalConcurrency; set only one of them');
  }
  if (partitionConcurrency !== undefined && partitionConcurrency < 1) throw new Error('partitionConcurrency must be at least 1');
  if (partitionWorkerConcurrency !== undefined && partitionWorkerConcurrency < 1) {
    throw new Error('partitionWorkerConcurrency must be at least 1');
  }
  checkBothRateFields('partitionRateLimit', partitionRateLimit);
  if (exceeds(partitionWorkerConcurrency, partitionConcurrency)) {
    throw new Error('partitionConcurrency must be greater than or equal to partitionWorkerConcurrency');
  }
  if (exceeds(partitionWorkerConcurrency, workerConcurrency)) {
    throw new Error('workerConcurrency must be greater than or equal to partitionWorkerConcurrency');
  }
  const queueConcurrency = globalConcurrency ?? concurrency;
  if (exceeds(workerConcurrency, queueConcurrency)) throw new Error('concurrency must be greater than or equal to workerConcurrency');
  if (exceeds(partitionConcurrency, queueConcurrency)) {
    throw new Error('globalConcurrency must be greater than or equal to partitionConcurrency');
  }
  if (exceeds(partitionWorkerConcurrency, queueConcurrency)) {
    throw new Error('concurrency must be greater than or equal to partitionWorkerConcurrency');
  }
  if (minPollingIntervalMs !== undefined && minPollingIntervalMs <= 0) throw new Error('minPollingIntervalMs must be positive');
  checkBothRateFields('rateLimit', rateLimit);
  checkLimit(globalConcurrency !== undefined ? 'globalConcurrency' : 'concurrency', queueConcurrency);
  checkLimit('workerConcurrency', workerConcurrency);
  checkLimit('partitionConcurrency', partitionConcurrency);
  checkLimit('partitionWorkerConcurrency', partitionWorkerConcurrency);
  checkRateLimitValues('rateLimit', rateLimit);
  checkRateLimitValues('partitionRateLimit', partitionRateLimit);
  if (minPollingIntervalMs !== undefined) checkPollingMs(minPollingIntervalMs);
}

/** The row to write for a registration; `owner` null writes it unclaimed (or leaves an existing owner). */
function recordFromParams(name: string, params: QueueParameters, owner: string | null): QueueRecord {
  return {
    name,
    concurrency: params.globalConcurrency ?? params.concurrency ?? null,
    workerConcurrency: params.workerConcurrency ?? null,
    rateLimitMax: params.rateLimit?.limitPerPeriod ?? null,
    rateLimitPeriodSec: params.rateLimit?.periodSec ?? null,
    partitionConcurrency: params.partitionConcurrency ?? null,
    partitionWorkerConcurrency: params.partitionWorkerConcurrency ?? null,
    partitionRateLimitMax: params.partitionRateLimit?.limitPerPeriod ?? null,
    partitionRateLimitPeriodSec: params.partitionRateLimit?.periodSec ?? null,
    pollingIntervalSec: (params.minPollingIntervalMs ?? 1000) / 1000,
    applicationName: owner,
  };
}

/**
 * A named workflow queue. Its fields are the last values read; the getters re-read the row, the setters
 * write through to it. Applications get queues from registerQueue, retrieveQueue and listQueues.
 */
export class WorkflowQueue {
  readonly name: string;
  /** The queue-wide limit, across every worker and partition. */
  concurrency?: number;
  rateLimit?: QueueRateLimit;
  workerConcurrency?: number;
  partitionConcurrency?: number;
  partitionWorkerConcurrency?: number;
  partitionRateLimit?: QueueRateLimit;
  minPollingIntervalMs?: number;
  /** Owner from the queues table; undefined for internal and unclaimed queues. */
  applicationName?: string;
  /** False only for DBOS's own process-local queues, which cannot be reconfigured. */
  readonly databaseBacked: boolean;
  /** True when reads and writes go through a DBOSClient rather than the launched DBOS. */
  readonly clientBound: boolean;

  /** @internal Not reachable from the package: `WorkflowQueue` is exported as a type only. */
  constructor(record: QueueRecord, databaseBacked = true, clientEngine?: () => Engine) {
    this.name = record.name;
    this.databaseBacked = databaseBacked;
    this.clientBound = clientEngine !== undefined;
    applyRecord(this, record);
    // Kept off the instance (no private member), so the type stays structurally the SDK's.
    if (clientEngine) clientEngines.set(this, clientEngine);
  }

  /** @deprecated Use `setGlobalConcurrency`. */
  async setConcurrency(value: number | undefined): Promise<void> {
    return this.setGlobalConcurrency(value);
  }

  async setGlobalConcurrency(value: number | undefined): Promise<void> {
    requireDatabaseBacked(this);
    // Re-read first, so the bounds are checked against the limits stored now.
    await refresh(this);
    if (value !== undefined) {
      if (this.workerConcurrency !== undefined && this.workerConcurrency > value) {
        throw new Error('workerConcurrency must be less than or equal to concurrency');
      }
      if (this.partitionConcurrency !== undefined && this.partitionConcurrency > value) {
        throw new Error('partitionConcurrency must be less than or equal to globalConcurrency');
      }
      if (this.partitionWorkerConcurrency !== undefined && this.partitionWorkerConcurrency > value) {
        throw new Error('partitionWorkerConcurrency must be less than or equal to concurrency');
      }
    }
    checkLimit('globalConcurrency', value);
    await engineFor(this).setQueueLimit(this.name, 'concurrency', value ?? null);
    this.concurrency = value;
  }

  async setWorkerConcurrency(value: number | undefined): Promise<void> {
    requireDatabaseBacked(this);
    await refresh(this);
    if (value !== undefined) {
      if (this.concurrency !== undefined && value > this.concurrency) {
        throw new Error('workerConcurrency must be less than or equal to concurrency');
      }
      if (this.partitionWorkerConcurrency !== undefined && this.partitionWorkerConcurrency > value) {
        throw new Error('partitionWorkerConcurrency must be less than or equal to workerConcurrency');
      }
    }
    checkLimit('workerConcurrency', value);
    await engineFor(this).setQueueLimit(this.name, 'workerConcurrency', value ?? null);
    this.workerConcurrency = value;
  }

  async setRateLimit(value: QueueRateLimit | undefined): Promise<void> {
    requireDatabaseBacked(this);
    checkBothRateFields('rateLimit', value);
    checkRateLimitValues('rateLimit', value);
    await engineFor(this).setQueueRateLimit(this.name, false, value ? { limitPerPeriod: value.limitPerPeriod, periodSec: value.periodSec } : null);
    this.rateLimit = value;
  }

  async setPartitionConcurrency(value: number | undefined): Promise<void> {
    requireDatabaseBacked(this);
    if (value !== undefined && value < 1) throw new Error('partitionConcurrency must be at least 1');
    await refresh(this);
    if (value !== undefined) {
      if (this.concurrency !== undefined && value > this.concurrency) {
        throw new Error('partitionConcurrency must be less than or equal to globalConcurrency');
      }
      if (this.partitionWorkerConcurrency !== undefined && this.partitionWorkerConcurrency > value) {
        throw new Error('partitionConcurrency must be greater than or equal to partitionWorkerConcurrency');
      }
    }
    checkLimit('partitionConcurrency', value);
    // The engine recomputes partition_queue from the row's other partition limits and this one.
    await engineFor(this).setQueueLimit(this.name, 'partitionConcurrency', value ?? null);
    this.partitionConcurrency = value;
  }

  async setPartitionWorkerConcurrency(value: number | undefined): Promise<void> {
    requireDatabaseBacked(this);
    if (value !== undefined && value < 1) throw new Error('partitionWorkerConcurrency must be at least 1');
    await refresh(this);
    if (value !== undefined) {
      if (this.partitionConcurrency !== undefined && value > this.partitionConcurrency) {
        throw new Error('partitionWorkerConcurrency must be less than or equal to partitionConcurrency');
      }
      if (this.workerConcurrency !== undefined && value > this.workerConcurrency) {
        throw new Error('partitionWorkerConcurrency must be less than or equal to workerConcurrency');
      }
      if (this.concurrency !== undefined && value > this.concurrency) {
        throw new Error('partitionWorkerConcurrency must be less than or equal to concurrency');
      }
    }
    checkLimit('partitionWorkerConcurrency', value);
    await engineFor(this).setQueueLimit(this.name, 'partitionWorkerConcurrency', value ?? null);
    this.partitionWorkerConcurrency = value;
  }

  async setPartitionRateLimit(value: QueueRateLimit | undefined): Promise<void> {
    requireDatabaseBacked(this);
    checkBothRateFields('partitionRateLimit', value);
    checkRateLimitValues('partitionRateLimit', value);
    await refresh(this);
    await engineFor(this).setQueueRateLimit(this.name, true, value ? { limitPerPeriod: value.limitPerPeriod, periodSec: value.periodSec } : null);
    this.partitionRateLimit = value;
  }

  async setMinPollingIntervalMs(value: number): Promise<void> {
    requireDatabaseBacked(this);
    if (value <= 0) throw new Error('minPollingIntervalMs must be positive');
    checkPollingMs(value);
    await engineFor(this).setQueuePollingInterval(this.name, value / 1000);
    this.minPollingIntervalMs = value;
  }

  /** @deprecated Use `getGlobalConcurrency`. */
  async getConcurrency(): Promise<number | undefined> {
    return this.getGlobalConcurrency();
  }

  async getGlobalConcurrency(): Promise<number | undefined> {
    await refresh(this);
    return this.concurrency;
  }

  async getWorkerConcurrency(): Promise<number | undefined> {
    await refresh(this);
    return this.workerConcurrency;
  }

  async getRateLimit(): Promise<QueueRateLimit | undefined> {
    await refresh(this);
    return this.rateLimit;
  }

  async getPartitionConcurrency(): Promise<number | undefined> {
    await refresh(this);
    return this.partitionConcurrency;
  }

  async getPartitionWorkerConcurrency(): Promise<number | undefined> {
    await refresh(this);
    return this.partitionWorkerConcurrency;
  }

  async getPartitionRateLimit(): Promise<QueueRateLimit | undefined> {
    await refresh(this);
    return this.partitionRateLimit;
  }

  async getMinPollingIntervalMs(): Promise<number | undefined> {
    await refresh(this);
    return this.minPollingIntervalMs;
  }
}

/**
 * A process-local queue of DBOS's own (not in `dbos.queues`, not reconfigurable), with these limits.
 * @internal
 */
export function internalQueue(name: string, params: QueueParameters = {}): WorkflowQueue {
  validateParams(params);
  return new WorkflowQueue(recordFromParams(name, params, null), false);
}

/** Who registers and reads queues: the launched DBOS or a client. */
export interface QueueOwner {
  engine: () => Engine;
  /** The application this caller acts for: the owner of the queues it registers, the default of listQueues. */
  appName: string | undefined;
  /** Client-bound queues resolve their engine through the client (which may be destroyed). */
  client: boolean;
}

function queueFrom(owner: QueueOwner, record: QueueRecord): WorkflowQueue {
  return new WorkflowQueue(record, true, owner.client ? owner.engine : undefined);
}

/**
 * Registers (creates or, as `onConflict` says, updates) the queue's row, owned by `owner.appName`, and returns
 * the queue as stored. `defaultMode` is DBOS's 'update_if_latest_version' or the client's 'always_update'.
 */
export async function registerQueue(
  owner: QueueOwner,
  name: string,
  options: RegisterQueueOptions,
  defaultMode: QueueConflictResolution,
): Promise<WorkflowQueue> {
  const { onConflict = defaultMode, ...params } = options ?? {};
  requireString('queue name', name, true);
  if (name.startsWith(RESERVED_QUEUE_NAME_PREFIX)) {
    throw new Error(`Queue name ${name} is reserved: names starting with '${RESERVED_QUEUE_NAME_PREFIX}' belong to DBOS's internal queues.`);
  }
  validateParams(params);
  if (!CONFLICT_MODES.includes(onConflict)) {
    throw new DBOSError(`Invalid onConflict ${describe(onConflict)}: it must be one of ${CONFLICT_MODES.map((m) => `'${m}'`).join(', ')}`);
  }
  const record = recordFromParams(name, params, owner.appName ?? null);
  const registered = await owner.engine().registerQueue({ queue: record, onConflict: onConflict as QueueConflict });
  return queueFrom(owner, registered.queue);
}

/** The queue's row as a WorkflowQueue, whoever owns it; null if it has none. */
export async function retrieveQueue(owner: QueueOwner, name: string): Promise<WorkflowQueue | null> {
  requireString('queue name', name, true);
  const record = await owner.engine().getQueue(name);
  return record ? queueFrom(owner, record) : null;
}

/** Deletes the queue's row; workflows still enqueued on it stay ENQUEUED. */
export async function deleteQueue(owner: QueueOwner, name: string): Promise<void> {
  requireString('queue name', name, true);
  await owner.engine().deleteQueue(name);
}

/** Queues owned by these applications (default: the caller's) plus unclaimed ones; no name lists all. */
export async function listQueues(owner: QueueOwner, applicationName: string | string[] | undefined): Promise<WorkflowQueue[]> {
  const scope = applicationName ?? owner.appName;
  const names = !scope ? [] : Array.isArray(scope) ? scope : [scope];
  names.forEach((n) => requireString('applicationName', n, true));
  const records = await owner.engine().listQueues(names);
  return records.map((r) => queueFrom(owner, r));
}
