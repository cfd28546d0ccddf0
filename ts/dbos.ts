// The DBOS static API: configuration and lifecycle, registration (the decorators and invokers are in
// decorators.ts), starting workflows, steps, durable sleep and workflow introspection. It validates
// and routes; the executor does the work.
import { createHash, randomUUID } from 'node:crypto';
import { contextStorage, currentContext, takeFunctionID, workflowCode, type DBOSContext, type StepStatus } from './context';
import type { EmbeddedPostgresHandle } from './embedded-postgres';
import {
  DBOSError,
  DBOSInitializationError,
  DBOSInvalidWorkflowTransitionError,
  DBOSNotRegisteredError,
} from './error';
import { recordedValue, sleepms, timerSleep } from './durable-time';
import {
  checkWorkflowThis,
  ConfiguredInstance,
  isClass,
  registerStep,
  registerWorkflow,
  stepDecorator,
  workflowDecorator,
  type DBOSMethodDecorator,
  type InvokeFunctionsAsync,
  type InvokeFunctionsAsyncInst,
} from './decorators';
import { Executor, type StartWorkflowParams as BaseStartParams } from './executor';
import type { InternalHandle, PollingOptions, WorkflowHandle } from './handles';
import { getEvent as getWorkflowEvent, setEvent as setWorkflowEvent, type SetEventOptions } from './events';
import {
  recv as recvMessage,
  send as sendMessage,
  type GetEventOptions,
  type RecvOptions,
  type SendOptions,
} from './messages';
import { connectEngine, type Engine } from './native';
import {
  closeStream as closeWorkflowStream,
  readStream as readWorkflowStream,
  readStreamOffset as readWorkflowStreamOffset,
  writeStream as writeWorkflowStream,
  type ReadStreamOffsetOptions,
  type ReadStreamOptions,
  type WriteStreamOptions,
} from './streams';
import {
  allInstances,
  allWorkflows,
  freezeRegistry,
  registrationOf,
  unfreezeRegistry,
  type FunctionName,
  type StepConfig,
  type WorkflowConfig,
} from './registry';
import {
  registerSerialization as registerRecipe,
  setCustomSerializer,
  type DBOSSerializer,
  type JSONValue,
  type SerializationRecipe,
} from './serialization';
import { checkpointedStatus } from './results';
import { runStep } from './steps';
import {
  checkDeadlineEpochMS,
  checkPollingInterval,
  checkSleepDuration,
  checkStepConfig,
  checkTimeoutSeconds,
  requireString,
  requireWorkflowIDs,
} from './validation';
import type { WorkflowStatus } from './workflow-status';

export { ConfiguredInstance, type DBOSMethodDecorator } from './decorators';

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
  // Accepted for source compatibility with DBOS Transact; not used by dbos-native yet.
  systemDatabasePollingConcurrency?: number;
  enableOTLP?: boolean;
  tracingEnabled?: boolean;
  logLevel?: string;
  addContextMetadata?: boolean;
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

export type WorkflowIDReusePolicy = 'return-existing' | 'reject';

export interface StartWorkflowParams extends BaseStartParams {
  workflowID?: string;
  queueName?: string;
  timeoutMS?: number | null;
  authenticatedUser?: string;
  authenticatedRoles?: string[];
  workflowIDReusePolicy?: WorkflowIDReusePolicy;
  workflowAttributes?: Record<string, unknown>;
}

export interface CancelWorkflowsOptions {
  /** Also cancel all descendant (child) workflows, recursively (default false). */
  cancelChildren?: boolean;
}

export interface GetResultOptions extends PollingOptions {
  /** Give up and return null after this many seconds. */
  timeoutSeconds?: number;
  /** Give up and return null at this absolute time (wins over timeoutSeconds). */
  deadlineEpochMS?: number;
}

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

function executor(what: string): Executor {
  if (!runtime || runtime.executor.isClosed) {
    throw new TypeError(`\`DBOS.launch()\` must be called before running ${what}`);
  }
  return runtime.executor;
}

function databaseNameFor(appName: string): string {
  return `${appName.toLowerCase().replace(/[-\s]/g, '_')}_dbos_sys`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

function computeAppVersion(name: string): string {
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

export class DBOS {
  // ------------------------------------------------------------ lifecycle

  static setConfig(cfg: DBOSConfig): void {
    if (runtime) throw new DBOSError('Cannot call DBOS.setConfig after DBOS.launch');
    config = { ...cfg };
  }

  static isInitialized(): boolean {
    return runtime !== undefined && !runtime.executor.isClosed;
  }

  /** Connects (starting an embedded Postgres if no URL is configured), migrates, and recovers. */
  static async launch(_options?: DBOSLaunchOptions): Promise<void> {
    if (runtime) return;
    if (launching) return launching;
    launching = DBOS.doLaunch().finally(() => {
      launching = undefined;
    });
    return launching;
  }

  private static async doLaunch(): Promise<void> {
    const cfg = config;
    if (!cfg || typeof cfg.name !== 'string' || cfg.name.length === 0) {
      throw new DBOSInitializationError('DBOS.setConfig({ name }) must be called with an application name before DBOS.launch()');
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
      url = withDatabase(embedded.url, databaseNameFor(cfg.name));
    }
    setCustomSerializer(cfg.serializer);
    freezeRegistry();
    const executorID = cfg.executorID ?? process.env.DBOS__VMID ?? 'local';
    const appVersion = cfg.applicationVersion ?? process.env.DBOS__APPVERSION ?? computeAppVersion(cfg.name);
    let engine: Engine;
    try {
      engine = await connectEngine({
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
    const exec = new Executor({ engine, appName: cfg.name, executorID, appVersion });
    runtime = { executor: exec, embedded, keepAlive: setInterval(() => undefined, KEEP_ALIVE_MS) };
    try {
      await engine.registerAppVersion();
      // As in DBOS: every configured instance is initialized before recovery may run its workflows.
      for (const instance of allInstances()) await instance.initialize();
      await exec.startRecovery();
    } catch (e) {
      // Not DBOS.shutdown(): it waits for this very launch to settle.
      await DBOS.closeRuntime();
      throw e;
    }
  }

  /**
   * Stops dispatching and closes the engine. Workflows still running stay PENDING in the database and
   * are recovered by the next launch of this executor.
   */
  static async shutdown(_options?: { deregister?: boolean; workflowCompletionTimeoutMS?: number }): Promise<void> {
    await launching?.catch(() => undefined);
    await DBOS.closeRuntime();
  }

  private static async closeRuntime(): Promise<void> {
    const rt = runtime;
    runtime = undefined;
    unfreezeRegistry();
    if (!rt) return;
    clearInterval(rt.keepAlive);
    await rt.executor.close();
    await rt.embedded?.stop();
  }

  // ------------------------------------------------------------ context

  static get applicationVersion(): string {
    return executor('DBOS.applicationVersion').appVersion;
  }

  static get executorID(): string {
    return executor('DBOS.executorID').executorID;
  }

  static get workflowID(): string | undefined {
    return currentContext()?.workflow?.workflowID;
  }

  static get stepID(): number | undefined {
    return currentContext()?.step?.stepID;
  }

  static get stepStatus(): StepStatus | undefined {
    return currentContext()?.step?.status;
  }

  static isInStep(): boolean {
    return currentContext()?.step !== undefined;
  }

  static isWithinWorkflow(): boolean {
    return currentContext()?.workflow !== undefined;
  }

  static isInWorkflow(): boolean {
    return workflowCode() !== undefined;
  }

  static isInTransaction(): boolean {
    return false;
  }

  // ------------------------------------------------------------ registration

  /** Decorator designating a static method (legacy or standard decorators) as a DBOS workflow. */
  static workflow(cfg: WorkflowConfig = {}): DBOSMethodDecorator {
    return workflowDecorator(cfg, executor);
  }

  /** Decorator designating a method as a DBOS step (checkpointed in workflows, a plain call elsewhere). */
  static step(cfg: StepConfig = {}): DBOSMethodDecorator {
    return stepDecorator(cfg, executor);
  }

  /** Registers a function as a workflow and returns the invoker to call instead of it. */
  static registerWorkflow<This, Args extends unknown[], Return>(
    func: (this: This, ...args: Args) => Promise<Return>,
    cfg: FunctionName & WorkflowConfig = {},
  ): (this: This, ...args: Args) => Promise<Return> {
    return registerWorkflow(func, cfg, executor);
  }

  /** Registers a function as a step and returns the invoker to call instead of it. */
  static registerStep<This, Args extends unknown[], Return>(
    func: (this: This, ...args: Args) => Promise<Return>,
    cfg: StepConfig & FunctionName = {},
  ): (this: This, ...args: Args) => Promise<Return> {
    return registerStep(func, cfg, executor);
  }

  /** Runs `func` as a checkpointed step of the current workflow (a plain call outside one). */
  static async runStep<Return>(func: () => Promise<Return>, cfg: StepConfig & { name?: string } = {}): Promise<Return> {
    const exec = executor('steps');
    if (typeof func !== 'function') throw new TypeError(`DBOS.runStep needs a function to run, got ${typeof func}`);
    const name = cfg.name ?? func.name;
    checkStepConfig(cfg, name);
    const ctx = currentContext();
    // Outside a workflow a step is a plain call; a pending withNextWorkflowID is for the next workflow only.
    if (!ctx?.workflow) return func();
    return runStep(exec.engine, func, name, cfg);
  }

  static registerSerialization<T, S extends JSONValue>(serReg: SerializationRecipe<T, S>): void {
    registerRecipe(serReg);
  }

  // ------------------------------------------------------------ starting and awaiting workflows

  static startWorkflow<Args extends unknown[], Return>(
    target: (...args: Args) => Promise<Return>,
    params?: StartWorkflowParams,
  ): (...args: Args) => Promise<WorkflowHandle<Return>>;
  static startWorkflow<T extends ConfiguredInstance>(target: T, params?: StartWorkflowParams): InvokeFunctionsAsyncInst<T>;
  static startWorkflow<T extends object>(targetClass: T, params?: StartWorkflowParams): InvokeFunctionsAsync<T>;
  static startWorkflow(target: object, params?: StartWorkflowParams): unknown {
    const direct = registrationOf(target);
    if (direct) {
      return (...args: unknown[]) => startRegistered(direct, undefined, args, params);
    }
    if (typeof target === 'function' && !isClass(target)) {
      throw new DBOSNotRegisteredError(target.name || '<anonymous>', `Function ${target.name || '<anonymous>'} is not a registered DBOS workflow`);
    }
    return new Proxy(target, {
      get(obj, prop) {
        const member: unknown = Reflect.get(obj, prop);
        const reg = registrationOf(member);
        if (!reg) {
          // The member's call returns a promise: the refusal is a rejection, not a synchronous throw.
          return async () => {
            throw new DBOSNotRegisteredError(String(prop), `${String(prop)} is not a registered DBOS workflow`);
          };
        }
        return (...args: unknown[]) => startRegistered(reg, obj, args, params);
      },
    });
  }

  /** The first workflow started inside `callback` gets `workflowID`. */
  static async withNextWorkflowID<R>(workflowID: string, callback: () => Promise<R>): Promise<R> {
    const ctx: DBOSContext = { ...(currentContext() ?? {}), nextWorkflowID: { id: workflowID } };
    return contextStorage.run(ctx, callback);
  }

  /** Workflows started inside `callback` get this timeout (null: no timeout, detached from the parent's). */
  static async withWorkflowTimeout<R>(timeoutMS: number | null, callback: () => Promise<R>): Promise<R> {
    const ctx: DBOSContext = { ...(currentContext() ?? {}), workflowTimeoutMS: timeoutMS };
    return contextStorage.run(ctx, callback);
  }

  /** A handle to any workflow by ID (it need not exist yet; getResult waits for it). */
  static retrieveWorkflow<T = unknown>(workflowID: string): WorkflowHandle<Awaited<T>> {
    if (currentContext()?.step) {
      throw new DBOSInvalidWorkflowTransitionError('Invalid call to `DBOS.retrieveWorkflow` inside a `step`');
    }
    const exec = executor('DBOS.retrieveWorkflow');
    return exec.handleFor(requireString('workflow ID', workflowID)) as WorkflowHandle<Awaited<T>>;
  }

  static async getWorkflowStatus(workflowID: string): Promise<WorkflowStatus | null> {
    const exec = executor('DBOS.getWorkflowStatus');
    requireString('workflow ID', workflowID);
    const wf = workflowCode();
    if (!wf) return exec.getStatus(workflowID);
    const functionID = takeFunctionID(wf);
    return checkpointedStatus(exec.engine, wf, functionID, workflowID);
  }

  /** The workflow's result; null if it does not finish within the timeout. */
  static async getResult<T>(workflowID: string, options?: number | GetResultOptions): Promise<T | null> {
    const exec = executor('DBOS.getResult');
    requireString('workflow ID', workflowID);
    const timeoutMS = resolveTimeoutMS(options);
    const pollMs = typeof options === 'object' ? (options.pollingIntervalMs ?? 1000) : 1000;
    checkPollingInterval(pollMs);
    const wf = workflowCode();
    if (!wf) {
      const deadline = timeoutMS === undefined ? null : Date.now() + timeoutMS;
      const r = await exec.awaitResult(workflowID, pollMs, deadline);
      return r.done ? (r.value as T) : null;
    }
    // The timer's ID comes first, as the SDK numbers them.
    const timer = timeoutMS !== undefined ? { functionID: takeFunctionID(wf), timeoutMS } : undefined;
    return exec.checkpointedResult<T>(wf, { workflowID, functionID: takeFunctionID(wf), pollMs, timer });
  }

  /**
   * Cancels a workflow that has not finished. A run in this process stops at its next durable
   * operation (or at once if sleeping) with `DBOSWorkflowCancelledError`.
   */
  static async cancelWorkflow(workflowID: string, options?: CancelWorkflowsOptions): Promise<void> {
    return DBOS.cancelWorkflows([workflowID], options);
  }

  static async cancelWorkflows(workflowIDs: string[], options?: CancelWorkflowsOptions): Promise<void> {
    const exec = executor('DBOS.cancelWorkflow');
    requireWorkflowIDs(workflowIDs);
    await recordedManagement('DBOS.cancelWorkflow', () => exec.cancel(workflowIDs, options?.cancelChildren === true));
  }

  /** Resumes a cancelled or dead-lettered workflow from its last checkpoint (with a fresh attempt budget). */
  static async resumeWorkflow<T>(workflowID: string, options?: { queueName?: string }): Promise<WorkflowHandle<Awaited<T>>> {
    const [handle] = await DBOS.resumeWorkflows<T>([workflowID], options);
    return handle as WorkflowHandle<Awaited<T>>;
  }

  static async resumeWorkflows<T>(workflowIDs: string[], options?: { queueName?: string }): Promise<WorkflowHandle<Awaited<T>>[]> {
    const exec = executor('DBOS.resumeWorkflow');
    requireWorkflowIDs(workflowIDs);
    if (options?.queueName !== undefined) {
      throw new DBOSError('Queues are not supported yet by dbos-native (resumeWorkflow queueName)');
    }
    await recordedManagement('DBOS.resumeWorkflow', () => exec.resume(workflowIDs));
    return workflowIDs.map((id) => exec.handleFor(id) as WorkflowHandle<Awaited<T>>);
  }

  // ------------------------------------------------------------ messages and events

  /**
   * Sends a message to a workflow, optionally on a topic. From workflow code it is exactly once; from
   * elsewhere, exactly once with an idempotency key (scoped to the destination).
   */
  static async send<T>(destinationID: string, message: T, topic?: string, idempotencyKey?: string, options?: SendOptions): Promise<void> {
    const exec = executor('DBOS.send');
    return sendMessage(exec.engine, exec, { destinationID, message, topic, idempotencyKey, options });
  }

  /**
   * Waits for and consumes the oldest unconsumed message on `topic` (no topic: only topic-less
   * messages); null on timeout (default 60 s). Workflow code only.
   */
  static async recv<T>(topic?: string, options?: number | RecvOptions): Promise<T | null> {
    const exec = executor('DBOS.recv');
    return (await recvMessage(exec.engine, topic, options)) as T | null;
  }

  /** Publishes (or updates) a key-value event of the running workflow. Workflow code only. */
  static async setEvent<T>(key: string, value: T, options?: SetEventOptions): Promise<void> {
    const exec = executor('DBOS.setEvent');
    return setWorkflowEvent(exec.engine, key, value, options);
  }

  /** Waits until `workflowID` has published `key` and returns its latest value; null on timeout (default 60 s). */
  static async getEvent<T>(workflowID: string, key: string, options?: number | GetEventOptions): Promise<T | null> {
    const exec = executor('DBOS.getEvent');
    return (await getWorkflowEvent(exec.engine, exec, workflowID, key, options)) as T | null;
  }

  // ------------------------------------------------------------ streams

  /**
   * Appends a value to the running workflow's stream `key`: exactly once from workflow code, at least
   * once from a step (a retried step's earlier writes stay, in order).
   */
  static async writeStream<T>(key: string, value: T, options?: WriteStreamOptions): Promise<void> {
    const exec = executor('DBOS.writeStream');
    return writeWorkflowStream(exec.engine, key, value, options);
  }

  /** Ends the running workflow's stream `key` for every reader (streams also end when the workflow does). */
  static async closeStream(key: string): Promise<void> {
    const exec = executor('DBOS.closeStream');
    return closeWorkflowStream(exec.engine, key);
  }

  /**
   * The values of `workflowID`'s stream `key`, in order, until it is closed or the workflow ends. In
   * workflow code each value read is recorded, so a replay sees the same sequence.
   */
  static async *readStream<T>(workflowID: string, key: string, options?: ReadStreamOptions): AsyncGenerator<T, void, unknown> {
    const exec = executor('DBOS.readStream');
    yield* readWorkflowStream<T>({ engine: exec.engine, executor: exec, workflowID, key, options });
  }

  /** The single value at `offset` of the stream, waiting for it (`DBOSStreamTimeoutError` if the stream ends first). */
  static async readStreamOffset<T>(workflowID: string, key: string, offset: number, options?: ReadStreamOffsetOptions): Promise<T> {
    const exec = executor('DBOS.readStreamOffset');
    return readWorkflowStreamOffset<T>({ engine: exec.engine, executor: exec, workflowID, key, offset, options });
  }

  // ------------------------------------------------------------ time and randomness

  static async sleepms(durationMS: number): Promise<void> {
    // Outside workflow code (and in a step) it is a plain timer, as in DBOS: no launch needed.
    if (!workflowCode()) {
      checkSleepDuration(durationMS);
      return timerSleep(durationMS);
    }
    return sleepms(executor('DBOS.sleep').engine, durationMS);
  }

  static async sleepSeconds(durationSec: number): Promise<void> {
    return DBOS.sleepms(durationSec * 1000);
  }

  static async sleep(durationMS: number): Promise<void> {
    return DBOS.sleepms(durationMS);
  }

  /** The current time, recorded in workflow code so a replay sees the same value. */
  static async now(): Promise<number> {
    if (!workflowCode()) return Date.now();
    return recordedValue(executor('DBOS.now').engine, 'DBOS.now', () => Date.now());
  }

  /** A random UUID, recorded in workflow code so a replay sees the same value. */
  static async randomUUID(): Promise<string> {
    if (!workflowCode()) return randomUUID();
    return recordedValue(executor('DBOS.randomUUID').engine, 'DBOS.randomUUID', () => randomUUID());
  }
}

/** Management calls from workflow code are recorded like steps, so a replay does not repeat them. */
async function recordedManagement(name: string, fn: () => Promise<void>): Promise<void> {
  if (!workflowCode()) return fn();
  return runStep(executor(name).engine, fn, name, {});
}

async function startRegistered(
  reg: ReturnType<typeof registrationOf>,
  thisArg: unknown,
  args: unknown[],
  params: StartWorkflowParams | undefined,
): Promise<WorkflowHandle<unknown>> {
  if (!reg || reg.kind !== 'workflow') {
    throw new DBOSInvalidWorkflowTransitionError(`Cannot start step ${reg?.name ?? ''} as a workflow`);
  }
  checkWorkflowThis(thisArg, 'Attempt to call `startWorkflow` on an object that is not a `ConfiguredInstance`');
  const handle: InternalHandle<unknown> = await executor('workflows').startWorkflow(reg, thisArg, args, params ?? {});
  return handle;
}

function resolveTimeoutMS(options: number | GetResultOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options === 'number') {
    checkTimeoutSeconds(options);
    return options * 1000;
  }
  if (options.deadlineEpochMS !== undefined) {
    checkDeadlineEpochMS(options.deadlineEpochMS);
    return Math.max(0, options.deadlineEpochMS - Date.now());
  }
  if (options.timeoutSeconds === undefined) return undefined;
  checkTimeoutSeconds(options.timeoutSeconds);
  return options.timeoutSeconds * 1000;
}

