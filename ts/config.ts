// Configuration: the options of DBOS.setConfig and DBOS.launch, and what launch derives from them
// (the system database on the embedded server, the application version).
import { createHash } from 'node:crypto';
import { allWorkflows } from './registry';
import type { DBOSSerializer } from './serialization';
import type { DLogger } from './logger';
import { DBOSError } from './error';

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
  /** False: polling mode. Nothing LISTENs and every wait polls (see README, "Production Postgres"). */
  useListenNotify?: boolean;
  /**
   * Ours: a direct (not pooled) URL of the same database for the one LISTEN connection, when
   * `systemDatabaseUrl` goes through a transaction-mode pooler. Setting it turns on transaction pooling.
   * Default: `DBOS_SYSTEM_DATABASE_LISTEN_URL`.
   */
  systemDatabaseListenUrl?: string;
  /**
   * Ours: `systemDatabaseUrl` goes through a transaction-mode pooler (PgBouncer `pool_mode = transaction`),
   * so no named prepared statement may outlive a transaction. Default: true when a listen URL is set, else
   * `DBOS_SYSTEM_DATABASE_TRANSACTION_POOLING` (`true` or `1`). Without a listen URL it implies polling mode.
   */
  systemDatabaseTransactionPooling?: boolean;
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

/** How the engine talks to the system database (`EngineOptions`' `listenNotify`, `listenUrl`, `transactionPooling`). */
export interface ConnectionModes {
  listenNotify: boolean;
  listenUrl: string | null;
  transactionPooling: boolean;
}

/**
 * Resolves the connection options and their environment defaults. A LISTEN through a transaction pooler
 * would hear nothing (its session is not ours), so pooling without a direct listen URL polls.
 */
export function connectionModes(cfg: { useListenNotify?: boolean; systemDatabaseListenUrl?: string; systemDatabaseTransactionPooling?: boolean }): ConnectionModes {
  const listenUrl = cfg.systemDatabaseListenUrl ?? (process.env.DBOS_SYSTEM_DATABASE_LISTEN_URL || undefined);
  if (listenUrl !== undefined && (typeof listenUrl !== 'string' || listenUrl.length === 0)) {
    throw new DBOSError('systemDatabaseListenUrl must be a non-empty string');
  }
  for (const [name, value] of [['useListenNotify', cfg.useListenNotify], ['systemDatabaseTransactionPooling', cfg.systemDatabaseTransactionPooling]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new DBOSError(`${name} must be a boolean`);
  }
  const envPooling = ['true', '1'].includes((process.env.DBOS_SYSTEM_DATABASE_TRANSACTION_POOLING ?? '').toLowerCase());
  const transactionPooling = cfg.systemDatabaseTransactionPooling ?? (listenUrl !== undefined || envPooling);
  const listenNotify = (cfg.useListenNotify ?? true) && (!transactionPooling || listenUrl !== undefined);
  return { listenNotify, listenUrl: listenUrl ?? null, transactionPooling };
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
