// What a scenario is, and the helpers scenarios share (bounded loops, timing, in-process mailboxes).
import { performance } from 'node:perf_hooks';
import type { BenchSdk } from './sdk';

export type Unit = 'ms' | 'ops/s';

export interface Metric {
  /** Appended to the scenario title in the table, e.g. 'p50'. */
  name: string;
  value: number;
  unit: Unit;
  better: 'lower' | 'higher';
  /** Timed samples (latencies) or operations (throughput) behind the value. */
  samples: number;
  /**
   * For workflow throughput rows: the nominal commits one operation needs and the number of concurrent callers.
   * The table then shows value × commitsPerOp as a share of the server's raw commit rate at that many clients.
   */
  commitLimit?: { commitsPerOp: number; clients: number };
}

export interface RunContext {
  readonly sdk: BenchSdk;
  /** performance.now() after which the scenario must stop sampling (its time cap). */
  readonly deadline: number;
  log(message: string): void;
  /** Keeps raw samples (e.g. every latency, in ms) in results/latest.json, for distributions and README updates. */
  recordSamples(name: string, values: readonly number[]): void;
  /**
   * Adds to the scenario's operation count (warm-up included): one message, event, round trip or workflow.
   * Used for the per-operation table (Postgres statements and app CPU per operation).
   */
  countOps(n: number): void;
}

export interface Scenario {
  /** Stable key in results/latest.json; also the prefix of the scenario's workflow names. */
  readonly id: string;
  /** Row label in the table. */
  readonly title: string;
  /** Extra text for the table's notes (e.g. sample counts, caveats). */
  readonly note?: string;
  /** Wall-clock cap for `run` (sampling stops at the cap; the child process is killed well after it). */
  readonly timeCapMs: number;
  /**
   * Called once per SDK before launch: registers the scenario's workflows and returns the function that
   * runs the measurement after launch.
   */
  prepare(sdk: BenchSdk): (ctx: RunContext) => Promise<Metric[]>;
}

export const now = (): number => performance.now();

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects if `p` does not settle within `ms`; never leaves a timer behind. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `body(i)` for i = 0, 1, ... until `maxCount` iterations ran or `deadline` passed (checked before each
 * iteration). Returns the number of iterations run.
 */
export async function boundedLoop(maxCount: number, deadline: number, body: (i: number) => Promise<void>): Promise<number> {
  let i = 0;
  while (i < maxCount && now() < deadline) {
    await body(i);
    i++;
  }
  return i;
}

/**
 * `concurrency` workers run `body(i)` with i = 0, 1, ... shared between them, until `maxCount` iterations
 * started or `deadline` passed (checked before each iteration). Returns the number of iterations run.
 */
export async function concurrentLoop(concurrency: number, maxCount: number, deadline: number, body: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < maxCount && now() < deadline) {
      await body(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function latencyMetrics(samples: readonly number[], ps: readonly number[] = [50, 99]): Metric[] {
  return ps.map((p) => ({ name: `p${p}`, value: percentile(samples, p), unit: 'ms', better: 'lower', samples: samples.length }));
}

export function rateMetric(name: string, ops: number, elapsedMs: number): Metric {
  if (ops === 0) throw new Error(`${name}: no operations completed`);
  return { name, value: (ops * 1000) / elapsedMs, unit: 'ops/s', better: 'higher', samples: ops };
}

/**
 * In-process hand-off of timestamps (or values) from workflow code to the measuring code, keyed by sample
 * number. Both run in the same process, so performance.now() readings are directly comparable.
 */
export class Mailbox<T> {
  private readonly values = new Map<number, T>();
  private readonly waiters = new Map<number, (value: T) => void>();

  put(key: number, value: T): void {
    const waiter = this.waiters.get(key);
    if (waiter) {
      this.waiters.delete(key);
      waiter(value);
    } else {
      this.values.set(key, value);
    }
  }

  async take(key: number, timeoutMs: number, what: string): Promise<T> {
    if (this.values.has(key)) {
      const value = this.values.get(key) as T;
      this.values.delete(key);
      return value;
    }
    try {
      return await withTimeout(new Promise<T>((resolve) => this.waiters.set(key, resolve)), timeoutMs, what);
    } finally {
      this.waiters.delete(key);
    }
  }
}
