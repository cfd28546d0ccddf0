// The executor: starting, running and finishing workflows in this process, recovery and dispatch of
// claimed workflows, and the runs in flight (which awaiters wait for instead of polling). The rest of
// the runtime is in modules by concern: write-behind.ts (when workflow code waits for its writes),
// steps.ts (the step runner), durable-time.ts (sleeps, deadlines, recorded values), results.ts
// (awaiting outcomes), handles.ts, workflow-status.ts, recovery.ts, validation.ts.
import { randomUUID } from 'node:crypto';
import { contextStorage, currentContext, takeFunctionID, type WorkflowState } from './context';
import {
  DBOSAwaitedWorkflowCancelledError,
  DBOSConflictingWorkflowError,
  DBOSInvalidWorkflowInputError,
  DBOSInvalidWorkflowTransitionError,
  DBOSMaxRecoveryAttemptsExceededError,
  DBOSNonExistentWorkflowError,
  DBOSUnexpectedStepError,
  DBOSWorkflowCancelledError,
  DBOSWorkflowConflictError,
} from './error';
import { authColumns } from './client-enqueue';
import { authOfRow, currentAuth } from './auth-context';
import { traced } from './tracing'; // --- rest
import { clearActiveExecutor, InvokedHandle, RetrievedHandle, setActiveExecutor, type HandleExecutor, type InternalHandle } from './handles';
import type { ClaimedWorkflow, Engine, NewWorkflow, WorkflowOutcome } from './native';
import { checkEnqueue, checkReturnExisting, debounceColumns, insertOnQueue, notifyEnqueued, placement, QueueDispatch } from './queue-dispatch';
import { POLLING_MODE_QUEUE_POLL_MS } from './queue-lanes';
import { INTERNAL_QUEUE, recoveredRun } from './recovery';
import { configNameOf, type WorkflowRegistration } from './registry';
import { awaitResult, checkpointedResult, outcomeValue, type ResultWait, type RunningWorkflow } from './results';
import {
  appSerializationName,
  deserializeArgs,
  deserializeError,
  isPromiseLike,
  PORTABLE_JSON,
  roundTrip,
  serializeArgs,
  serializeError,
  throwRevived,
} from './serialization';
import { checkWorkflowTimeout, refuseEnqueueOnlyOptions, requireString } from './validation';
import { toWorkflowStatus, type WorkflowStatus } from './workflow-status';
import { complete, heldStartWritten, holdStart, record, releaseAtEndOfTurn, settled } from './write-behind';


export interface StartWorkflowParams {
  workflowID?: string;
  queueName?: string;
  timeoutMS?: number | null;
  enqueueOptions?: EnqueueOptions;
  /** On a deduplication collision: reject (default) or return a handle to the workflow holding the ID. */
  duplicationPolicy?: 'reject' | 'return-existing';
  authenticatedUser?: string;
  authenticatedRoles?: string[];
  /** A key-value object, stored as jsonb. */
  workflowAttributes?: Record<string, unknown>;
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

export interface ExecutorOptions {
  engine: Engine;
  appName: string;
  executorID: string;
  appVersion: string;
  /** Polling mode (`useListenNotify: false`): no notification wakes a queue, so its lane polls more often. */
  pollingMode?: boolean;
}

function formatFor(reg: WorkflowRegistration): string {
  if (reg.config.serialization === 'portable') return PORTABLE_JSON;
  if (reg.config.serialization === 'native') return 'js_superjson';
  return appSerializationName();
}

/** How many queued workflows one poll of the internal queue claims. */
const CLAIM_BATCH = 1000;

export class Executor implements HandleExecutor {
  readonly engine: Engine;
  readonly appName: string;
  readonly executorID: string;
  readonly appVersion: string;
  /** Workflows executing in this process, by ID: awaiters wait for these instead of polling. */
  private readonly running = new Map<string, RunningWorkflow>();
  private dispatchTimer: NodeJS.Timeout | undefined;
  private dispatching: Promise<void> | undefined;
  private closed = false;
  /** Dispatches application queues; an enqueue here wakes its queue's lane. */
  private readonly queues: QueueDispatch;

  constructor(opts: ExecutorOptions) {
    this.engine = opts.engine;
    this.appName = opts.appName;
    this.executorID = opts.executorID;
    this.appVersion = opts.appVersion;
    this.queues = new QueueDispatch(this.engine, (c) => this.dispatch(c), opts.pollingMode ? POLLING_MODE_QUEUE_POLL_MS : Infinity);
    setActiveExecutor(this);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Recovers this executor's PENDING workflows: those of application queues go back on their queue (its lanes,
   * started next, run them within its limits); the others are claimed and run now. Then polls the internal queue
   * for resumed and enqueued work.
   */
  async startRecovery(): Promise<void> {
    const recovered = await this.engine.recoverPending();
    await Promise.all(recovered.map((c) => this.dispatch(c)));
    await this.dispatchQueued();
    await this.queues.start();
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

  /** Rows put on `queueName` (null: internal) by resume or fork run now, not at the next tick (other processes: NOTIFY). */
  async enqueuedOn(queueName: string | null): Promise<void> {
    if (queueName === null || queueName === INTERNAL_QUEUE) return this.dispatchQueued();
    this.queues.wake(queueName);
    await notifyEnqueued(this.engine, queueName);
  }

  /** Settles when this process's run of the workflow ends, however it ends; undefined if none runs here. */
  localEnd(workflowID: string): Promise<unknown> | undefined {
    return this.running.get(workflowID)?.promise.catch(() => undefined);
  }

  /** A DELAYED row of ours now ends its delay at `dueEpochMs`: move it then, not at the next sweep. */
  delayChanged(dueEpochMs: number): void {
    this.queues.delayed(dueEpochMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.dispatchTimer) clearInterval(this.dispatchTimer);
    this.dispatchTimer = undefined;
    await this.dispatching;
    await this.queues.close();
    for (const { state } of this.running.values()) state.cancel.abort();
    this.engine.close();
    clearActiveExecutor(this);
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
    const queueName = params.queueName ?? ctx?.workflowQueue;
    const returnExisting = params.duplicationPolicy === 'return-existing';
    if (returnExisting) checkReturnExisting(queueName, params.enqueueOptions?.deduplicationID);
    if (queueName !== undefined) checkEnqueue(params.enqueueOptions);
    else refuseEnqueueOnlyOptions(params.enqueueOptions);
    // The SDK applies applicationVersion to a direct start too (only that version recovers it).
    const appVersion = params.enqueueOptions?.applicationVersion;
    if (appVersion !== undefined) requireString('applicationVersion', appVersion, true);
    const caller = currentAuth(); // as the SDK: explicit params, else the caller's identity
    const auth = authColumns(params.authenticatedUser ?? caller?.user, params.authenticatedRoles ?? caller?.roles, params.workflowAttributes);
    // A generated ID can't meet an earlier run, so the workflow may start before its row is written.
    const holdStart = workflowID === undefined && !parent && queueName === undefined;
    workflowID ??= parent ? `${parent.workflowID}-${functionID}` : randomUUID();

    const format = formatFor(reg);
    let inputs: string;
    try {
      // An argument that is a function or symbol is refused; functions nested in arguments are dropped.
      const text = serializeArgs(args, format);
      // Awaited only for an asynchronous serializer: the default one adds no hop here.
      inputs = typeof text === 'string' ? text : await text;
    } catch (e) {
      throw new DBOSInvalidWorkflowInputError(reg.name, e);
    }
    // The body gets the stored form of its arguments, exactly as it would after recovery.
    const parsed = deserializeArgs(inputs, format);
    let runArgs = isPromiseLike(parsed) ? await parsed : parsed;
    if (reg.config.inputSchema) runArgs = reg.config.inputSchema.parse(runArgs) as unknown[];

    if (parent && functionID !== undefined) {
      const recorded = parent.recorded?.get(functionID);
      if (recorded) {
        if (recorded.name !== reg.name) {
          throw new DBOSUnexpectedStepError(parent.workflowID, functionID, reg.name, recorded.name);
        }
        if (recorded.error) return throwRevived(deserializeError(recorded.error, recorded.serialization ?? null));
        return this.handleFor(recorded.childWorkflowId ?? workflowID);
      }
    }

    const timeoutMS = params.timeoutMS !== undefined ? params.timeoutMS : ctx?.workflowTimeoutMS;
    checkWorkflowTimeout(timeoutMS);
    let deadline: number | undefined;
    // A queued workflow's own timeout starts when it is dequeued (the claim sets its deadline).
    if (typeof timeoutMS === 'number') deadline = queueName === undefined ? Date.now() + timeoutMS : undefined;
    else if (timeoutMS === undefined && parent?.deadlineEpochMS !== undefined) deadline = parent.deadlineEpochMS;

    const token = randomUUID();
    const configName = configNameOf(thisArg) ?? null;
    const queued = queueName !== undefined ? placement(params.enqueueOptions) : undefined;
    const row: NewWorkflow = {
      workflowId: workflowID,
      status: queued?.status ?? 'PENDING',
      name: reg.name,
      className: reg.className || null,
      configName,
      queueName: queueName ?? null,
      inputs,
      serialization: format,
      token,
      timeoutMs: typeof timeoutMS === 'number' ? Math.round(timeoutMS) : null,
      deadlineEpochMs: deadline ?? null,
      parentWorkflowId: parent?.workflowID ?? null,
      deduplicationId: queueName !== undefined ? (params.enqueueOptions?.deduplicationID ?? null) : null,
      priority: queueName !== undefined ? (params.enqueueOptions?.priority ?? 0) : null,
      queuePartitionKey: queued?.queuePartitionKey ?? null,
      ...debounceColumns(queued?.delayUntilEpochMs ?? null, queued && params.enqueueOptions),
      // Null: this application, and this version when the row is this application's (the engine's rule).
      appName: queued ? (params.enqueueOptions?.applicationName ?? null) : null,
      appVersion: appVersion ?? null,
      ...auth,
    };
    if (holdStart) return this.startHeld(reg, thisArg, runArgs, row, format, deadline);
    if (parent) await settled(this.engine, parent);
    const startedAt = Date.now();
    const insert = () =>
      parent && functionID !== undefined
        ? this.engine.startChildWorkflow(parent.workflowID, parent.token, functionID, row)
        : this.engine.startWorkflow(row);
    let outcome;
    if (queueName === undefined) outcome = await insert();
    else {
      const inserted = await insertOnQueue(this.engine, { ...row, queueName }, returnExisting, insert);
      if ('existing' in inserted) {
        // A child records the workflow it got, so a replay gets the same one.
        if (parent && functionID !== undefined) {
          await record(this.engine, parent, functionID, reg.name, startedAt, { childWorkflowId: inserted.existing });
        }
        return this.handleFor(inserted.existing);
      }
      if ('duplicated' in inserted) {
        // As in the SDK: a child's collision is recorded at its function ID, so a replay throws it again.
        if (parent && functionID !== undefined) {
          const format = appSerializationName();
          const error = await serializeError(inserted.duplicated, format);
          await record(this.engine, parent, functionID, reg.name, startedAt, { error, serialization: format });
        }
        throw inserted.duplicated;
      }
      outcome = inserted.outcome;
    }

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
    if (queueName !== undefined) {
      // The queue's dispatcher runs it (here or in another process); wake ours now rather than at its next poll.
      if (outcome.shouldExecute) {
        if (row.delayUntilEpochMs !== null) this.queues.delayed(row.delayUntilEpochMs);
        else this.queues.wake(queueName);
        await notifyEnqueued(this.engine, queueName);
      }
      return this.handleFor(workflowID);
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
    const state = freshState(reg, row, serialization, deadline);
    const written = holdStart(this.engine, row, state);
    const promise = this.execute(reg, thisArg ?? reg.defaultThis, args, state);
    releaseAtEndOfTurn(this.engine, state);
    try {
      await written;
    } finally {
      heldStartWritten(state);
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
        result = await contextStorage.run({ workflow: state }, () => traced('workflow', reg.name, state.workflowID, () => reg.fn.apply(thisArg, args)));
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
            const trip = roundTrip(result, state.serialization, {
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
          const text = serializeError(error, state.serialization);
          errorText = typeof text === 'string' ? text : await text;
        }
        const done = await complete(this.engine, state, ok ? 'SUCCESS' : 'ERROR', output, errorText);
        if (done.writeError !== null) {
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
          throw state.serialization === PORTABLE_JSON ? await deserializeError(errorText, PORTABLE_JSON) : error;
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
    return outcomeValue(workflowID, outcome ?? null);
  }

  // ---------------------------------------------------------------- recovery and dispatch

  /** Claims queued rows of the internal queue (recovered or resumed workflows) and runs them. */
  async dispatchQueued(): Promise<void> {
    if (this.closed) return;
    const claimed = await this.engine.claimQueued(INTERNAL_QUEUE, CLAIM_BATCH);
    await Promise.all(claimed.map((c) => this.dispatch(c)));
  }

  /** Runs a claimed workflow; `finished` settles when the run ends (undefined: it does not run here). */
  private async dispatch(c: ClaimedWorkflow): Promise<{ finished: Promise<unknown> } | undefined> {
    const local = this.running.get(c.workflowId);
    if (local && !local.state.cancel.signal.aborted) {
      // Still running here (resumed while in flight): the claim made a new owner; keep running as it.
      local.state.token = c.token;
      return { finished: local.promise };
    }
    // A run cancelled here but not yet stopped is fenced out by the claim's new owner: a fresh run
    // (replaying what the old one recorded) replaces it, and the old one adopts its outcome.
    const run = await recoveredRun(this.engine, c);
    if (!run) return undefined;
    return { finished: this.execute(run.reg, run.thisArg, run.args, run.state) };
  }

  // ---------------------------------------------------------------- results (awaiting runs of this process)

  awaitResult(workflowID: string, pollMs: number, deadlineEpochMS: number | null, caller?: WorkflowState): Promise<{ done: boolean; value?: unknown }> {
    return awaitResult(this.engine, this.running.get(workflowID), workflowID, pollMs, deadlineEpochMS, caller);
  }

  checkpointedResult<R>(wf: WorkflowState, wait: ResultWait): Promise<R | null> {
    return checkpointedResult<R>(this.engine, this.running, wf, wait);
  }

  async getStatus(workflowID: string): Promise<WorkflowStatus | null> {
    const row = await this.engine.getWorkflowStatus(workflowID);
    return row ? toWorkflowStatus(row) : null;
  }
}

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
    auth: authOfRow(row),
  };
}
