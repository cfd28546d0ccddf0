// What a child process reports to the runner (and what results/latest.json holds per SDK and round).
import type { Metric } from './scenario';
import type { StatementDelta } from './pgstats';
import type { SdkId } from './sdk';

export interface ScenarioResult {
  id: string;
  title: string;
  note?: string;
  metrics: Metric[];
  /** Raw samples recorded by the scenario (RunContext.recordSamples), rounded to 1 µs. */
  samples: Record<string, number[]>;
  /** Set if the scenario threw; metrics is then empty. */
  error?: string;
  elapsedMs: number;
  /** CPU time of the whole child process (JS and native threads) while the scenario ran. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Operations the scenario ran in all (warm-up included), as reported with RunContext.countOps. */
  ops: number;
  /** Postgres statements this SDK's database received while the scenario ran (pg_stat_statements). */
  statements?: StatementDelta;
  /** Transactions that wrote (transaction IDs assigned on the server) while the scenario ran. */
  writeXacts?: number;
  /** CPU time of the whole Postgres server (all its processes) while the scenario ran, when it is on this machine. */
  serverCpuMs?: number;
}

export interface ChildReport {
  sdk: SdkId;
  label: string;
  packageVersion: string;
  launchMs: number;
  scenarios: ScenarioResult[];
  /** Set if the process failed outside a scenario (launch, shutdown). */
  error?: string;
}

/** Environment variables the runner passes to a child. */
export const ENV = {
  sdk: 'BENCH_SDK',
  dbUrl: 'BENCH_SYSTEM_DATABASE_URL',
  /** Set only when pg_stat_statements is available: the admin database, to read statement counts from. */
  adminUrl: 'BENCH_ADMIN_DATABASE_URL',
  dbName: 'BENCH_DATABASE_NAME',
  out: 'BENCH_OUT',
  only: 'BENCH_ONLY',
} as const;

export function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
