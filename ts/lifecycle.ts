// Launch and shutdown: the process's one runtime (engine, executor, embedded Postgres) from DBOS.launch
// to DBOS.shutdown, and `executor()`, through which every DBOS static reaches it.
import { computeAppVersion, connectionModes, embeddedSystemDatabaseUrl, type ConnectionModes, type DBOSConfig } from './config';
import type { EmbeddedPostgresHandle } from './embedded-postgres';
import { DBOSError, DBOSInitializationError } from './error';
import { Executor } from './executor';
import { connectEngine, type Engine } from './native';
import { allInstances, freezeRegistry, unfreezeRegistry } from './registry';
import { setCustomSerializer } from './serialization';
import { destroyLifecycleCallbacks, initializeLifecycleCallbacks } from './lifecycle-callbacks';
// --- schedules (firing)
import { startScheduleFiring } from './schedule-fire';
// --- fleet (takeover of dead executors)
import { startTakeover } from './takeover';

interface Runtime {
  executor: Executor;
  embedded?: EmbeddedPostgresHandle;
  /**
   * Holds the process open from launch to shutdown, as DBOS does: a worker that only serves recovery (or,
   * later, queues) has nothing else keeping it alive, and the engine holds nothing that keeps Node's loop running.
   */
  keepAlive: NodeJS.Timeout;
}

/** The longest delay a Node timer takes (about 24.8 days); the keep-alive timer does nothing when it fires. */
const KEEP_ALIVE_MS = 2 ** 31 - 1;

let config: DBOSConfig | undefined;
let runtime: Runtime | undefined;
let launching: Promise<void> | undefined;

/** The running executor; `what` names the caller in the error thrown before launch or after shutdown. */
export function executor(what: string): Executor {
  if (!runtime || runtime.executor.isClosed) {
    throw new TypeError(`\`DBOS.launch()\` must be called before running ${what}.`);
  }
  return runtime.executor;
}

/** The configuration set with DBOS.setConfig, if any. */
export function currentConfig(): DBOSConfig | undefined {
  return config;
}

export function setConfig(cfg: DBOSConfig): void {
  if (runtime) throw new DBOSError('Cannot call DBOS.setConfig after DBOS.launch');
  config = { ...cfg };
}

export function isInitialized(): boolean {
  return runtime !== undefined && !runtime.executor.isClosed;
}

/** Launches once: a call while a launch is under way shares its outcome; a call after it returns at once. */
export async function launch(): Promise<void> {
  if (runtime) return;
  if (launching) return launching;
  launching = doLaunch().finally(() => {
    launching = undefined;
  });
  return launching;
}

async function doLaunch(): Promise<void> {
  const cfg = config;
  if (!cfg || typeof cfg.name !== 'string' || cfg.name.length === 0) {
    throw new DBOSInitializationError('DBOS.setConfig({ name }) must be called with an application name before DBOS.launch()');
  }
  if (cfg.takeOverDeadExecutors !== undefined && typeof cfg.takeOverDeadExecutors !== 'boolean') {
    throw new DBOSInitializationError(`takeOverDeadExecutors must be a boolean, not ${typeof cfg.takeOverDeadExecutors}`);
  }
  let url = cfg.systemDatabaseUrl ?? process.env.DBOS_SYSTEM_DATABASE_URL;
  let embedded: EmbeddedPostgresHandle | undefined;
  if (!url) {
    const envPort = process.env.DBOS_EMBEDDED_PG_PORT ? Number(process.env.DBOS_EMBEDDED_PG_PORT) : undefined;
    // Loaded here only: an app with a URL never loads the supervisor (nor the optional embedded-postgres package).
    const { startEmbeddedPostgres } = require('./embedded-postgres') as typeof import('./embedded-postgres');
    embedded = await startEmbeddedPostgres({
      dataDir: cfg.embeddedPostgresDataDir ?? process.env.DBOS_EMBEDDED_PG_DIR,
      port: cfg.embeddedPostgresPort ?? envPort,
    });
    url = embeddedSystemDatabaseUrl(embedded.url, cfg.name);
  }
  setCustomSerializer(cfg.serializer);
  freezeRegistry();
  const executorID = cfg.executorID ?? process.env.DBOS__VMID ?? 'local';
  // As the SDK: with patching, one version for every build (old and new code recover each other's workflows).
  const patching = cfg.enablePatching ? 'PATCHING_ENABLED' : undefined;
  const appVersion = cfg.applicationVersion ?? patching ?? process.env.DBOS__APPVERSION ?? computeAppVersion(cfg.name);
  let engine: Engine;
  let modes: ConnectionModes;
  try {
    modes = connectionModes(cfg);
    engine = await connectEngine({
      ...modes,
      url,
      schema: cfg.systemDatabaseSchemaName ?? 'dbos',
      poolSize: cfg.systemDatabasePoolSize ?? 10,
      schemaMode: (cfg.runMigrations ?? true) ? 'migrate' : 'verify',
      listen: true,
      appName: cfg.name,
      executorId: executorID,
      appVersion,
    });
  } catch (e) {
    unfreezeRegistry();
    await embedded?.stop();
    throw e;
  }
  const exec = new Executor({ engine, appName: cfg.name, executorID, appVersion, pollingMode: !modes.listenNotify });
  runtime = { executor: exec, embedded, keepAlive: setInterval(() => undefined, KEEP_ALIVE_MS) };
  try {
    await engine.registerAppVersion();
    // As in DBOS: every configured instance is initialized before recovery may run its workflows.
    for (const instance of allInstances()) await instance.initialize();
    await exec.startRecovery();
    await initializeLifecycleCallbacks();
    // --- schedules (firing): the SDK's scheduler loop starts with the lifecycle callbacks; it ends when the engine closes.
    startScheduleFiring(exec, cfg.schedulerPollingIntervalMs);
    if (cfg.takeOverDeadExecutors ?? true) startTakeover(exec);
  } catch (e) {
    // Not shutdown(): it waits for this very launch to settle.
    await closeRuntime();
    throw e;
  }
}

/** Waits for a launch under way, then closes the runtime (workflows still running stay PENDING for recovery). */
export async function shutdown(): Promise<void> {
  await launching?.catch(() => undefined);
  await closeRuntime();
}

async function closeRuntime(): Promise<void> {
  const rt = runtime;
  runtime = undefined;
  unfreezeRegistry();
  if (!rt) return;
  clearInterval(rt.keepAlive);
  await destroyLifecycleCallbacks();
  await rt.executor.close();
  await rt.embedded?.stop();
}
