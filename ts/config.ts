// Configuration: the options of DBOS.setConfig and DBOS.launch, and what launch derives from them
// (the system database on the embedded server, the application version).
import { createHash } from 'node:crypto';
import { allWorkflows } from './registry';
import type { DBOSSerializer } from './serialization';
import type { DLogger } from './logger';

const PACKAGE_VERSION = '0.1.0';

export interface DBOSConfig {
  /** Application name; scopes this app's workflows in the system database. */
  name: string;
  /** Postgres URL of the system database. Default: `DBOS_SYSTEM_DATABASE_URL`, else an embedded Postgres. */
  systemDatabaseUrl?: string;
  systemDatabasePoolSize?: number;
  systemDatabaseSchemaName?: string;
  applicationVersion?: string;
  executorID?: string;
  serializer?: DBOSSerializer;
  /** Create the database if missing and migrate it (default true); false only checks the version. */
  runMigrations?: boolean;
  /** Where the embedded Postgres keeps its data when no URL is configured (default `.dbos` in the working directory). */
  embeddedPostgresDataDir?: string;
  /** Port of the embedded Postgres (default: `DBOS_EMBEDDED_PG_PORT`, else the one chosen at first init, 5433 or the next free one). */
  embeddedPostgresPort?: number;
  /** DBOS.logger's console level: debug, info (default), warn or error. */
  logLevel?: string;
  /** The application's logger: DBOS.logger writes to it (and `logLevel` does not filter), as in the SDK. */
  logger?: DLogger;
  /** The console logger appends the workflow and step to each entry. */
  addContextMetadata?: boolean;
  // Accepted for source compatibility with DBOS Transact; not used by dbos-native yet.
  systemDatabasePollingConcurrency?: number;
  /** Turns spans on (ts/tracing.ts), sent to the application's OpenTelemetry provider; no OTLP export of our own. */
  enableOTLP?: boolean;
  /** Turns spans on for DBOS.tracer and workflows and steps (ts/tracing.ts), with `@opentelemetry/api` installed. */
  tracingEnabled?: boolean;
  otlpTracesEndpoints?: string[];
  otlpLogsEndpoints?: string[];
  useListenNotify?: boolean;
  notificationCoalesceMs?: number;
  enablePatching?: boolean;
  listenQueues?: string[];
  maxConcurrentQueueDispatches?: number;
  schedulerPollingIntervalMs?: number;
  observabilityQueryTimeoutMs?: number;
  systemDatabaseIdleTransactionTimeoutMs?: number;
  /**
   * dbos-native only. True (default): this process takes over the PENDING workflows of dbos-native executors of
   * this application and version that died for good (README, "Self-healing fleet"). False keeps DBOS's
   * per-executor behaviour: only a process relaunched under the same executor ID recovers its workflows.
   */
  takeOverDeadExecutors?: boolean;
  /** @deprecated Ignored: the admin server has been removed. */
  adminPort?: number;
  /** @deprecated Ignored: the admin server has been removed. */
  runAdminServer?: boolean;
}

export interface DBOSLaunchOptions {
  conductorURL?: string;
  conductorKey?: string;
  conductorExecutorMetadata?: Record<string, unknown>;
  conductorMetadataOnlyMode?: boolean;
}

/** The URL of the app's own system database (`<name>_dbos_sys`, as DBOS names it) on the embedded server at `serverUrl`. */
export function embeddedSystemDatabaseUrl(serverUrl: string, appName: string): string {
  const database = `${appName.toLowerCase().replace(/[-\s]/g, '_')}_dbos_sys`;
  const u = new URL(serverUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The default application version: a hash of the registered workflows' code, this package's version and the app name. */
export function computeAppVersion(name: string): string {
  const hash = createHash('md5');
  for (const source of allWorkflows()
    .map((w) => w.fn.toString())
    .sort()) {
    hash.update(source);
  }
  hash.update(PACKAGE_VERSION);
  hash.update(name);
  return hash.digest('hex');
}
