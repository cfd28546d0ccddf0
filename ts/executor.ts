// The runtime between the DBOS API and the engine: starting, running and finishing workflows, steps
// with retries, durable sleep, replay of recorded checkpoints, and recovery of claimed workflows.
import { randomUUID } from 'node:crypto';
import {
  contextStorage,
  currentContext,
  takeFunctionID,
  workflowCode,
  type DBOSContext,
  type WorkflowState,
} from './context';
import {
  DBOSAwaitedWorkflowCancelledError,
  DBOSAwaitedWorkflowExceededMaxRecoveryAttempts,
  DBOSConflictingWorkflowError,
  DBOSError,
  DBOSExecutorNotInitializedError,
  DBOSInvalidWorkflowInputError,
  DBOSInvalidWorkflowTransitionError,
  DBOSMaxRecoveryAttemptsExceededError,
  DBOSMaxStepRetriesError,
  DBOSNonExistentWorkflowError,
  DBOSStepTimeoutError,
  DBOSUnexpectedStepError,
  DBOSWorkflowCancelledError,
  DBOSWorkflowConflictError,
} from './error';
import { describe, requireString } from './messages';
import type { Checkpoint, ClaimedWorkflow, Engine, NewWorkflow, WorkflowOutcome, WorkflowStatusRow } from './native';
import { configNameOf, findInstance, findWorkflow, type StepConfig, type WorkflowRegistration } from './registry';
import {
  appSerializationName as appSerialization,
  deserializeArgsMaybe,
  deserializeErrorMaybe,
  deserializeValueMaybe,
  isPromiseLike,
  PORTABLE_JSON,
  registerSerializationRecipe,
  replayCheckpoint,
  roundTripWithTextMaybe,
  serializeArgsMaybe,
  serializeErrorMaybe,
  serializeValueMaybe,
  throwRevived,
  withFallback,
  type MaybePromise,
  type SerializerOptions,
} from './serialization';

export const INTERNAL_QUEUE = '_dbos_internal_queue';
const DEFAULT_MAX_RECOVERY_ATTEMPTS = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface StartWorkflowParams {
  workflowID?: string;
  queueName?: string;
  timeoutMS?: number | null;
  enqueueOptions?: EnqueueOptions;
}

/** Options of a workflow enqueued onto a queue (`StartWorkflowParams.enqueueOptions`). */
export interface EnqueueOptions {
  deduplicationID?: string;
  priority?: number;
  queuePartitionKey?: string;
  applicationVersion?: string;
  delaySeconds?: number;
  applicationName?: string;
}

/** The options only a queue reads; applicationVersion is not one (it also selects who recovers a workflow). */
const ENQUEUE_ONLY_OPTIONS = ['deduplicationID', 'priority', 'queuePartitionKey', 'delaySeconds', 'applicationName'] as const;

export interface WorkflowHandle<R> {
  /** Retrieve the workflow's status. */
  getStatus(): Promise<WorkflowStatus | null>;
  /** Await workflow completion and return its result. */
  getResult(options?: PollingOptions): Promise<R>;
  /** The workflow's ID */
  get workflowID(): string;
}

export interface PollingOptions {
  /** How often to poll the database while waiting (ms). */
  pollingIntervalMs?: number;
}

export interface WorkflowStatus {
  readonly workflowID: string;
  readonly status: string;
  readonly workflowName: string;
  readonly workflowClassName: string;
  readonly workflowConfigName?: string;
  readonly queueName?: string;
  readonly authenticatedUser?: string;
  readonly assumedRole?: string;
  readonly authenticatedRoles?: string[];
  readonly input?: unknown[];
  readonly output?: unknown;
  readonly error?: unknown;
  readonly executorId?: string;
  readonly applicationVersion?: string;
  readonly applicationName?: string;
  readonly createdAt: number;
  readonly updatedAt?: number;
  readonly timeoutMS?: number;
  readonly deadlineEpochMS?: number;
  readonly deduplicationID?: string;
  readonly priority: number;
  readonly queuePartitionKey?: string;
  readonly dequeuedAt?: number;
  readonly delayUntilEpochMS?: number;
  readonly completedAt?: number;
  readonly forkedFrom?: string;
  readonly wasForkedFrom?: boolean;
  readonly parentWorkflowID?: string;
  readonly attributes?: Record<string, unknown>;
  readonly scheduleName?: string;
  readonly recoveryAttempts?: number;
}

type CheckpointResult = {
  output?: string | null;
  error?: string | null;
  serialization?: string | null;
  childWorkflowId?: string;
};

export interface ExecutorOptions {
  engine: Engine;
  appName: string;
  executorID: string;
  appVersion: string;
}

/** Sleeps in chunks a Node timer accepts; a workflow's cancellation interrupts it. */
export async function timerSleep(ms: number, cancel?: { signal: AbortSignal; workflowID: string }): Promise<void> {
  let left = ms;
  while (left > 0) {
    const chunk = Math.min(left, MAX_TIMER_MS);
    await new Promise<void>((resolve, reject) => {
      const signal = cancel?.signal;
      if (signal?.aborted) return reject(new DBOSWorkflowCancelledError(cancel?.workflowID ?? ''));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new DBOSWorkflowCancelledError(cancel?.workflowID ?? ''));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, chunk);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    left -= chunk;
  }
}

export function checkSleepDuration(ms: unknown): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new DBOSError(`Invalid sleep duration ${describe(ms)}: it must be a finite number of milliseconds`);
  }
}

function nonEmpty(s: string | null | undefined): string | undefined {
  return s ? s : undefined;
}

function formatFor(reg: WorkflowRegistration): string {
  if (reg.config.serialization === 'portable') return PORTABLE_JSON;
  if (reg.config.serialization === 'native') return 'js_superjson';
  return appSerialization();
}

/** A workflow executing in this process; `recorded.outcome` is set once its completion is written. */
interface RunningWorkflow {
  state: WorkflowState;
  promise: Promise<unknown>;
  recorded: { outcome?: WorkflowOutcome };
}

/** The launched executor, for handles read back from storage (they carry only a workflow ID). */
let activeExecutor: Executor | undefined;

/**
 * Waits for `ended` (true), or for the deadline to pass (false); the caller's cancellation rejects
 * the wait with its `DBOSWorkflowCancelledError`.
 */
function untilDeadline(ended: Promise<boolean>, deadlineEpochMS: number | null, caller: WorkflowState | undefined): Promise<boolean> {
  const signal = caller?.cancel.signal;
  if (deadlineEpochMS === null && !signal) return ended;
  return new Promise<boolean>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(new DBOSWorkflowCancelledError(caller?.workflowID ?? '')));
    // A Node timer fires at once past 2^31-1 ms: re-arm until the deadline.
    const arm = () => {
      if (deadlineEpochMS === null) return;
      const left = deadlineEpochMS - Date.now();
      if (left <= 0) return finish(() => resolve(false));
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    arm();
    void ended.then(() => finish(() => resolve(true)));
  });
}

/** Step checkpoints a workflow may have in flight before its next step waits for them. */
const MAX_WRITES_BEHIND = 64;

/** How many queued workflows one poll of the internal queue claims. */
const CLAIM_BATCH = 1000;

export class Executor {
  readonly engine: Engine;
  readonly appName: string;
  readonly executorID: string;
  readonly appVersion: string;
  /** Workflows executing in this process, by ID: awaiters wait for these instead of polling. */
  private readonly running = new Map<string, RunningWorkflow>();
  private dispatchTimer: NodeJS.Timeout | undefined;
  private dispatching: Promise<void> | undefined;
  private closed = false;

  constructor(opts: ExecutorOptions) {
    this.engine = opts.engine;
    this.appName = opts.appName;
    this.executorID = opts.executorID;
    this.appVersion = opts.appVersion;
    activeExecutor = this;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Claims this executor's PENDING workflows and runs them (claimed in one statement, so no other
   * process can take them), then polls the internal queue for resumed and enqueued work.
   */
  async startRecovery(): Promise<void> {
    const recovered = await this.engine.recoverPending();
    await Promise.all(recovered.map((c) => this.dispatch(c)));
    await this.dispatchQueued();
    this.dispatchTimer = setInterval(() => this.tick(), 1000);
    this.dispatchTimer.unref();
  }

  /**
   * Once a second: run what was queued for us (resumed workflows), cancel workflows past their deadline,
   * and stop local executions that someone cancelled.
   */
  private tick(): void {
    if (this.dispatching || this.closed) return;
    this.dispatching = (async () => {
      await this.dispatchQueued();
      this.abortLocal(await this.engine.cancelTimedOut());
      if (this.running.size > 0) this.abortLocal(await this.engine.cancelledAmong([...this.running.keys()]));
    })()
      .catch(() => undefined)
      .finally(() => {
        this.dispatching = undefined;
      });
  }

  private abortLocal(ids: string[]): void {
    for (const id of ids) this.running.get(id)?.state.cancel.abort();
  }

  async cancel(workflowIDs: string[], children: boolean): Promise<void> {
    this.abortLocal(await this.engine.cancelWorkflows(workflowIDs, children));
  }

  /** Re-enqueues unfinished workflows (finished ones are left alone); unknown IDs are an error. */
  async resume(workflowIDs: string[]): Promise<void> {
    for (const id of workflowIDs) {
      if (!(await this.engine.getWorkflowStatus(id))) throw new DBOSNonExistentWorkflowError(`Workflow ${id} does not exist`);
    }
    await this.engine.resumeWorkflows(workflowIDs);
    // Run them now rather than at the next tick.
    await this.dispatchQueued();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.dispatchTimer) clearInterval(this.dispatchTimer);
    this.dispatchTimer = undefined;
    await this.dispatching;
    for (const { state } of this.running.values()) state.cancel.abort();
    this.engine.close();
    if (activeExecutor === this) activeExecutor = undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- starting workflows

  /**
   * Starts a workflow (or finds the run an earlier start of the same ID made). Inside workflow code it
   * is a child start: one function ID, recorded with the parent's checkpoints.
   */
  async startWorkflow(
    reg: WorkflowRegistration,
    thisArg: unknown,
    args: unknown[],
    params: StartWorkflowParams = {},
    reservedFunctionID?: number,
  ): Promise<InternalHandle<unknown>> {
    const ctx = currentContext();
    if (ctx?.step) {
      throw new DBOSInvalidWorkflowTransitionError('Invalid call to start a workflow from inside a `step`');
    }
    const parent = ctx?.workflow;
    const functionID = parent ? (reservedFunctionID ?? takeFunctionID(parent)) : undefined;
    let workflowID = params.workflowID;
    if (workflowID === undefined && ctx?.nextWorkflowID?.id !== undefined) {
      workflowID = ctx.nextWorkflowID.id;
      ctx.nextWorkflowID.id = undefined;
    }
    if (workflowID !== undefined) requireString('workflow ID', workflowID);
    if (params.queueName !== undefined) {
      throw new DBOSError('Queues are not supported yet by dbos-native (StartWorkflowParams.queueName)');
    }
    // Refused rather than ignored, as DBOS does: the caller meant to enqueue.
    const setOptions = ENQUEUE_ONLY_OPTIONS.filter((name) => params.enqueueOptions?.[name] !== undefined);
    if (setOptions.length > 0) {
      throw new DBOSError(
        `Enqueue option(s) ${setOptions.join(', ')} set on a workflow that is not being enqueued. ` +
          'These options are only supported when enqueueing a workflow onto a queue.',
      );
    }
    // A generated ID can't meet an earlier run, so the workflow may start before its row is written.
    const holdStart = workflowID === undefined && !parent;
    workflowID ??= parent ? `${parent.workflowID}-${functionID}` : randomUUID();

    const format = formatFor(reg);
    let inputs: string;
    try {
      // An argument that is a function or symbol is refused; functions nested in arguments are dropped.
      const text = serializeArgsMaybe(args, format);
      // Awaited only for an asynchronous serializer: the default one adds no hop here.
      inputs = typeof text === 'string' ? text : await text;
    } catch (e) {
      throw new DBOSInvalidWorkflowInputError(reg.name, e);
    }
    // The body gets the stored form of its arguments, exactly as it would after recovery.
    const parsed = deserializeArgsMaybe(inputs, format);
    let runArgs = isPromiseLike(parsed) ? await parsed : parsed;
    if (reg.config.inputSchema) runArgs = reg.config.inputSchema.parse(runArgs) as unknown[];

    if (parent && functionID !== undefined) {
      const recorded = parent.recorded?.get(functionID);
      if (recorded) {
        if (recorded.name !== reg.name) {
          throw new DBOSUnexpectedStepError(parent.workflowID, functionID, reg.name, recorded.name);
        }
        if (recorded.error) return throwRevived(deserializeErrorMaybe(recorded.error, recorded.serialization ?? null));
        return this.handleFor(recorded.childWorkflowId ?? workflowID);
      }
    }

    const timeoutMS = params.timeoutMS !== undefined ? params.timeoutMS : ctx?.workflowTimeoutMS;
    if (timeoutMS !== undefined && timeoutMS !== null && !(Number.isFinite(timeoutMS) && timeoutMS > 0)) {
      throw new DBOSError(`Invalid workflow timeout ${timeoutMS}: it must be a positive number of milliseconds`);
    }
    let deadline: number | undefined;
    if (typeof timeoutMS === 'number') deadline = Date.now() + timeoutMS;
    else if (timeoutMS === undefined && parent?.deadlineEpochMS !== undefined) deadline = parent.deadlineEpochMS;

    const token = randomUUID();
    const configName = configNameOf(thisArg) ?? null;
    const row = {
      workflowId: workflowID,
      status: 'PENDING' as const,
      name: reg.name,
      className: reg.className || null,
      configName,
      queueName: null,
      inputs,
      serialization: format,
      token,
      timeoutMs: typeof timeoutMS === 'number' ? Math.round(timeoutMS) : null,
      deadlineEpochMs: deadline ?? null,
      parentWorkflowId: parent?.workflowID ?? null,
    };
    if (holdStart) return this.startHeld(reg, thisArg, runArgs, row, format, deadline);
    if (parent) await this.settled(parent);
    const outcome =
      parent && functionID !== undefined
        ? await this.engine.startChildWorkflow(parent.workflowID, parent.token, functionID, row)
        : await this.engine.startWorkflow(row);

    if (outcome.name !== reg.name || (outcome.className ?? '') !== reg.className) {
      throw new DBOSConflictingWorkflowError(
        workflowID,
        `Workflow already exists with a different function name: ${outcome.className ? outcome.className + '.' : ''}${outcome.name}, but the provided function name is: ${reg.className ? reg.className + '.' : ''}${reg.name}`,
      );
    }
    if ((outcome.configName ?? '') !== (configName ?? '')) {
      throw new DBOSConflictingWorkflowError(
        workflowID,
        `Workflow already exists with a different class configuration: ${outcome.configName ?? ''}, but the provided class configuration is: ${configName ?? ''}`,
      );
    }
    if (!outcome.shouldExecute) return this.handleFor(workflowID);

    const state = freshState(reg, row, format, deadline);
    const promise = this.execute(reg, thisArg ?? reg.defaultThis, runArgs, state);
    return new InvokedHandle(this, workflowID, promise);
  }

  /**
   * Runs a workflow whose start the engine holds back: its row is written at its first durable
   * operation, when this turn of the event loop ends with it still running, or with its outcome if it
   * finishes first (one write for the whole workflow). Returns once the row has committed.
   */
  private async startHeld(
    reg: WorkflowRegistration,
    thisArg: unknown,
    args: unknown[],
    row: NewWorkflow,
    serialization: string,
    deadline: number | undefined,
  ): Promise<InternalHandle<unknown>> {
    const written = this.engine.holdStart(row);
    const state = { ...freshState(reg, row, serialization, deadline), startHeld: true };
    const promise = this.execute(reg, thisArg ?? reg.defaultThis, args, state);
    setImmediate(() => {
      if (state.startHeld) this.engine.releaseStart(row.workflowId);
    });
    try {
      await written;
    } finally {
      state.startHeld = false;
    }
    return new InvokedHandle(this, row.workflowId, promise);
  }

  /**
   * A handle to a workflow this call does not run, as the SDK's RetrievedHandle: its result is the
   * recorded outcome (awaitResult still learns from a local run when it ends).
   */
  handleFor(workflowID: string): InternalHandle<unknown> {
    return new RetrievedHandle(this, workflowID);
  }

  /** Runs the body under its context and records the outcome. Resolves/rejects like the body. */
  private execute(reg: WorkflowRegistration, thisArg: unknown, args: unknown[], state: WorkflowState): Promise<unknown> {
    const recorded: { outcome?: WorkflowOutcome } = {};
    const run = async (): Promise<unknown> => {
      let ok = false;
      let result: unknown;
      let error: unknown;
      try {
        result = await contextStorage.run({ workflow: state }, () => reg.fn.apply(thisArg, args));
        ok = true;
      } catch (e) {
        // As in the SDK: a workflow failing on another workflow's cancellation failed on awaiting it.
        error = e instanceof DBOSWorkflowCancelledError && e.workflowID !== state.workflowID ? new DBOSAwaitedWorkflowCancelledError(e.workflowID) : e;
      }
      for (;;) {
        if (error instanceof DBOSWorkflowConflictError || state.writeError?.error instanceof DBOSWorkflowConflictError) {
          return this.adoptOutcome(state.workflowID);
        }
        let output: string | null = null;
        let errorText: string | null = null;
        let value: unknown;
        if (ok) {
          try {
            // The caller gets the recorded form (what a replay returns), parsed from the stored text.
            const trip = roundTripWithTextMaybe(result, state.serialization, {
              what: `the return value of workflow ${reg.name}`,
              path: [reg.name, '<result>'],
            });
            ({ stringified: output, deserialized: value } = isPromiseLike(trip) ? await trip : trip);
          } catch (e) {
            ok = false;
            error = e;
          }
        }
        if (!ok) {
          const text = serializeErrorMaybe(error, state.serialization);
          errorText = typeof text === 'string' ? text : await text;
        }
        // One call: the engine first waits for the checkpoints written behind the workflow (or writes
        // a still-held start with the outcome: the completion takes it over from the release below).
        state.startHeld = false;
        const done = await this.engine.settleAndComplete(state.workflowID, state.token, ok ? 'SUCCESS' : 'ERROR', output, errorText);
        if (done.writeError !== undefined) {
          // A checkpoint that did not commit decides the outcome, as it would have at its step.
          state.writeError ??= { error: done.writeError };
          ok = false;
          error = done.writeError;
          continue;
        }
        if (!done.won) return this.adoptOutcome(state.workflowID);
        recorded.outcome = { status: ok ? 'SUCCESS' : 'ERROR', output, error: errorText, serialization: state.serialization };
        if (!ok) {
          // The SDK throws the error object itself, except for portable workflows: their recorded form.
          throw state.serialization === PORTABLE_JSON ? await deserializeErrorMaybe(errorText, PORTABLE_JSON) : error;
        }
        return value;
      }
    };
    const promise = run();
    const entry: RunningWorkflow = { state, promise, recorded };
    this.running.set(state.workflowID, entry);
    // Nobody may ever await a started workflow: keep its rejection from becoming an unhandled one.
    promise
      .catch(() => undefined)
      .finally(() => {
        if (this.running.get(state.workflowID) === entry) this.running.delete(state.workflowID);
      });
    return promise;
  }

  /** This run lost ownership or finished late: report what the database says happened. */
  private async adoptOutcome(workflowID: string): Promise<unknown> {
    const row = await this.engine.getWorkflowStatus(workflowID);
    if (!row) throw new DBOSNonExistentWorkflowError(`Workflow ${workflowID} does not exist`);
    if (row.status === 'CANCELLED') throw new DBOSWorkflowCancelledError(workflowID);
    if (row.status === 'MAX_RECOVERY_ATTEMPTS_EXCEEDED') throw new DBOSMaxRecoveryAttemptsExceededError(workflowID);
    const outcome = await this.engine.awaitOutcome(workflowID, 1000, null);
    return outcomeValue(workflowID, outcome);
  }

  // ---------------------------------------------------------------- recovery

  /** Claims queued rows of the internal queue (recovered or resumed workflows) and runs them. */
  async dispatchQueued(): Promise<void> {
    if (this.closed) return;
    const claimed = await this.engine.claimQueued(INTERNAL_QUEUE, CLAIM_BATCH);
    await Promise.all(claimed.map((c) => this.dispatch(c)));
  }

  private async dispatch(c: ClaimedWorkflow): Promise<void> {
    const local = this.running.get(c.workflowId);
    if (local && !local.state.cancel.signal.aborted) {
      // Still running here (resumed while in flight): the claim made a new owner; keep running as it.
      local.state.token = c.token;
      return;
    }
    // A run cancelled here but not yet stopped is fenced out by the claim's new owner: a fresh run
    // (replaying what the old one recorded) replaces it, and the old one adopts its outcome.
    const reg = findWorkflow(c.className, c.name);
    if (!reg) {
      process.emitWarning(
        `dbos-native: cannot recover workflow ${c.workflowId}: no workflow named ${c.className ? c.className + '.' : ''}${c.name} is registered`,
      );
      return;
    }
    // A workflow of a configured instance runs on the instance of that name, as it did before the crash.
    const thisArg = c.configName ? findInstance(c.className, c.configName) : reg.defaultThis;
    if (thisArg === undefined && c.configName) {
      process.emitWarning(
        `dbos-native: cannot recover workflow ${c.workflowId}: configured class instance '${c.className ?? ''}/${c.configName}' is not registered; did you change your code?`,
      );
      return;
    }
    const max = reg.config.maxRecoveryAttempts || DEFAULT_MAX_RECOVERY_ATTEMPTS;
    if (c.recoveryAttempts > max + 1) {
      await this.engine.deadLetter(c.workflowId, max + 1);
      return;
    }
    const serialization = c.serialization ?? appSerialization();
    let args: unknown[];
    try {
      if (c.inputs === null || c.inputs === undefined) throw new DBOSError(`Workflow ${c.workflowId} has no stored inputs`);
      const parsed = deserializeArgsMaybe(c.inputs, serialization);
      args = isPromiseLike(parsed) ? await parsed : parsed;
      if (reg.config.inputSchema) args = reg.config.inputSchema.parse(args) as unknown[];
    } catch (e) {
      await this.engine.completeWorkflow(c.workflowId, c.token, 'ERROR', null, await serializeErrorMaybe(e, serialization));
      return;
    }
    const checkpoints = await this.engine.loadCheckpoints(c.workflowId);
    const state: WorkflowState = {
      workflowID: c.workflowId,
      workflowName: reg.name,
      token: c.token,
      nextFunctionID: 0,
      recorded: new Map(checkpoints.map((cp) => [cp.functionId, cp])),
      serialization,
      deadlineEpochMS: c.deadlineEpochMs ?? undefined,
      cancel: new AbortController(),
    };
    this.execute(reg, thisArg, args, state);
  }

  // ---------------------------------------------------------------- checkpoints

  /** A recorded checkpoint at `functionID`, checked against the name the code now expects. */
  recorded(wf: WorkflowState, functionID: number, expectedName: string): Checkpoint | undefined {
    const cp = wf.recorded?.get(functionID);
    if (cp && cp.name !== expectedName) {
      throw new DBOSUnexpectedStepError(wf.workflowID, functionID, expectedName, cp.name);
    }
    return cp;
  }

  /** Records a checkpoint after the workflow's checkpoints in flight, and waits for its commit. */
  async record(
    wf: WorkflowState,
    functionID: number,
    name: string,
    startedAt: number,
    result: CheckpointResult,
    conflictCheck = true,
    completedAt = Date.now(),
  ): Promise<void> {
    await this.settled(wf);
    await this.engine.recordCheckpoint(
      wf.workflowID,
      wf.token,
      {
        functionId: functionID,
        name,
        output: result.output ?? null,
        error: result.error ?? null,
        childWorkflowId: result.childWorkflowId ?? null,
        serialization: result.serialization ?? null,
        startedAt,
        completedAt,
      },
      conflictCheck,
    );
  }

  /**
   * Hands a step's checkpoint to the engine without waiting for its commit, so the workflow's next
   * step runs while it commits. The engine commits one workflow's checkpoints in the order given, so a
   * crash leaves a prefix of them, and every other durable operation of the workflow (messages,
   * events, streams, children, sleeps, its completion) waits for them first (`settled`): nothing the
   * world can see ever depends on a step whose checkpoint did not commit. A step may thus start before
   * the previous one's checkpoint committed; steps are at-least-once either way.
   */
  recordBehind(wf: WorkflowState, functionID: number, name: string, startedAt: number, result: CheckpointResult): void {
    this.engine.recordBehind(wf.workflowID, wf.token, {
      functionId: functionID,
      name,
      output: result.output ?? null,
      error: result.error ?? null,
      serialization: result.serialization ?? null,
      startedAt,
      completedAt: Date.now(),
    });
    wf.writesBehind = (wf.writesBehind ?? 0) + 1;
  }

  /**
   * A stream write of workflow code, handed over like a step's checkpoint (its value and its
   * checkpoint commit together, after the workflow's earlier writes): readers see it once committed,
   * and everything the workflow does that the world can see waits for it first.
   */
  async writeStreamBehind(wf: WorkflowState, functionID: number, name: string, key: string, value: string, serialization: string): Promise<void> {
    await this.boundRunAhead(wf);
    this.engine.writeStreamBehind(wf.workflowID, wf.token, functionID, name, Date.now(), key, value, serialization);
    wf.writesBehind = (wf.writesBehind ?? 0) + 1;
    wf.streamWritesBehind = true;
  }

  /** Waits for the workflow's checkpoints in flight; throws the first failure among them. */
  async settled(wf: WorkflowState): Promise<void> {
    if (wf.writesBehind || wf.startHeld) {
      wf.writesBehind = 0;
      wf.streamWritesBehind = false;
      wf.startHeld = false;
      try {
        await this.engine.settle(wf.workflowID);
      } catch (error) {
        wf.writeError ??= { error };
      }
    }
    this.throwIfWriteFailed(wf);
  }

  private throwIfWriteFailed(wf: WorkflowState): void {
    if (wf.writeError) throw wf.writeError.error;
  }

  /**
   * A step stops on a failed checkpoint before it. Run-ahead is bounded: with the database slow or
   * away, a workflow waits for its checkpoints rather than running (and after a crash re-running) an
   * unbounded number of steps past them. A step also waits for the workflow's stream writes, so that
   * whoever its effects reach (a webhook, a message) can read what the workflow wrote before it.
   */
  private async beforeStep(wf: WorkflowState): Promise<void> {
    if (wf.streamWritesBehind || wf.startHeld) await this.settled(wf);
    else await this.boundRunAhead(wf);
  }

  private async boundRunAhead(wf: WorkflowState): Promise<void> {
    if ((wf.writesBehind ?? 0) >= MAX_WRITES_BEHIND) await this.settled(wf);
    else this.throwIfWriteFailed(wf);
  }

  /**
   * Runs a wait of workflow code (recv, getEvent) so that cancelling the workflow interrupts it: the
   * abort wakes the engine's waiter, which then finds the execution no longer owns its row.
   */
  async whileWaiting<T>(wf: WorkflowState, key: string, wait: () => Promise<T>): Promise<T> {
    const onAbort = () => void this.engine.wake(key).catch(() => undefined);
    wf.cancel.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (wf.cancel.signal.aborted) throw new DBOSWorkflowCancelledError(wf.workflowID);
      return await wait();
    } finally {
      wf.cancel.signal.removeEventListener('abort', onAbort);
    }
  }

  // ---------------------------------------------------------------- steps

  /**
   * Runs a step: in workflow code it is checkpointed (and replayed from its checkpoint); in a step or
   * outside a workflow it is a plain call.
   */
  async runStep<R>(fn: () => Promise<R>, name: string, config: StepConfig): Promise<R> {
    const wf = workflowCode();
    if (!wf) return fn();
    const functionID = takeFunctionID(wf);
    const startedAt = Date.now();
    const cp = this.recorded(wf, functionID, name);
    if (cp) return replayCheckpoint(cp) as MaybePromise<R>;
    await this.beforeStep(wf);
    const format = appSerialization();
    let value: R;
    try {
      value = await this.attempts(wf, functionID, name, fn, config);
    } catch (e) {
      this.recordBehind(wf, functionID, name, startedAt, { error: await serializeErrorMaybe(e, format), serialization: format });
      throw e;
    }
    let stored: { stringified: string; deserialized: R };
    try {
      const trip = roundTripWithTextMaybe(value, format, { what: `the return value of step ${name}`, path: [name, '<result>'] });
      stored = isPromiseLike(trip) ? await trip : trip;
    } catch (e) {
      this.recordBehind(wf, functionID, name, startedAt, { error: await serializeErrorMaybe(e, format), serialization: format });
      throw e;
    }
    this.recordBehind(wf, functionID, name, startedAt, { output: stored.stringified, serialization: format });
    // The caller sees what a replay would return (with throwing stubs for methods lost, as in the SDK).
    return stored.deserialized;
  }

  private async attempts<R>(
    wf: WorkflowState,
    stepID: number,
    name: string,
    fn: () => Promise<R>,
    config: StepConfig,
  ): Promise<R> {
    const retries = config.retriesAllowed === true;
    const maxAttempts = retries ? (config.maxAttempts ?? 3) : 1;
    let interval = (config.intervalSeconds ?? 1) * 1000;
    const backoff = config.backoffRate ?? 2;
    const errors: Error[] = [];
    const ctx = currentContext() ?? {};
    for (let attempt = 1; ; attempt++) {
      if (wf.cancel.signal.aborted) throw new DBOSWorkflowCancelledError(wf.workflowID);
      const timeoutCtl = config.timeoutMS !== undefined ? new AbortController() : undefined;
      const frame: DBOSContext = {
        ...ctx,
        step: {
          stepID,
          name,
          status: {
            stepID,
            currentAttempt: retries ? attempt : undefined,
            maxAttempts: retries ? maxAttempts : undefined,
            timeoutSignal: timeoutCtl?.signal,
            cancelSignal: wf.cancel.signal,
          },
        },
      };
      try {
        const run = contextStorage.run(frame, fn);
        return timeoutCtl ? await withTimeout(run, config.timeoutMS ?? 0, timeoutCtl, name) : await run;
      } catch (e) {
        if (!retries) throw e;
        errors.push(e instanceof Error ? e : new Error(String(e)));
        if (config.shouldRetry && !(await config.shouldRetry(e))) throw e;
        if (attempt >= maxAttempts) throw new DBOSMaxStepRetriesError(name, maxAttempts, errors);
        await timerSleep(interval, { signal: wf.cancel.signal, workflowID: wf.workflowID });
        interval = Math.min(interval * backoff, 3600 * 1000);
      }
    }
  }

  // ---------------------------------------------------------------- durable sleep and friends

  async sleepms(ms: number): Promise<void> {
    checkSleepDuration(ms);
    const wf = workflowCode();
    if (!wf) return timerSleep(ms);
    const functionID = takeFunctionID(wf);
    const end = await this.durableDeadline(wf, functionID, ms, true);
    if (end !== undefined) await timerSleep(end - Date.now(), { signal: wf.cancel.signal, workflowID: wf.workflowID });
  }

  /** A deadline an earlier run recorded at `functionID` (as DBOS.sleep), if there is one. */
  recordedDeadline(wf: WorkflowState, functionID: number): number | undefined {
    const cp = this.recorded(wf, functionID, 'DBOS.sleep');
    return cp ? Number(JSON.parse(cp.output ?? 'null')) : undefined;
  }

  /**
   * The recorded end of a durable wait at `functionID`, recording `now + ms` if there is none. Returns
   * undefined (and records nothing) for a non-positive duration, as the SDK does.
   */
  async durableDeadline(wf: WorkflowState, functionID: number, ms: number, isSleep: boolean): Promise<number | undefined> {
    const recorded = this.recordedDeadline(wf, functionID);
    if (recorded !== undefined) return recorded;
    if (ms <= 0) return undefined;
    const now = Date.now();
    const end = now + Math.ceil(ms);
    await this.record(
      wf,
      functionID,
      'DBOS.sleep',
      now,
      { output: JSON.stringify(end), serialization: PORTABLE_JSON },
      false,
      isSleep ? end : now,
    );
    return end;
  }

  /** A value produced once and replayed after (DBOS.now, DBOS.randomUUID). */
  async recordedValue<T>(name: string, produce: () => T): Promise<T> {
    const wf = workflowCode();
    if (!wf) return produce();
    const functionID = takeFunctionID(wf);
    const cp = this.recorded(wf, functionID, name);
    if (cp) return deserializeValueMaybe(cp.output ?? null, appSerialization()) as MaybePromise<T>;
    await this.beforeStep(wf);
    const startedAt = Date.now();
    const value = produce();
    const text = serializeValueMaybe(value, appSerialization());
    this.recordBehind(wf, functionID, name, startedAt, { output: typeof text === 'string' ? text : await text });
    return value;
  }

  // ---------------------------------------------------------------- results and status

  /**
   * Awaits a workflow's recorded outcome, as any process would see it (a cancelled workflow is
   * `DBOSAwaitedWorkflowCancelledError`). A run in this process is waited for instead of polled.
   * With `caller` (workflow code awaiting), the caller's cancellation interrupts the wait.
   */
  async awaitResult(
    workflowID: string,
    pollMs: number,
    deadlineEpochMS: number | null,
    caller?: WorkflowState,
  ): Promise<{ done: boolean; value?: unknown }> {
    const local = this.running.get(workflowID);
    if (local) {
      const ended = local.promise.then(
        () => true,
        () => true,
      );
      if (!(await untilDeadline(ended, deadlineEpochMS, caller))) return { done: false };
    }
    // A local run's own outcome if it recorded one; else (cancelled, lost its row, shut down, or run
    // elsewhere) the database says what happened.
    const outcome =
      local?.recorded.outcome ??
      (caller
        ? await this.pollOutcome(workflowID, pollMs, deadlineEpochMS, caller)
        : await this.engine.awaitOutcome(workflowID, pollMs, deadlineEpochMS));
    if (!outcome) return { done: false };
    const value = outcomeValue(workflowID, outcome);
    return { done: true, value: isPromiseLike(value) ? await value : value };
  }

  /** Polls for an outcome between timer sleeps that the caller's cancellation interrupts. */
  private async pollOutcome(
    workflowID: string,
    pollMs: number,
    deadlineEpochMS: number | null,
    caller: WorkflowState,
  ): Promise<WorkflowOutcome | null> {
    const cancel = { signal: caller.cancel.signal, workflowID: caller.workflowID };
    for (;;) {
      if (cancel.signal.aborted) throw new DBOSWorkflowCancelledError(caller.workflowID);
      // A deadline of now: one read.
      const outcome = await this.engine.awaitOutcome(workflowID, pollMs, Date.now());
      if (outcome) return outcome;
      const left = deadlineEpochMS === null ? pollMs : deadlineEpochMS - Date.now();
      if (left <= 0) return null;
      await timerSleep(Math.min(pollMs, left), cancel);
    }
  }

  /**
   * getResult from workflow code: the outcome is recorded as `DBOS.getResult` at `functionID` (its
   * timeout, if any, as a durable `DBOS.sleep` at `timerID`) and replayed after recovery.
   */
  async checkpointedResult<R>(
    wf: WorkflowState,
    workflowID: string,
    functionID: number,
    timerID: number | undefined,
    timeoutMS: number | undefined,
    pollMs: number,
  ): Promise<R | null> {
    const cp = this.recorded(wf, functionID, 'DBOS.getResult');
    if (cp) return replayCheckpoint(cp) as MaybePromise<R | null>;
    const startedAt = Date.now();
    let deadline: number | null = null;
    if (timerID !== undefined && timeoutMS !== undefined) {
      deadline = (await this.durableDeadline(wf, timerID, timeoutMS, false)) ?? Date.now();
    }
    let result: { done: boolean; value?: unknown };
    try {
      result = await this.awaitResult(workflowID, pollMs, deadline, wf);
    } catch (e) {
      if (e instanceof DBOSWorkflowConflictError) throw e;
      // The awaiting workflow's own cancellation is not the awaited outcome: a resume waits again.
      if (e instanceof DBOSWorkflowCancelledError && e.workflowID === wf.workflowID) throw e;
      await this.record(wf, functionID, 'DBOS.getResult', startedAt, {
        error: await serializeErrorMaybe(e, appSerialization()),
        childWorkflowId: workflowID,
      });
      throw e;
    }
    const value = result.done ? result.value : null;
    const text = serializeValueMaybe(value, appSerialization());
    await this.record(wf, functionID, 'DBOS.getResult', startedAt, {
      output: typeof text === 'string' ? text : await text,
      childWorkflowId: workflowID,
    });
    return value as R | null;
  }

  /**
   * getWorkflowStatus from workflow code: recorded as `getStatus` (the SDK's legacy-shaped JSON) and
   * replayed. Like the SDK, a call at function ID 0 is not recorded.
   */
  async checkpointedStatus(wf: WorkflowState, functionID: number, workflowID: string): Promise<WorkflowStatus | null> {
    const cp = functionID > 0 ? this.recorded(wf, functionID, 'getStatus') : undefined;
    if (cp) {
      const legacy = JSON.parse(cp.output ?? 'null') as LegacyStatus | null;
      return legacy ? toWorkflowStatus(fromLegacyStatus(legacy)) : null;
    }
    await this.settled(wf);
    const startedAt = Date.now();
    const row = await this.engine.getWorkflowStatus(workflowID);
    if (functionID > 0) {
      await this.record(wf, functionID, 'getStatus', startedAt, {
        output: JSON.stringify(row ? toLegacyStatus(row) : null),
        serialization: PORTABLE_JSON,
      });
    }
    return row ? toWorkflowStatus(row) : null;
  }

  async getStatus(workflowID: string): Promise<WorkflowStatus | null> {
    const row = await this.engine.getWorkflowStatus(workflowID);
    return row ? toWorkflowStatus(row) : null;
  }
}

function withTimeout<R>(run: Promise<R>, ms: number, ctl: AbortController, name: string): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      ctl.abort();
      reject(new DBOSStepTimeoutError(name, ms));
    }, ms);
    run.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * The value of a terminal outcome read from the database, or the error it stands for (thrown, or as a rejected
 * promise: a Promise is returned only when the serializer is asynchronous, so callers must await it then).
 */
export function outcomeValue(workflowID: string, outcome: WorkflowOutcome | null, opts?: SerializerOptions): MaybePromise<unknown> {
  if (!outcome) return null;
  switch (outcome.status) {
    case 'SUCCESS':
      return deserializeValueMaybe(outcome.output ?? null, outcome.serialization ?? null, opts);
    case 'ERROR':
      return throwRevived(deserializeErrorMaybe(outcome.error ?? null, outcome.serialization ?? null, opts));
    case 'CANCELLED':
      throw new DBOSAwaitedWorkflowCancelledError(workflowID);
    case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
      throw new DBOSAwaitedWorkflowExceededMaxRecoveryAttempts(workflowID);
    default:
      throw new DBOSError(`Workflow ${workflowID} has unexpected status ${outcome.status}`);
  }
}

function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/**
 * A status row as the API shows it (unreadable input, output or error become undefined). A Promise only when
 * the serializer is asynchronous.
 */
export function toWorkflowStatus(r: WorkflowStatusRow, opts?: SerializerOptions): MaybePromise<WorkflowStatus> {
  const ser = r.serialization ?? null;
  const none = () => undefined;
  const input = r.inputs ? withFallback(() => deserializeArgsMaybe(r.inputs ?? '', ser, opts), none) : undefined;
  const output = r.output ? withFallback(() => deserializeValueMaybe(r.output ?? null, ser, opts), none) : undefined;
  const error = r.error ? withFallback(() => deserializeErrorMaybe(r.error ?? null, ser, opts), none) : undefined;
  if (isPromiseLike(input) || isPromiseLike(output) || isPromiseLike(error)) {
    return Promise.all([input, output, error]).then(([i, o, e]) => statusOf(r, i, o, e));
  }
  return statusOf(r, input, output, error);
}

function statusOf(r: WorkflowStatusRow, input: unknown[] | undefined, output: unknown, error: Error | undefined): WorkflowStatus {
  return {
    workflowID: r.workflowId,
    status: r.status,
    workflowName: r.name ?? '',
    workflowClassName: r.className ?? '',
    workflowConfigName: r.configName ?? '',
    queueName: nonEmpty(r.queueName),
    authenticatedUser: r.authenticatedUser ?? undefined,
    assumedRole: r.assumedRole ?? undefined,
    authenticatedRoles: r.authenticatedRoles ? (safely(() => JSON.parse(r.authenticatedRoles ?? '[]') as string[]) ?? []) : [],
    input,
    output,
    error,
    executorId: r.executorId ?? undefined,
    applicationVersion: r.applicationVersion ?? undefined,
    applicationName: r.applicationName ?? undefined,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    timeoutMS: r.workflowTimeoutMs ?? undefined,
    deadlineEpochMS: r.workflowDeadlineEpochMs ?? undefined,
    deduplicationID: r.deduplicationId ?? undefined,
    priority: r.priority,
    queuePartitionKey: r.queuePartitionKey ?? undefined,
    dequeuedAt: r.startedAtEpochMs ?? undefined,
    completedAt: r.completedAt ?? undefined,
    forkedFrom: r.forkedFrom ?? undefined,
    wasForkedFrom: r.wasForkedFrom,
    parentWorkflowID: r.parentWorkflowId ?? undefined,
    recoveryAttempts: r.recoveryAttempts ?? undefined,
  };
}

/** The shape the SDK records for a `getStatus` checkpoint (key order as it writes them). */
interface LegacyStatus {
  workflowUUID: string;
  status: string;
  workflowName?: string;
  output?: string;
  error?: string;
  workflowClassName: string;
  workflowConfigName: string;
  authenticatedUser?: string;
  assumedRole?: string;
  authenticatedRoles?: string[];
  executorId?: string;
  createdAt: number;
  updatedAt: number;
  applicationVersion?: string;
  applicationID?: string;
  recoveryAttempts?: number;
  input?: string;
  priority: number;
  wasForkedFrom: boolean;
  parentWorkflowID?: string;
  serialization?: string;
  completedAt?: number;
  isDebounced: boolean;
  applicationName?: string;
}

function toLegacyStatus(r: WorkflowStatusRow): LegacyStatus {
  return {
    workflowUUID: r.workflowId,
    status: r.status,
    workflowName: r.name ?? undefined,
    output: r.output ?? undefined,
    error: r.error ?? undefined,
    workflowClassName: r.className ?? '',
    workflowConfigName: r.configName ?? '',
    authenticatedUser: r.authenticatedUser ?? undefined,
    assumedRole: r.assumedRole ?? undefined,
    authenticatedRoles: r.authenticatedRoles ? (safely(() => JSON.parse(r.authenticatedRoles ?? '[]') as string[]) ?? []) : undefined,
    executorId: r.executorId ?? undefined,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    applicationVersion: r.applicationVersion ?? undefined,
    applicationID: r.applicationId ?? undefined,
    recoveryAttempts: r.recoveryAttempts ?? undefined,
    input: r.inputs ?? undefined,
    priority: r.priority,
    wasForkedFrom: r.wasForkedFrom,
    parentWorkflowID: r.parentWorkflowId ?? undefined,
    serialization: r.serialization ?? undefined,
    completedAt: r.completedAt ?? undefined,
    isDebounced: false,
    applicationName: r.applicationName ?? undefined,
  };
}

function fromLegacyStatus(l: LegacyStatus): WorkflowStatusRow {
  return {
    workflowId: l.workflowUUID,
    status: l.status,
    name: l.workflowName,
    className: l.workflowClassName || null,
    configName: l.workflowConfigName || null,
    authenticatedUser: l.authenticatedUser,
    assumedRole: l.assumedRole,
    authenticatedRoles: l.authenticatedRoles ? JSON.stringify(l.authenticatedRoles) : null,
    output: l.output,
    error: l.error,
    inputs: l.input,
    executorId: l.executorId,
    applicationVersion: l.applicationVersion,
    applicationId: l.applicationID,
    applicationName: l.applicationName,
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
    completedAt: l.completedAt,
    recoveryAttempts: l.recoveryAttempts,
    priority: l.priority,
    parentWorkflowId: l.parentWorkflowID,
    serialization: l.serialization,
    wasForkedFrom: l.wasForkedFrom,
  };
}

// ---------------------------------------------------------------- handles

export interface InternalHandle<R> extends WorkflowHandle<R> {
  /** getResult with function IDs already taken by the caller (a direct child call takes two at once). */
  resultAt(functionID: number | undefined, options?: PollingOptions): Promise<R>;
}

abstract class BaseHandle<R> implements InternalHandle<R> {
  // Private (#): a portable JSON of a handle holds its ID only, as the SDK's does.
  readonly #executor: Executor | undefined;

  /** Without an executor (a handle read back from storage), the launched one. */
  constructor(
    executor: Executor | undefined,
    readonly workflowID: string,
  ) {
    this.#executor = executor;
  }

  protected get executor(): Executor {
    const exec = this.#executor ?? activeExecutor;
    if (!exec) throw new DBOSExecutorNotInitializedError();
    return exec;
  }

  async getStatus(): Promise<WorkflowStatus | null> {
    return this.executor.getStatus(this.workflowID);
  }

  getResult(options?: PollingOptions): Promise<R> {
    const wf = workflowCode();
    return this.resultAt(wf ? takeFunctionID(wf) : undefined, options);
  }

  async resultAt(functionID: number | undefined, options?: PollingOptions): Promise<R> {
    const pollMs = options?.pollingIntervalMs ?? 1000;
    const wf = workflowCode();
    if (wf && functionID !== undefined) {
      return (await this.executor.checkpointedResult<R>(wf, this.workflowID, functionID, undefined, undefined, pollMs)) as R;
    }
    return (await this.executor.awaitResult(this.workflowID, pollMs, null)).value as R;
  }
}

/** A run this process executes: results come from the in-memory promise. */
export class InvokedHandle<R> extends BaseHandle<R> {
  constructor(
    executor: Executor,
    workflowID: string,
    readonly workflowPromise: Promise<R>,
  ) {
    super(executor, workflowID);
  }

  override resultAt(functionID: number | undefined, options?: PollingOptions): Promise<R> {
    // Outside workflow code the caller gets the run's own value or error object.
    if (!workflowCode() || functionID === undefined) return this.workflowPromise;
    return super.resultAt(functionID, options);
  }
}

/** A run found in the database: results come from polling its status row. */
export class RetrievedHandle<R> extends BaseHandle<R> {}

// A handle is stored as the SDK stores one (`{"wfid":…}` under its recipe name) and read back as a
// RetrievedHandle, so a workflow may return a handle and SDK processes read ours (and we theirs).
registerSerializationRecipe<BaseHandle<unknown>, { wfid: string }>({
  name: 'DBOS.WorkflowHandle',
  isApplicable: (v: unknown): v is BaseHandle<unknown> => v instanceof BaseHandle,
  serialize: (h) => ({ wfid: h.workflowID }),
  deserialize: (s) => new RetrievedHandle(undefined, s.wfid),
});

/** The run state of a workflow this process has just started (nothing recorded to replay). */
function freshState(reg: WorkflowRegistration, row: NewWorkflow, serialization: string, deadline: number | undefined): WorkflowState {
  return {
    workflowID: row.workflowId,
    workflowName: reg.name,
    token: row.token,
    nextFunctionID: 0,
    recorded: null,
    serialization,
    deadlineEpochMS: deadline,
    cancel: new AbortController(),
  };
}
