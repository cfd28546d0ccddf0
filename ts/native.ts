// The only module that touches the napi addon: it loads the binary and turns every engine error into
// the matching DBOS error class. Types here mirror src/bindings and stay internal.
import * as path from 'node:path';
import { errorFromNative } from './error';

export interface EngineOptions {
  url: string;
  schema: string;
  poolSize: number;
  /** migrate: create and migrate (an app); verify: only check the version; lazy: connect on first use (a client). */
  schemaMode: 'migrate' | 'verify' | 'lazy';
  /** Start the LISTEN connection at once rather than at the first wait. */
  listen: boolean;
  appName: string;
  executorId: string;
  appVersion: string;
}

export interface NewWorkflow {
  workflowId: string;
  status: 'PENDING' | 'ENQUEUED';
  name: string;
  className?: string | null;
  configName?: string | null;
  queueName?: string | null;
  inputs: string;
  serialization?: string | null;
  token: string;
  timeoutMs?: number | null;
  deadlineEpochMs?: number | null;
  parentWorkflowId?: string | null;
  deduplicationId?: string | null;
  priority?: number | null;
}

export interface StartOutcome {
  shouldExecute: boolean;
  status: string;
  name: string;
  className?: string | null;
  configName?: string | null;
  queueName?: string | null;
  serialization?: string | null;
}

export interface NewCheckpoint {
  functionId: number;
  name: string;
  output?: string | null;
  error?: string | null;
  childWorkflowId?: string | null;
  startedAt: number;
  completedAt: number;
  serialization?: string | null;
}

export interface Checkpoint {
  functionId: number;
  name: string;
  output?: string | null;
  error?: string | null;
  childWorkflowId?: string | null;
  serialization?: string | null;
}

export interface WorkflowOutcome {
  status: string;
  output?: string | null;
  error?: string | null;
  serialization?: string | null;
}

export interface ClaimedWorkflow {
  workflowId: string;
  name: string;
  className?: string | null;
  configName?: string | null;
  recoveryAttempts: number;
  serialization?: string | null;
  inputs?: string | null;
  deadlineEpochMs?: number | null;
  token: string;
}

export interface WorkflowStatusRow {
  workflowId: string;
  status: string;
  name?: string | null;
  className?: string | null;
  configName?: string | null;
  authenticatedUser?: string | null;
  assumedRole?: string | null;
  authenticatedRoles?: string | null;
  output?: string | null;
  error?: string | null;
  inputs?: string | null;
  executorId?: string | null;
  applicationVersion?: string | null;
  applicationId?: string | null;
  applicationName?: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt?: number | null;
  startedAtEpochMs?: number | null;
  recoveryAttempts?: number | null;
  queueName?: string | null;
  workflowTimeoutMs?: number | null;
  workflowDeadlineEpochMs?: number | null;
  deduplicationId?: string | null;
  priority: number;
  queuePartitionKey?: string | null;
  forkedFrom?: string | null;
  parentWorkflowId?: string | null;
  serialization?: string | null;
  wasForkedFrom: boolean;
}

export interface OutgoingMessage {
  destinationId: string;
  topic: string;
  message: string;
  serialization?: string | null;
  messageUuid: string;
}

/** Workflow code: all four; a step: workflowId and token; elsewhere: nothing. */
export interface SendContext {
  workflowId?: string;
  token?: string;
  functionId?: number;
  startedAt?: number;
}

export interface StoredValue {
  value?: string | null;
  serialization?: string | null;
}

/** Values from offset `firstOffset` on (dense); `end`: more may follow, the stream ended, or the wait timed out. */
export interface StreamPage {
  firstOffset: number;
  values: string[];
  serializations: (string | null | undefined)[];
  end: 'more' | 'closed' | 'timeout';
}

interface NativeEngine {
  writeStream(workflowId: string, token: string, functionId: number, checkpointName: string | undefined, startedAt: number, key: string, value: string, serialization: string | undefined): Promise<void>;
  readStream(workflowId: string, key: string, offset: number, limit: number, deadlineEpochMs: number | undefined, pollMs: number, guardWorkflowId?: string, guardToken?: string): Promise<StreamPage>;
  send(message: OutgoingMessage, context: SendContext): Promise<void>;
  recv(
    workflowId: string,
    token: string,
    functionId: number,
    topic: string,
    deadlineEpochMs: number,
    recordDeadline: boolean,
    startedAt: number,
    pollMs: number,
  ): Promise<StoredValue>;
  setEvent(workflowId: string, token: string, functionId: number, key: string, value: string, serialization: string | undefined, startedAt: number): Promise<void>;
  getEvent(workflowId: string, key: string, deadlineEpochMs: number | undefined, pollMs: number, guardWorkflowId?: string, guardToken?: string): Promise<StoredValue | null>;
  wake(key: string): Promise<void>;
  startWorkflow(wf: NewWorkflow): Promise<StartOutcome>;
  holdStart(wf: NewWorkflow): Promise<StartOutcome>;
  releaseStart(workflowId: string): void;
  startChildWorkflow(parentId: string, parentToken: string, functionId: number, wf: NewWorkflow): Promise<StartOutcome>;
  recordCheckpoint(workflowId: string, token: string, cp: NewCheckpoint, conflictCheck: boolean): Promise<void>;
  recordBehind(
    workflowId: string,
    token: string,
    functionId: number,
    name: string,
    output: string | undefined,
    error: string | undefined,
    serialization: string | undefined,
    startedAt: number,
    completedAt: number,
  ): void;
  writeStreamBehind(
    workflowId: string,
    token: string,
    functionId: number,
    name: string,
    startedAt: number,
    key: string,
    value: string,
    serialization: string | undefined,
  ): void;
  settle(workflowId: string): Promise<void>;
  loadCheckpoints(workflowId: string): Promise<Checkpoint[]>;
  getCheckpoint(workflowId: string, functionId: number): Promise<Checkpoint | null>;
  completeWorkflow(workflowId: string, token: string, status: string, output?: string, error?: string): Promise<boolean>;
  settleAndComplete(
    workflowId: string,
    token: string,
    status: string,
    output?: string,
    error?: string,
  ): Promise<{ won: boolean; writeError?: string }>;
  getWorkflowStatus(workflowId: string): Promise<WorkflowStatusRow | null>;
  awaitOutcome(workflowId: string, pollMs: number, deadlineEpochMs?: number): Promise<WorkflowOutcome | null>;
  cancelWorkflows(ids: string[], children: boolean): Promise<string[]>;
  resumeWorkflows(ids: string[]): Promise<string[]>;
  cancelTimedOut(): Promise<string[]>;
  cancelledAmong(ids: string[]): Promise<string[]>;
  recoverPending(): Promise<ClaimedWorkflow[]>;
  claimQueued(queue: string, limit: number): Promise<ClaimedWorkflow[]>;
  deadLetter(workflowId: string, minAttempts: number): Promise<boolean>;
  registerAppVersion(): Promise<void>;
  close(): void;
}

interface NativeBinding {
  connect(options: EngineOptions): Promise<NativeEngine>;
}

function loadBinding(): NativeBinding {
  const file = path.join(__dirname, '..', 'dbos_native.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as NativeBinding;
  } catch (e) {
    throw new Error(
      `dbos-native: cannot load the native engine at ${file} (${(e as Error).message}). ` +
        'Build it with `npm run build` (needs a Rust toolchain).',
    );
  }
}

let binding: NativeBinding | undefined;

/** napi's Option<T> takes undefined, not null: drop null fields before crossing. */
function stripNulls<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null) out[k] = v;
  return out as T;
}

async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw errorFromNative(e);
  }
}

/** The engine, with native errors already mapped to DBOS error classes. */
export class Engine {
  private constructor(private readonly native: NativeEngine) {}

  static async connect(options: EngineOptions): Promise<Engine> {
    binding ??= loadBinding();
    return new Engine(await call(binding.connect(options)));
  }

  startWorkflow(wf: NewWorkflow) {
    return call(this.native.startWorkflow(stripNulls(wf)));
  }
  /** Holds a start back (the engine's held.rs): its workflow may run at once; resolves once its row committed. */
  holdStart(wf: NewWorkflow): Promise<StartOutcome> {
    try {
      return call(this.native.holdStart(stripNulls(wf)));
    } catch (e) {
      return Promise.reject(errorFromNative(e));
    }
  }
  /** Has a held start's row written now (nothing if it no longer is held). */
  releaseStart(workflowId: string): void {
    this.native.releaseStart(workflowId);
  }
  startChildWorkflow(parentId: string, parentToken: string, functionId: number, wf: NewWorkflow) {
    return call(this.native.startChildWorkflow(parentId, parentToken, functionId, stripNulls(wf)));
  }
  recordCheckpoint(workflowId: string, token: string, cp: NewCheckpoint, conflictCheck = true) {
    return call(this.native.recordCheckpoint(workflowId, token, stripNulls(cp), conflictCheck));
  }
  /** Queues a stream write of workflow code and returns at once; `settle` reports on it. */
  writeStreamBehind(workflowId: string, token: string, functionId: number, name: string, startedAt: number, key: string, value: string, serialization: string | undefined) {
    try {
      this.native.writeStreamBehind(workflowId, token, functionId, name, startedAt, key, value, serialization);
    } catch (e) {
      throw errorFromNative(e);
    }
  }
  /** Queues a checkpoint and returns at once (see Executor.recordBehind); `settle` reports on it. */
  recordBehind(workflowId: string, token: string, cp: Omit<NewCheckpoint, 'childWorkflowId'>) {
    try {
      this.native.recordBehind(
        workflowId,
        token,
        cp.functionId,
        cp.name,
        cp.output ?? undefined,
        cp.error ?? undefined,
        cp.serialization ?? undefined,
        cp.startedAt,
        cp.completedAt,
      );
    } catch (e) {
      throw errorFromNative(e);
    }
  }
  settle(workflowId: string) {
    return call(this.native.settle(workflowId));
  }
  loadCheckpoints(workflowId: string) {
    return call(this.native.loadCheckpoints(workflowId));
  }
  getCheckpoint(workflowId: string, functionId: number) {
    return call(this.native.getCheckpoint(workflowId, functionId));
  }
  completeWorkflow(workflowId: string, token: string, status: 'SUCCESS' | 'ERROR', output: string | null, error: string | null) {
    return call(this.native.completeWorkflow(workflowId, token, status, output ?? undefined, error ?? undefined));
  }
  /** completeWorkflow after the workflow's written-behind checkpoints; a failed one comes back as writeError. */
  async settleAndComplete(
    workflowId: string,
    token: string,
    status: 'SUCCESS' | 'ERROR',
    output: string | null,
    error: string | null,
  ): Promise<{ won: boolean; writeError?: Error }> {
    const r = await call(this.native.settleAndComplete(workflowId, token, status, output ?? undefined, error ?? undefined));
    return r.writeError === undefined || r.writeError === null
      ? { won: r.won }
      : { won: false, writeError: errorFromNative(new Error(r.writeError)) };
  }
  getWorkflowStatus(workflowId: string) {
    return call(this.native.getWorkflowStatus(workflowId));
  }
  awaitOutcome(workflowId: string, pollMs: number, deadlineEpochMs: number | null) {
    return call(this.native.awaitOutcome(workflowId, Math.max(1, Math.round(pollMs)), deadlineEpochMs ?? undefined));
  }
  cancelWorkflows(ids: string[], children: boolean) {
    return call(this.native.cancelWorkflows(ids, children));
  }
  resumeWorkflows(ids: string[]) {
    return call(this.native.resumeWorkflows(ids));
  }
  cancelTimedOut() {
    return call(this.native.cancelTimedOut());
  }
  cancelledAmong(ids: string[]) {
    return call(this.native.cancelledAmong(ids));
  }
  recoverPending() {
    return call(this.native.recoverPending());
  }
  claimQueued(queue: string, limit: number) {
    return call(this.native.claimQueued(queue, limit));
  }
  deadLetter(workflowId: string, minAttempts: number) {
    return call(this.native.deadLetter(workflowId, minAttempts));
  }
  send(message: OutgoingMessage, context: SendContext) {
    return call(this.native.send(stripNulls(message), context));
  }
  /** With `recordDeadline`, the first try records the deadline (DBOS.sleep at functionId + 1) in its own statement. */
  recv(workflowId: string, token: string, functionId: number, topic: string, deadlineEpochMs: number, recordDeadline: boolean, startedAt: number, pollMs: number) {
    return call(
      this.native.recv(workflowId, token, functionId, topic, Math.round(deadlineEpochMs), recordDeadline, startedAt, Math.max(1, Math.round(pollMs))),
    );
  }
  setEvent(workflowId: string, token: string, functionId: number, key: string, value: string, serialization: string | null, startedAt: number) {
    return call(this.native.setEvent(workflowId, token, functionId, key, value, serialization ?? undefined, startedAt));
  }
  /** Waits for an event; `guard` (a waiting workflow) stops the wait if that execution loses ownership. */
  getEvent(workflowId: string, key: string, deadlineEpochMs: number, pollMs: number, guard?: { workflowId: string; token: string }) {
    return call(
      this.native.getEvent(workflowId, key, Math.round(deadlineEpochMs), Math.max(1, Math.round(pollMs)), guard?.workflowId, guard?.token),
    );
  }
  /** Appends to a stream: with `checkpointName` from workflow code, else from the step `functionId`. */
  writeStream(workflowId: string, token: string, functionId: number, checkpointName: string | null, startedAt: number, key: string, value: string, serialization: string | null) {
    return call(this.native.writeStream(workflowId, token, functionId, checkpointName ?? undefined, startedAt, key, value, serialization ?? undefined));
  }
  /** A page of a stream from `offset`, waiting for one value, the end, or the deadline. */
  readStream(workflowId: string, key: string, offset: number, limit: number, deadlineEpochMs: number | undefined, pollMs: number, guard?: { workflowId: string; token: string }) {
    return call(
      this.native.readStream(
        workflowId,
        key,
        offset,
        limit,
        deadlineEpochMs === undefined ? undefined : Math.round(deadlineEpochMs),
        Math.max(1, Math.round(pollMs)),
        guard?.workflowId,
        guard?.token,
      ),
    ) as Promise<StreamPage>;
  }
  wake(key: string) {
    return call(this.native.wake(key));
  }
  registerAppVersion() {
    return call(this.native.registerAppVersion());
  }
  close() {
    this.native.close();
  }
}
