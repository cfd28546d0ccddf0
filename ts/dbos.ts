// The DBOS static API: configuration and lifecycle (their work is in config.ts and lifecycle.ts),
// registration (the decorators and invokers are in decorators.ts), starting workflows, steps, durable
// sleep and workflow introspection. It validates and routes; the executor does the work.
import { randomUUID } from 'node:crypto';
import type { DBOSConfig, DBOSLaunchOptions } from './config';
import { contextStorage, currentContext, takeFunctionID, workflowCode, type DBOSContext, type StepStatus } from './context';
import { DBOSError, DBOSInvalidWorkflowTransitionError, DBOSNotRegisteredError } from './error';
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
import type { StartWorkflowParams as BaseStartParams } from './executor';
import type { InternalHandle, PollingOptions, WorkflowHandle } from './handles';
import { getEvent as getWorkflowEvent, setEvent as setWorkflowEvent, type SetEventOptions } from './events';
import {
  recv as recvMessage,
  send as sendMessage,
  type GetEventOptions,
  type RecvOptions,
  type SendOptions,
} from './messages';
import { executor, isInitialized, launch, setConfig, shutdown } from './lifecycle';
import { DBOSSurface } from './dbos-surface';
import {
  closeStream as closeWorkflowStream,
  readStream as readWorkflowStream,
  readStreamOffset as readWorkflowStreamOffset,
  writeStream as writeWorkflowStream,
  type ReadStreamOffsetOptions,
  type ReadStreamOptions,
  type WriteStreamOptions,
} from './streams';
import { registrationOf, type FunctionName, type StepConfig, type WorkflowConfig } from './registry';
import { registerSerialization as registerRecipe, type JSONValue, type SerializationRecipe } from './serialization';
import { checkpointedStatus } from './results';
import { runStep } from './steps';
import { enqueueByName } from './enqueue-by-name';
import type { EnqueueWorkflowOptions } from './client-enqueue';
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
import * as queues from './wfqueue';
import type { RegisterQueueOptions, WorkflowQueue } from './wfqueue';
import type { SetWorkflowDelayOptions } from './management';
import * as manage from './dbos-management';

export { ConfiguredInstance, type DBOSMethodDecorator } from './decorators';
export type { DBOSConfig, DBOSLaunchOptions } from './config';

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

// SURFACE (issue 15): logger, auth context, lifecycle callbacks, alerts... are inherited statics (dbos-surface.ts).
export class DBOS extends DBOSSurface {
  // ------------------------------------------------------------ lifecycle

  static setConfig(cfg: DBOSConfig): void {
    setConfig(cfg);
  }

  static isInitialized(): boolean {
    return isInitialized();
  }

  /** Connects (starting an embedded Postgres if no URL is configured), migrates, and recovers. */
  static async launch(_options?: DBOSLaunchOptions): Promise<void> {
    return launch();
  }

  /**
   * Stops dispatching and closes the engine. Workflows still running stay PENDING in the database and
   * are recovered by the next launch of this executor.
   */
  static async shutdown(_options?: { deregister?: boolean; workflowCompletionTimeoutMS?: number }): Promise<void> {
    return shutdown();
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

  /**
   * Enqueues a workflow by name (it may be another process's or language's): nothing is checked against this
   * process's registry. Owned by this application unless `applicationName` names another; no application
   * version unless `appVersion` gives one. In a workflow it is a child, replayed like one.
   */
  static async enqueueWorkflowWithOptions<T = unknown>(options: EnqueueWorkflowOptions, ...args: unknown[]): Promise<WorkflowHandle<T>> {
    return (await enqueueByName(executor('enqueueWorkflowWithOptions'), options, args)) as WorkflowHandle<T>;
  }

  /** As `enqueueWorkflowWithOptions`, with portable arguments (positional and named). */
  static async enqueueWorkflowWithOptionsPortable<T = unknown>(
    options: EnqueueWorkflowOptions,
    positionalArgs: unknown[],
    namedArgs?: Record<string, unknown>,
  ): Promise<WorkflowHandle<T>> {
    const exec = executor('enqueueWorkflowWithOptionsPortable');
    return (await enqueueByName(exec, options, positionalArgs, namedArgs, 'portable')) as WorkflowHandle<T>;
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

  /** Workflows started or called inside `callback` are enqueued on `queueName` (an explicit queueName wins). */
  static async withWorkflowQueue<R>(queueName: string, callback: () => Promise<R>): Promise<R> {
    executor('workflows');
    const ctx: DBOSContext = { ...(currentContext() ?? {}), workflowQueue: queueName };
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
    return manage.cancelWorkflows(workflowIDs, options?.cancelChildren === true);
  }

  /** Resumes a cancelled or dead-lettered workflow from its last checkpoint (with a fresh attempt budget). */
  static async resumeWorkflow<T>(workflowID: string, options?: { queueName?: string }): Promise<WorkflowHandle<Awaited<T>>> {
    const [handle] = await DBOS.resumeWorkflows<T>([workflowID], options);
    return handle as WorkflowHandle<Awaited<T>>;
  }

  static async resumeWorkflows<T>(workflowIDs: string[], options?: { queueName?: string }): Promise<WorkflowHandle<Awaited<T>>[]> {
    return (await manage.resumeWorkflows(workflowIDs, options)) as WorkflowHandle<Awaited<T>>[];
  }

  /** Changes the priority of an ENQUEUED or DELAYED workflow (lower runs first); others are left alone. */
  static async setWorkflowPriority(workflowID: string, priority: number): Promise<void> {
    return manage.setWorkflowPriority(workflowID, priority);
  }

  /** Moves the end of a DELAYED workflow's delay; others are left alone. */
  static async setWorkflowDelay(workflowID: string, options: number | SetWorkflowDelayOptions): Promise<void> {
    return manage.setWorkflowDelay(workflowID, options);
  }

  // ------------------------------------------------------------ introspection and management (MGMT2: ts/dbos-management.ts)
  static readonly listWorkflows = manage.listWorkflows;
  static readonly listQueuedWorkflows = manage.listQueuedWorkflows;
  static readonly listWorkflowSteps = manage.listWorkflowSteps;
  static readonly forkWorkflow = manage.forkWorkflow;
  static readonly deleteWorkflow = manage.deleteWorkflow;
  static readonly deleteWorkflows = manage.deleteWorkflows;
  static readonly waitFirst = manage.waitFirst;
  static readonly waitAll = manage.waitAll;
  static readonly listApplicationVersions = manage.listApplicationVersions;
  static readonly getLatestApplicationVersion = manage.getLatestApplicationVersion;
  static readonly setLatestApplicationVersion = manage.setLatestApplicationVersion;

  // ------------------------------------------------------------ queues

  /** Registers a queue in the system database (its setters reconfigure it at runtime) and returns it as stored. */
  static async registerQueue(name: string, options?: RegisterQueueOptions): Promise<WorkflowQueue> {
    return queues.registerQueue(launchedQueueOwner('registerQueue'), name, options ?? {}, 'update_if_latest_version');
  }

  /** The queue's row, or null if there is none. */
  static async retrieveQueue(name: string): Promise<WorkflowQueue | null> {
    return queues.retrieveQueue(launchedQueueOwner('retrieveQueue'), name);
  }

  /** Deletes the queue's row; workflows still enqueued on it are not run. */
  static async deleteQueue(name: string): Promise<void> {
    return queues.deleteQueue(launchedQueueOwner('deleteQueue'), name);
  }

  /** Queues owned by these applications (default: this one) plus unclaimed ones. */
  static async listQueues(applicationName?: string | string[]): Promise<WorkflowQueue[]> {
    return queues.listQueues(launchedQueueOwner('listQueues'), applicationName);
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

/** Queue calls of the launched DBOS: its engine and application. */
function launchedQueueOwner(what: string): queues.QueueOwner {
  const exec = executor(what);
  return { engine: () => exec.engine, appName: exec.appName, client: false };
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

