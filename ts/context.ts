// Async context: which workflow (and step) the running code belongs to. Function IDs are taken from
// here synchronously, before an operation's first await, so concurrent branches number in call order.
import { AsyncLocalStorage } from 'node:async_hooks';
import { DBOSUnexpectedStepError } from './error';
import type { Checkpoint } from './native';
import type { AuthContext } from './auth-context';

export interface StepStatus {
  stepID: number;
  currentAttempt?: number;
  maxAttempts?: number;
  timeoutSignal?: AbortSignal;
  readonly cancelSignal: AbortSignal;
}

/** One execution of a workflow in this process. */
export interface WorkflowState {
  readonly workflowID: string;
  readonly workflowName: string;
  /** owner_xid of this execution: every checkpoint write is fenced by it. */
  token: string;
  nextFunctionID: number;
  /** Checkpoints loaded at recovery; null for a fresh start, which has none (no read needed). */
  readonly recorded: Map<number, Checkpoint> | null;
  /** The row's serialization: portable_json makes this workflow's sends/events portable. */
  readonly serialization: string;
  /** Absolute deadline inherited by children, if the workflow has a timeout. */
  readonly deadlineEpochMS?: number;
  readonly cancel: AbortController;
  /** Checkpointed stream reads in progress: two at once would number their values by scheduling. */
  activeStreamReads?: number;
  /** Step checkpoints and stream writes handed to the engine since the last settle (see write-behind.ts). */
  writesBehind?: number;
  /** Whether stream writes are among them: the next step waits for those (its effects may tell a reader). */
  streamWritesBehind?: boolean;
  /** The start is held back (the engine's held.rs): its row may not be written yet. */
  startHeld?: boolean;
  /** The first of those that failed: the workflow stops at its next durable operation. */
  writeError?: { error: unknown };
  /** Who started it, as recorded on its row (a recovered or dequeued run reads it back from there). */
  readonly auth?: AuthContext;
}

export interface StepFrame {
  readonly stepID: number;
  readonly name: string;
  status: StepStatus;
}

export interface DBOSContext {
  workflow?: WorkflowState;
  step?: StepFrame;
  /** withNextWorkflowID: the first start inside the callback takes it (and clears it). */
  nextWorkflowID?: { id?: string };
  /** withWorkflowTimeout: null detaches children from the parent's deadline. */
  workflowTimeoutMS?: number | null;
  /** withWorkflowQueue: workflows started or called inside the callback are enqueued on this queue. */
  workflowQueue?: string;
  /** withAuthedContext: the authenticated user and roles of the code inside the callback. */
  auth?: AuthContext;
}

export const contextStorage = new AsyncLocalStorage<DBOSContext>();

export function currentContext(): DBOSContext | undefined {
  return contextStorage.getStore();
}

/** The workflow whose own code is running (not inside one of its steps). */
export function workflowCode(): WorkflowState | undefined {
  const ctx = contextStorage.getStore();
  return ctx?.workflow && !ctx.step ? ctx.workflow : undefined;
}

export function runWithContext<R>(ctx: DBOSContext, fn: () => R): R {
  return contextStorage.run(ctx, fn);
}

/** Takes the next function ID of the running workflow (synchronously, by design). */
export function takeFunctionID(wf: WorkflowState, count = 1): number {
  const id = wf.nextFunctionID;
  wf.nextFunctionID += count;
  return id;
}

/** The checkpoint an earlier run recorded at `functionID`, checked against the name the code now expects. */
export function recordedCheckpoint(wf: WorkflowState, functionID: number, expectedName: string): Checkpoint | undefined {
  const cp = wf.recorded?.get(functionID);
  if (cp && cp.name !== expectedName) {
    throw new DBOSUnexpectedStepError(wf.workflowID, functionID, expectedName, cp.name);
  }
  return cp;
}
