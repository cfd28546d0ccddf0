// DBOSClient: talks to DBOS workflows from outside a DBOS app (send, getEvent, retrieve, cancel,
// resume). It connects lazily, runs no migrations, and starts its LISTEN connection at its first wait,
// so getEvent wakes within milliseconds instead of polling.
import { DBOSError, DBOSShutdownError } from './error';
import { getEvent } from './events';
import type { PollingOptions, WorkflowHandle } from './handles';
import { send, type GetEventOptions, type SendOptions } from './messages';
import { connectEngine, pollMs, type Engine } from './native';
import { connectionModes } from './config';
import type { DBOSSerializer, SerializerOptions } from './serialization';
import { outcomeValue } from './results';
import { DBOSJSON } from './superjson-format';
import { sendInTransaction } from './send-in-transaction';
import { readStream, readStreamOffset, type ReadStreamOffsetOptions, type ReadStreamOptions } from './streams';
import { requireString, requireWorkflowIDs } from './validation';
import { checkNewPriority, delayEndEpochMS, requireID, resumeArgs, type SetWorkflowDelayOptions } from './management';
import { listQueuedWorkflows, listTimeoutMs, listWorkflows, type GetWorkflowsInput, type Lister } from './workflow-list';
import { randomUUID } from 'node:crypto';
import {
  deleteWorkflows,
  forkWorkflow,
  listWorkflowSteps,
  type ForkWorkflowOptions,
  type ListWorkflowStepsOptions,
  type Reader,
  type StepInfo,
} from './introspection';
import { waitAll, waitFirst, type WaitAllOptions, type WaitFirstOptions } from './wait-many';
import * as versions from './app-versions';
import type { VersionInfo } from './app-versions';
import { notifyEnqueued } from './queue-dispatch';
import { INTERNAL_QUEUE } from './recovery';
import { toWorkflowStatus, type WorkflowStatus } from './workflow-status';
import * as queues from './wfqueue';
import { debounceDelayedWorkflow, enqueueDebounced } from './debouncer-client';
import type { DebounceParams, DebounceResult } from './debouncer';
import { clientEnqueue, clientEnqueueInTransaction, type ClientEnqueueOptions, type PgClientBase } from './client-enqueue';
// --- schedules (firing)
import { backfillSchedule, clientFiring, triggerSchedule } from './schedule-fire';

export type { ClientEnqueueOptions, EnqueueWorkflowOptions, PgClientBase } from './client-enqueue';
import type { RegisterQueueOptions, WorkflowQueue } from './wfqueue';
// --- schedules (CRUD)
import * as schedules from './schedules-client';
import type { ScheduleFilters, ScheduleOwner, ScheduleUpdates, WorkflowSchedule } from './schedules';
// --- rest
import { clientRewindWorkflow, renameApplication, type ApplicationRowCounts, type RewindWorkflowOptions } from './rewind';

export interface DBOSClientConfig {
  systemDatabaseUrl: string;
  /** Not supported by dbos-native (the engine has its own pool); accepted for source compatibility. */
  systemDatabasePool?: unknown;
  serializer?: DBOSSerializer;
  systemDatabaseSchemaName?: string;
  systemDatabasePoolSize?: number;
  systemDatabasePollingConcurrency?: number;
  logger?: unknown;
  /** The application this client acts for (stamped on rows it creates). */
  applicationName?: string;
  observabilityQueryTimeoutMs?: number;
  systemDatabaseIdleTransactionTimeoutMs?: number;
  /** Ours (as in DBOSConfig): false polls instead of LISTENing (the SDK's client always polls). */
  useListenNotify?: boolean;
  /** Ours (as in DBOSConfig): a direct URL for the LISTEN connection when `systemDatabaseUrl` is pooled. */
  systemDatabaseListenUrl?: string;
  /** Ours (as in DBOSConfig): `systemDatabaseUrl` goes through a transaction-mode pooler. */
  systemDatabaseTransactionPooling?: boolean;
}

class ClientHandle<R> implements WorkflowHandle<R> {
  constructor(
    private readonly client: DBOSClient,
    readonly workflowID: string,
  ) {}

  getStatus(): Promise<WorkflowStatus | null> {
    return this.client.getWorkflow(this.workflowID).then((s) => s ?? null);
  }

  async getResult(options?: PollingOptions): Promise<R> {
    const outcome = await this.client.engineForHandles().awaitOutcome(this.workflowID, pollMs(options?.pollingIntervalMs ?? 1000), null);
    // Read with the client's serializer, as DBOS does (a Promise when it is asynchronous: adopted here).
    return outcomeValue(this.workflowID, outcome ?? null, this.client.serializerOptions()) as R | Promise<R>;
  }
}

export class DBOSClient {
  private destroyed = false;

  private constructor(
    private readonly engine: Engine,
    private readonly serializerOpts: SerializerOptions,
    private readonly appName: string | undefined,
    private readonly listTimeout: number | null,
  ) {}

  /** Creates a client; no connection is opened until the first call. */
  static async create(config: DBOSClientConfig): Promise<DBOSClient> {
    const url = requireString('systemDatabaseUrl', config?.systemDatabaseUrl);
    const listTimeout = listTimeoutMs(config.observabilityQueryTimeoutMs);
    if (config.systemDatabasePool !== undefined) {
      throw new DBOSError('systemDatabasePool is not supported by dbos-native; pass systemDatabaseUrl');
    }
    const engine = await connectEngine({
      ...connectionModes(config),
      url,
      schema: config.systemDatabaseSchemaName ?? 'dbos',
      poolSize: config.systemDatabasePoolSize ?? 10,
      schemaMode: 'lazy',
      listen: false,
      appName: config.applicationName ?? '',
      executorId: 'dbos-client',
      appVersion: '',
    });
    return new DBOSClient(engine, { serializer: config.serializer }, config.applicationName, listTimeout);
  }

  /** The application this client acts on behalf of; undefined if it writes unclaimed rows. */
  get applicationName(): string | undefined {
    return this.appName;
  }

  /** Closes the client's connections; waits still in progress reject. Idempotent. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    this.engine.close();
  }

  private live(): Engine {
    if (this.destroyed) throw new DBOSShutdownError();
    return this.engine;
  }

  /** @internal */
  engineForHandles(): Engine {
    return this.live();
  }

  /** @internal The client's serializer, for its handles. */
  serializerOptions(): SerializerOptions {
    return this.serializerOpts;
  }

  /** Enqueues a workflow by name (it runs in an app process serving the queue); returns its handle. */
  async enqueue<T extends (...args: never[]) => Promise<unknown> = (...args: unknown[]) => Promise<unknown>>(
    options: ClientEnqueueOptions,
    ...args: Parameters<T>
  ): Promise<WorkflowHandle<Awaited<ReturnType<T>>>> {
    const id = await clientEnqueue({ engine: this.live(), clientAppName: this.appName, serializerOpts: this.serializerOpts, options, args });
    return new ClientHandle<Awaited<ReturnType<T>>>(this, id);
  }

  /** As `enqueue`, with arguments written as portable JSON (unless `serializationType` says otherwise). */
  async enqueuePortable<T = unknown>(
    options: ClientEnqueueOptions,
    positionalArgs: unknown[],
    namedArgs?: { [key: string]: unknown },
  ): Promise<WorkflowHandle<Awaited<T>>> {
    const id = await clientEnqueue({
      engine: this.live(),
      clientAppName: this.appName,
      serializerOpts: this.serializerOpts,
      options,
      args: positionalArgs,
      namedArgs,
      defaultSerialization: 'portable',
    });
    return new ClientHandle<Awaited<T>>(this, id);
  }

  /**
   * As `enqueue`, inside the caller's open transaction on the system database (`pgClient`, a `pg` client): the
   * workflow exists, and its dispatchers are woken, only when that transaction commits.
   */
  async enqueueInTransaction<T extends (...args: never[]) => Promise<unknown> = (...args: unknown[]) => Promise<unknown>>(
    pgClient: PgClientBase,
    options: ClientEnqueueOptions,
    ...args: Parameters<T>
  ): Promise<WorkflowHandle<Awaited<ReturnType<T>>>> {
    const id = await clientEnqueueInTransaction(pgClient, { engine: this.live(), clientAppName: this.appName, serializerOpts: this.serializerOpts, options, args });
    return new ClientHandle<Awaited<ReturnType<T>>>(this, id);
  }

  /** As `enqueuePortable`, inside the caller's open transaction (see `enqueueInTransaction`). */
  async enqueuePortableInTransaction<T = unknown>(
    pgClient: PgClientBase,
    options: ClientEnqueueOptions,
    positionalArgs: unknown[],
    namedArgs?: { [key: string]: unknown },
  ): Promise<WorkflowHandle<Awaited<T>>> {
    const id = await clientEnqueueInTransaction(pgClient, {
      engine: this.live(),
      clientAppName: this.appName,
      serializerOpts: this.serializerOpts,
      options,
      args: positionalArgs,
      namedArgs,
      defaultSerialization: 'portable',
    });
    return new ClientHandle<Awaited<T>>(this, id);
  }

  /** Sends a message to a workflow; with an idempotency key, at most once per key and destination. */
  async send<T>(destinationID: string, message: T, topic?: string, idempotencyKey?: string, options?: SendOptions): Promise<void> {
    await send(this.live(), undefined, { destinationID, message, topic, idempotencyKey, options }, this.serializerOpts);
  }

  /** Waits until the workflow has published `key`; null on timeout (default 60 s). */
  async getEvent<T>(workflowID: string, key: string, options?: number | GetEventOptions): Promise<T | null> {
    return (await getEvent(this.live(), undefined, workflowID, key, options, this.serializerOpts)) as T | null;
  }

  /** The values of a workflow's stream, in order, until it is closed or the workflow ends (never checkpointed). */
  async *readStream<T>(workflowID: string, key: string, options?: ReadStreamOptions): AsyncGenerator<T, void, unknown> {
    yield* readStream<T>({ engine: this.live(), executor: undefined, workflowID, key, options, serializerOpts: this.serializerOpts });
  }

  /** The single value at `offset` of a workflow's stream, waiting for it (never checkpointed). */
  async readStreamOffset<T>(workflowID: string, key: string, offset: number, options?: ReadStreamOffsetOptions): Promise<T> {
    return readStreamOffset<T>({ engine: this.live(), executor: undefined, workflowID, key, offset, options, serializerOpts: this.serializerOpts });
  }

  /**
   * Registers a queue (default onConflict 'always_update'; 'update_if_latest_version' is refused, a client
   * having no version), owned by `applicationName` or the client's application.
   */
  async registerQueue(name: string, options?: RegisterQueueOptions & { applicationName?: string }): Promise<WorkflowQueue> {
    if (options?.onConflict === 'update_if_latest_version') {
      throw new Error(
        "DBOSClient.registerQueue does not support onConflict='update_if_latest_version' " +
          'because clients are not associated with an application version. ' +
          "Use 'always_update' or 'never_update'.",
      );
    }
    const { applicationName, ...rest } = options ?? {};
    if (applicationName !== undefined) requireString('applicationName', applicationName, true);
    return queues.registerQueue({ ...this.queueOwner(), appName: applicationName ?? this.appName }, name, rest, 'always_update');
  }

  /** The queue's row, or null if there is none. */
  async retrieveQueue(name: string): Promise<WorkflowQueue | null> {
    return queues.retrieveQueue(this.queueOwner(), name);
  }

  /** Deletes the queue's row; workflows still enqueued on it are not run. */
  async deleteQueue(name: string): Promise<void> {
    return queues.deleteQueue(this.queueOwner(), name);
  }

  /** Queues owned by these applications (default: the client's; none set: all) plus unclaimed ones. */
  async listQueues(applicationName?: string | string[]): Promise<WorkflowQueue[]> {
    return queues.listQueues(this.queueOwner(), applicationName);
  }

  /** Queues of this client go through it: once it is destroyed, they reject with DBOSShutdownError. */
  private queueOwner(): queues.QueueOwner {
    return { engine: () => this.live(), appName: this.appName, client: true };
  }

  retrieveWorkflow<T = unknown>(workflowID: string): WorkflowHandle<Awaited<T>> {
    requireString('workflow ID', workflowID);
    return new ClientHandle<Awaited<T>>(this, workflowID);
  }

  async getWorkflow(workflowID: string): Promise<WorkflowStatus | undefined> {
    const row = await this.live().getWorkflowStatus(requireString('workflow ID', workflowID));
    return row ? toWorkflowStatus(row, this.serializerOpts) : undefined;
  }

  async cancelWorkflow(workflowID: string, options?: { cancelChildren?: boolean }): Promise<void> {
    const engine = this.live();
    await engine.cancelWorkflows([requireString('workflow ID', workflowID)], options?.cancelChildren === true);
  }

  async cancelWorkflows(workflowIDs: string[], options?: { cancelChildren?: boolean }): Promise<void> {
    const engine = this.live();
    requireWorkflowIDs(workflowIDs);
    await engine.cancelWorkflows(workflowIDs, options?.cancelChildren === true);
  }

  /** Puts the workflow back on `queueName` (default: the internal queue); an app process serving it runs it. */
  async resumeWorkflow<T = unknown>(workflowID: string, options?: { queueName?: string }): Promise<WorkflowHandle<Awaited<T>>> {
    const [handle] = await this.resumeWorkflows<T>([workflowID], options);
    return handle as WorkflowHandle<Awaited<T>>;
  }

  /** As resumeWorkflow for several; if any ID is unknown, none is resumed. */
  async resumeWorkflows<T = unknown>(workflowIDs: string[], options?: { queueName?: string }): Promise<WorkflowHandle<Awaited<T>>[]> {
    const engine = this.live();
    const queueName = resumeArgs(workflowIDs, options);
    await engine.resumeWorkflows(workflowIDs, queueName);
    await notifyEnqueued(engine, queueName ?? INTERNAL_QUEUE);
    return workflowIDs.map((id) => this.retrieveWorkflow<T>(id));
  }

  /**
   * Changes the priority of an ENQUEUED or DELAYED workflow. Stricter than the SDK's client, which writes any
   * integer: the range is checked as on DBOS and at enqueue (a negative priority would jump every queue).
   */
  async setWorkflowPriority(workflowID: string, priority: number): Promise<void> {
    const engine = this.live();
    const [id, p] = [requireID(workflowID), checkNewPriority(priority)];
    await engine.setWorkflowPriority(id, p);
  }

  /** Moves the end of a DELAYED workflow's delay; others are left alone. */
  async setWorkflowDelay(workflowID: string, options: number | SetWorkflowDelayOptions): Promise<void> {
    const engine = this.live();
    const [id, until] = [requireID(workflowID), delayEndEpochMS(options)];
    await engine.setWorkflowDelay(id, until);
  }

  /** Workflows matching `input`; unless keyed by IDs or naming applications, the client's application's and unclaimed ones. */
  async listWorkflows(input: GetWorkflowsInput): Promise<WorkflowStatus[]> {
    return listWorkflows(this.lister(), input);
  }

  /** Workflows waiting on or running for a queue (sets `queuesOnly` and `loadOutput: false` on `input`). */
  async listQueuedWorkflows(input: GetWorkflowsInput): Promise<WorkflowStatus[]> {
    return listQueuedWorkflows(this.lister(), input);
  }

  // ------------------------------------------------------------ introspection and management (MGMT2: ts/introspection.ts)
  /** The workflow's recorded operations in function order; undefined if there is no such workflow. */
  async listWorkflowSteps(workflowID: string, options?: ListWorkflowStepsOptions): Promise<StepInfo[] | undefined> {
    return listWorkflowSteps(this.reader(), workflowID, options);
  }

  /** Forks the workflow from `startStep` into a new ENQUEUED one; returns its ID (an app process serving the queue runs it). */
  async forkWorkflow(workflowID: string, startStep: number, options?: ForkWorkflowOptions): Promise<string> {
    const engine = this.live();
    const newWorkflowID = options?.newWorkflowID ?? randomUUID();
    const queueName = await forkWorkflow(engine, workflowID, startStep, options, { newWorkflowID, owner: this.appName });
    await notifyEnqueued(engine, queueName ?? INTERNAL_QUEUE);
    return newWorkflowID;
  }

  async deleteWorkflow(workflowID: string, deleteChildren?: boolean): Promise<void> {
    return deleteWorkflows(this.live(), [workflowID], deleteChildren);
  }

  async deleteWorkflows(workflowIDs: string[], deleteChildren?: boolean): Promise<void> {
    return deleteWorkflows(this.live(), workflowIDs, deleteChildren);
  }

  async waitFirst(handles: WorkflowHandle<unknown>[], options?: WaitFirstOptions): Promise<WorkflowHandle<unknown>> {
    return waitFirst({ engine: this.live() }, handles, options);
  }

  async waitAll<R>(handles: WorkflowHandle<R>[], options?: WaitAllOptions): Promise<WorkflowHandle<R>[]> {
    return waitAll({ engine: this.live() }, handles, options);
  }

  /** This client's application's versions and unclaimed ones (no application: all), latest first. */
  async listApplicationVersions(): Promise<VersionInfo[]> {
    return versions.listApplicationVersions(this.versionOwner());
  }

  async getLatestApplicationVersion(): Promise<VersionInfo> {
    return versions.getLatestApplicationVersion(this.versionOwner());
  }

  /** Makes a version the latest, acting as `applicationName` or this client's application. */
  async setLatestApplicationVersion(versionName: string, options?: { applicationName?: string }): Promise<void> {
    return versions.setLatestApplicationVersion(this.versionOwner(), versionName, options);
  }

  private versionOwner(): versions.VersionOwner {
    return { engine: this.live(), appName: this.appName };
  }

  private reader(): Reader {
    return { engine: this.live(), serializerOpts: this.serializerOpts };
  }

  private lister(): Lister {
    return { engine: this.live(), ownApp: this.appName, serializerOpts: this.serializerOpts, timeoutMs: this.listTimeout };
  }

  // ---- SURFACE (issue 15): the rest of the SDK's DBOSClient surface
  /** The serializer of workflow inputs and outputs: the one given to `create`, else DBOSJSON (as the SDK's). */
  get serializer(): DBOSSerializer {
    return this.serializerOpts.serializer ?? DBOSJSON;
  }

  /** As `send`, inside the caller's open `pg` transaction on the system database: delivered at its commit. */
  async sendInTransaction<T>(pgClient: PgClientBase, destinationID: string, message: T, topic?: string, idempotencyKey?: string, options?: SendOptions): Promise<void> {
    return sendInTransaction(this.live(), pgClient, { destinationID, message, topic, idempotencyKey, options }, this.serializerOpts);
  }
  // --- schedules (CRUD): schedules-client.ts
  async createSchedule(options: schedules.ClientCreateScheduleInput): Promise<void> {
    return schedules.createSchedule(this.scheduleOwner(), options);
  }
  async applySchedules(scheduleList: schedules.ClientApplyScheduleInput[]): Promise<void> {
    return schedules.applySchedules(this.scheduleOwner(), scheduleList);
  }
  async listSchedules(filters?: ScheduleFilters): Promise<WorkflowSchedule[]> {
    return schedules.listSchedules(this.scheduleOwner(), filters);
  }
  async getSchedule(name: string): Promise<WorkflowSchedule | null> {
    return schedules.getSchedule(this.scheduleOwner(), name);
  }
  async deleteSchedule(name: string): Promise<void> {
    return schedules.deleteSchedule(this.scheduleOwner(), name);
  }
  async pauseSchedule(name: string): Promise<void> {
    return schedules.setScheduleStatus(this.scheduleOwner(), name, 'PAUSED');
  }
  async resumeSchedule(name: string): Promise<void> {
    return schedules.setScheduleStatus(this.scheduleOwner(), name, 'ACTIVE');
  }
  async updateSchedule(name: string, updates: ScheduleUpdates): Promise<void> {
    return schedules.updateSchedule(this.scheduleOwner(), name, updates);
  }
  private scheduleOwner(): ScheduleOwner {
    return { engine: this.live(), appName: this.appName, serializerOpts: this.serializerOpts };
  }

  // --- rest (rewind, rename application: ts/rewind.ts)
  /** Drops a terminal workflow's history from `options.startStep` (default 0) on and re-enqueues it under its own ID. */
  async rewindWorkflow<T = unknown>(workflowID: string, options?: RewindWorkflowOptions): Promise<WorkflowHandle<Awaited<T>>> {
    return clientRewindWorkflow(this.live(), workflowID, options).then(() => this.retrieveWorkflow<T>(workflowID));
  }

  /** Gives `newName` the rows of `oldName` (and/or the unclaimed ones); run it while that application is stopped. */
  async renameApplication(oldName: string | undefined, newName: string, options?: { batchSize?: number | null; adoptUnclaimedRows?: boolean }): Promise<ApplicationRowCounts> {
    return renameApplication(this.live(), oldName, newName, options);
  }

  // --- schedules (firing)
  /** Enqueues the schedule's workflow now, as `sched-<name>-trigger-<now ISO>`. */
  async triggerSchedule(name: string): Promise<WorkflowHandle<unknown>> {
    return new ClientHandle(this, await triggerSchedule(clientFiring(this.live(), this.serializerOpts), name));
  }

  /** Enqueues every tick strictly between `start` and `end` (IDs as when fired). */
  async backfillSchedule(name: string, start: Date, end: Date): Promise<WorkflowHandle<unknown>[]> {
    return (await backfillSchedule(clientFiring(this.live(), this.serializerOpts), name, start, end)).map((id) => new ClientHandle(this, id));
  }

  // --- debouncer (for DebouncerClient; public on the SDK's class too)
  async enqueueDebounced(options: ClientEnqueueOptions, debounceDeadlineEpochMS: number | undefined, args: unknown[]): Promise<string> {
    return enqueueDebounced({ engine: this.live(), clientAppName: this.appName, serializerOpts: this.serializerOpts }, options, debounceDeadlineEpochMS, args);
  }
  async debounceDelayedWorkflow(params: DebounceParams): Promise<DebounceResult> {
    return debounceDelayedWorkflow(this.live(), params);
  }
}
