// One SDK's results over the rounds of a `--runs N` run, reduced to medians: the table prints these, so one
// slow or fast round on a noisy machine does not decide a ratio. Rounds in which a scenario failed are left out
// of its medians (and counted, so the table can say "2/3 runs").
import type { Metric } from './scenario';
import type { ChildReport, ScenarioResult } from './protocol';

/** The median of some per-round values, and their range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Rounds behind the values. */
  runs: number;
}

/** One metric over the rounds: `metric` is the first round's, with value and samples replaced by their medians. */
export interface MetricSummary {
  metric: Metric;
  value: Spread;
}

/** Costs per operation (as in the per-operation table), each a median over the rounds that ran it cleanly. */
export interface PerOpSummary {
  ops: Spread;
  statements?: Spread;
  writeXacts?: Spread;
  serverCpuMs?: Spread;
  cpuMs: Spread;
}

export interface ScenarioSummary {
  id: string;
  /** Rounds whose report has this scenario (with or without an error). */
  ran: number;
  /** Rounds in which it completed without an error: its medians come from these. */
  ok: number;
  metrics: MetricSummary[];
  /** Absent if no clean round counted any operation. */
  perOp?: PerOpSummary;
}

export interface SdkSummary {
  /** Rounds this SDK's child was started in (the denominator of "2/3 runs"). */
  rounds: number;
  scenarios: ScenarioSummary[];
}

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}

function defined<T>(v: T | undefined): v is T {
  return v !== undefined;
}

function summarizeMetrics(clean: readonly ScenarioResult[]): MetricSummary[] {
  const names = [...new Set(clean.flatMap((r) => r.metrics.map((m) => m.name)))];
  const summaries: MetricSummary[] = [];
  for (const name of names) {
    const found = clean.map((r) => r.metrics.find((m) => m.name === name)).filter(defined);
    const value = spread(found.map((m) => m.value));
    if (!value) continue;
    // n varies between rounds for timed throughputs; its median goes with the median value.
    summaries.push({ metric: { ...found[0], value: value.median, samples: Math.round(median(found.map((m) => m.samples))) }, value });
  }
  return summaries;
}

function summarizePerOp(clean: readonly ScenarioResult[]): PerOpSummary | undefined {
  const usable = clean.filter((r) => r.ops > 0);
  const ops = spread(usable.map((r) => r.ops));
  const cpuMs = spread(usable.map((r) => (r.cpuUserMs + r.cpuSystemMs) / r.ops));
  if (!ops || !cpuMs) return undefined;
  return {
    ops: { ...ops, median: Math.round(ops.median) },
    statements: spread(usable.map((r) => (r.statements ? r.statements.total / r.ops : undefined)).filter(defined)),
    writeXacts: spread(usable.map((r) => (r.writeXacts !== undefined ? r.writeXacts / r.ops : undefined)).filter(defined)),
    cpuMs,
    serverCpuMs: spread(usable.map((r) => (r.serverCpuMs !== undefined ? r.serverCpuMs / r.ops : undefined)).filter(defined)),
  };
}

/**
 * Reduces one SDK's reports (one per round it was started in; undefined where its child left none) to medians,
 * per scenario in `ids` order. A scenario no round's report has is left out.
 */
export function summarize(ids: readonly string[], reports: readonly (ChildReport | undefined)[]): SdkSummary {
  const scenarios: ScenarioSummary[] = [];
  for (const id of ids) {
    const results = reports.map((r) => r?.scenarios.find((s) => s.id === id)).filter(defined);
    if (results.length === 0) continue;
    const clean = results.filter((r) => !r.error);
    scenarios.push({ id, ran: results.length, ok: clean.length, metrics: summarizeMetrics(clean), perOp: summarizePerOp(clean) });
  }
  return { rounds: reports.length, scenarios };
}
