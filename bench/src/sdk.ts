// The minimal common interface every scenario is written against. One implementation per SDK (src/sdks/),
// each a thin pass-through to that package's own `DBOS` class and `DBOSClient`.

export type SdkId = 'native' | 'sdk';

export const SDK_LABELS: Record<SdkId, string> = {
  native: 'dbos-native',
  sdk: '@dbos-inc/dbos-sdk',
};

/** A registered workflow: calling `start` with it starts a run. */
export interface Workflow<Args extends unknown[], R> {
  readonly name: string;
  readonly invoke: (...args: Args) => Promise<R>;
}

export interface Handle<R> {
  readonly workflowID: string;
  getResult(): Promise<R>;
}

export interface BenchClient {
  send<T>(destinationID: string, message: T, topic?: string): Promise<void>;
  /** Enqueues a run of the workflow registered as `workflowName` (a generated workflow ID), for `appVersion`'s executors if given. */
  enqueue(options: { workflowName: string; queueName: string; appVersion?: string }, ...args: unknown[]): Promise<Handle<unknown>>;
  /** With the client's default polling options (the official client polls events every 10 s). */
  getEvent<T>(workflowID: string, key: string, timeoutSeconds: number): Promise<T | null>;
  /** With the client's default polling options (the official client polls streams every 1 s, without LISTEN). */
  readStream<T>(workflowID: string, key: string): AsyncGenerator<T, void, unknown>;
  destroy(): Promise<void>;
}

export interface BenchSdk {
  readonly id: SdkId;
  readonly label: string;
  /** The system database this process uses (for clients). Contains credentials: never print it. */
  readonly systemDatabaseUrl: string;
  /** Only before `launch`. Names must be unique across scenarios (prefix them with the scenario id). */
  registerWorkflow<Args extends unknown[], R>(name: string, fn: (...args: Args) => Promise<R>): Workflow<Args, R>;
  /** Only before `launch`. Returns the function to call (from workflow code) instead of `fn`. */
  registerStep<Args extends unknown[], R>(name: string, fn: (...args: Args) => Promise<R>): (...args: Args) => Promise<R>;
  start<Args extends unknown[], R>(wf: Workflow<Args, R>, workflowID: string | undefined, ...args: Args): Promise<Handle<R>>;
  /** Only after `launch` (both SDKs register queues in the database then). */
  registerQueue(name: string, workerConcurrency?: number): Promise<void>;
  /** Starts a run on the queue `queueName` (a generated workflow ID). */
  enqueue<Args extends unknown[], R>(wf: Workflow<Args, R>, queueName: string, ...args: Args): Promise<Handle<R>>;
  send<T>(destinationID: string, message: T, topic?: string): Promise<void>;
  recv<T>(topic: string, timeoutSeconds: number): Promise<T | null>;
  setEvent<T>(key: string, value: T): Promise<void>;
  getEvent<T>(workflowID: string, key: string, timeoutSeconds: number): Promise<T | null>;
  /** From workflow code (exactly once, checkpointed). */
  writeStream<T>(key: string, value: T): Promise<void>;
  closeStream(key: string): Promise<void>;
  /** In-process reader with default options (outside a workflow here, so never checkpointed). */
  readStream<T>(workflowID: string, key: string): AsyncGenerator<T, void, unknown>;
  workflowID(): string | undefined;
  createClient(): Promise<BenchClient>;
  launch(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The part of a package's static `DBOS` class the bench uses. Both `DBOS` classes are passed as this type, so
 * the compiler checks that the two APIs really are the same.
 */
export interface DBOSStatics {
  launch(): Promise<void>;
  shutdown(): Promise<void>;
  readonly workflowID: string | undefined;
  registerWorkflow<This, Args extends unknown[], Return>(
    func: (this: This, ...args: Args) => Promise<Return>,
    config?: { name?: string },
  ): (this: This, ...args: Args) => Promise<Return>;
  registerStep<This, Args extends unknown[], Return>(
    func: (this: This, ...args: Args) => Promise<Return>,
    config?: { name?: string },
  ): (this: This, ...args: Args) => Promise<Return>;
  startWorkflow<Args extends unknown[], Return>(
    target: (...args: Args) => Promise<Return>,
    params?: { workflowID?: string; queueName?: string },
  ): (...args: Args) => Promise<Handle<Return>>;
  registerQueue(name: string, options?: { workerConcurrency?: number }): Promise<unknown>;
  send<T>(destinationID: string, message: T, topic?: string): Promise<void>;
  recv<T>(topic?: string, options?: number): Promise<T | null>;
  setEvent<T>(key: string, value: T): Promise<void>;
  getEvent<T>(workflowID: string, key: string, options?: number): Promise<T | null>;
  writeStream<T>(key: string, value: T): Promise<void>;
  closeStream(key: string): Promise<void>;
  readStream<T>(workflowID: string, key: string): AsyncGenerator<T, void, unknown>;
}

export interface ClientStatics {
  create(config: { systemDatabaseUrl: string }): Promise<BenchClient>;
}

/** Builds a BenchSdk from a package's `DBOS` class and `DBOSClient` class (configured by the caller). */
export function makeSdk(id: SdkId, systemDatabaseUrl: string, dbos: DBOSStatics, client: ClientStatics): BenchSdk {
  return {
    id,
    label: SDK_LABELS[id],
    systemDatabaseUrl,
    registerWorkflow<Args extends unknown[], R>(name: string, fn: (...args: Args) => Promise<R>): Workflow<Args, R> {
      return { name, invoke: dbos.registerWorkflow(fn, { name }) };
    },
    registerStep: (name, fn) => dbos.registerStep(fn, { name }),
    start<Args extends unknown[], R>(wf: Workflow<Args, R>, workflowID: string | undefined, ...args: Args): Promise<Handle<R>> {
      return dbos.startWorkflow(wf.invoke, workflowID === undefined ? undefined : { workflowID })(...args);
    },
    async registerQueue(name: string, workerConcurrency?: number): Promise<void> {
      await dbos.registerQueue(name, workerConcurrency === undefined ? {} : { workerConcurrency });
    },
    enqueue<Args extends unknown[], R>(wf: Workflow<Args, R>, queueName: string, ...args: Args): Promise<Handle<R>> {
      return dbos.startWorkflow(wf.invoke, { queueName })(...args);
    },
    send: (destinationID, message, topic) => dbos.send(destinationID, message, topic),
    recv: (topic, timeoutSeconds) => dbos.recv(topic, timeoutSeconds),
    setEvent: (key, value) => dbos.setEvent(key, value),
    getEvent: (workflowID, key, timeoutSeconds) => dbos.getEvent(workflowID, key, timeoutSeconds),
    writeStream: (key, value) => dbos.writeStream(key, value),
    closeStream: (key) => dbos.closeStream(key),
    readStream: (workflowID, key) => dbos.readStream(workflowID, key),
    workflowID: () => dbos.workflowID,
    createClient: () => client.create({ systemDatabaseUrl }),
    launch: () => dbos.launch(),
    shutdown: () => dbos.shutdown(),
  };
}
