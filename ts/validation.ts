// Argument checks of the public API, one rule each, shared by every caller (DBOS, DBOSClient,
// messages, events, streams, the executor). Each throws a DBOSError whose message names the bad value
// as the caller wrote it; callers run them inside async functions, so the caller sees a rejection.
import { inspect } from 'node:util';
import { DBOSError } from './error';
import type { StepConfig } from './registry';

/** A lone UTF-16 surrogate: the addon's UTF-8 conversion would replace it with U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A bad argument as the caller wrote it, for error messages: strings quoted (long ones cut), anything else as
 * `util.inspect` shows it (so Infinity, NaN, undefined and -0 stay themselves, where JSON would print null).
 */
export function describe(v: unknown): string {
  if (typeof v === 'string') return v.length > 80 ? `${JSON.stringify(v.slice(0, 80))}... (${v.length} characters)` : JSON.stringify(v);
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v;
  const text = inspect(v, { depth: 2, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 80 });
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/**
 * An ID, topic or key as given, refusing what could not be stored verbatim: a NUL character (Postgres
 * text cannot hold one) or a lone surrogate (it would be stored as U+FFFD, so two IDs would collide).
 */
export function requireString(what: string, value: unknown, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new DBOSError(`Invalid ${what} ${describe(value)}: it must be a${allowEmpty ? '' : ' non-empty'} string`);
  }
  if (value.includes('\u0000')) {
    throw new DBOSError(`Invalid ${what} ${describe(value)}: it contains a NUL character, which Postgres cannot store`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new DBOSError(`Invalid ${what} ${describe(value)}: it contains a lone UTF-16 surrogate, which cannot be stored verbatim`);
  }
  return value;
}

/** A list of workflow IDs (cancel, resume). */
export function requireWorkflowIDs(workflowIDs: unknown): void {
  if (!Array.isArray(workflowIDs)) throw new DBOSError(`Invalid workflowIDs ${describe(workflowIDs)}: they must be an array of workflow IDs`);
  for (const id of workflowIDs) requireString('workflow ID', id);
}

/** A sleep duration in milliseconds (DBOS.sleep*). */
export function checkSleepDuration(ms: unknown): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new DBOSError(`Invalid sleep duration ${describe(ms)}: it must be a finite number of milliseconds`);
  }
}

/** A workflow timeout (StartWorkflowParams.timeoutMS, withWorkflowTimeout); null and undefined mean none. */
export function checkWorkflowTimeout(timeoutMS: number | null | undefined): void {
  if (timeoutMS !== undefined && timeoutMS !== null && !(Number.isFinite(timeoutMS) && timeoutMS > 0)) {
    throw new DBOSError(`Invalid workflow timeout ${describe(timeoutMS)}: it must be a positive number of milliseconds`);
  }
}

/** A wait's timeout in seconds (recv, getEvent, getResult). */
export function checkTimeoutSeconds(seconds: unknown): asserts seconds is number {
  // Infinity used to reach the engine as a deadline it read as past: null at once instead of a wait.
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new DBOSError(`Invalid timeout ${describe(seconds)}: timeoutSeconds must be a finite, non-negative number`);
  }
}

/** A stream reader's per-value timeout in seconds (readStream, readStreamOffset). */
export function checkStreamTimeoutSeconds(seconds: unknown): asserts seconds is number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new DBOSError(`Invalid timeoutSeconds ${describe(seconds)}: timeoutSeconds must not be negative`);
  }
}

/** An absolute deadline (epoch ms) of a wait. */
export function checkDeadlineEpochMS(deadlineEpochMS: unknown): asserts deadlineEpochMS is number {
  if (typeof deadlineEpochMS !== 'number' || !Number.isFinite(deadlineEpochMS)) {
    throw new DBOSError(`Invalid deadlineEpochMS ${describe(deadlineEpochMS)}: it must be a finite number`);
  }
}

/** How often a wait polls (ms); stream readers also refuse intervals under 1 ms. */
export function checkPollingInterval(ms: unknown, atLeastOneMs = false): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new DBOSError(`Invalid pollingIntervalMs ${describe(ms)}: pollingIntervalMs must be a positive finite number`);
  }
  if (atLeastOneMs && ms < 1) throw new DBOSError(`Invalid pollingIntervalMs ${describe(ms)}: pollingIntervalMs must be at least 1 millisecond`);
}

/** A stream offset: a non-negative integer the database's int column holds. */
export function checkStreamOffset(offset: unknown): number {
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new DBOSError(`Invalid offset ${describe(offset)}: offset must be a non-negative integer`);
  }
  if (offset > 2 ** 31 - 1) throw new DBOSError(`Invalid offset ${describe(offset)}: offset must be below 2^31`);
  return offset;
}

/** A step's retry and timeout settings (checked at registration). */
export function checkStepConfig(cfg: StepConfig, name: string): void {
  const positive = (v: number | undefined) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v > 0);
  if (!positive(cfg.timeoutMS)) throw new DBOSError(`Step ${name}: timeoutMS must be a positive finite number`);
  if (cfg.maxAttempts !== undefined && !(Number.isInteger(cfg.maxAttempts) && cfg.maxAttempts >= 1)) {
    throw new DBOSError(`Step ${name}: maxAttempts must be a positive integer`);
  }
  if (cfg.intervalSeconds !== undefined && !(Number.isFinite(cfg.intervalSeconds) && cfg.intervalSeconds >= 0)) {
    throw new DBOSError(`Step ${name}: intervalSeconds must be a non-negative number`);
  }
  if (cfg.backoffRate !== undefined && !(Number.isFinite(cfg.backoffRate) && cfg.backoffRate > 0)) {
    throw new DBOSError(`Step ${name}: backoffRate must be a positive number`);
  }
}

/** The enqueue options only a queue reads; applicationVersion is not one (it also selects who recovers a workflow). */
const ENQUEUE_ONLY_OPTIONS = ['deduplicationID', 'priority', 'queuePartitionKey', 'delaySeconds', 'applicationName'] as const;

/** Enqueue options on a start that does not enqueue: refused rather than ignored, as DBOS does (the caller meant to enqueue). */
export function refuseEnqueueOnlyOptions(options: Partial<Record<(typeof ENQUEUE_ONLY_OPTIONS)[number], unknown>> | undefined): void {
  if (!options) return;
  const set = ENQUEUE_ONLY_OPTIONS.filter((name) => options[name] !== undefined);
  if (set.length > 0) {
    throw new DBOSError(
      `Enqueue option(s) ${set.join(', ')} set on a workflow that is not being enqueued. ` +
        'These options are only supported when enqueueing a workflow onto a queue.',
    );
  }
}
