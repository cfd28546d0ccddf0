// Workflow handles: InvokedHandle (a run this process executes) and RetrievedHandle (a run known by its
// ID only), and how a handle is stored when a workflow returns one.
import { takeFunctionID, workflowCode, type WorkflowState } from './context';
import { DBOSExecutorNotInitializedError } from './error';
import { registerInstanceRecipe } from './superjson-format';
import type { WorkflowStatus } from './workflow-status';
import type { ResultWait } from './results';

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

/** What a handle asks of the executor (the Executor class implements it). */
export interface HandleExecutor {
  getStatus(workflowID: string): Promise<WorkflowStatus | null>;
  awaitResult(workflowID: string, pollMs: number, deadlineEpochMS: number | null, caller?: WorkflowState): Promise<{ done: boolean; value?: unknown }>;
  checkpointedResult<R>(wf: WorkflowState, wait: ResultWait): Promise<R | null>;
}

/** The launched executor, for handles read back from storage (they carry only a workflow ID). */
let activeExecutor: HandleExecutor | undefined;

export function setActiveExecutor(executor: HandleExecutor): void {
  activeExecutor = executor;
}

/** At close: a later launch may already have set its own. */
export function clearActiveExecutor(executor: HandleExecutor): void {
  if (activeExecutor === executor) activeExecutor = undefined;
}

export interface InternalHandle<R> extends WorkflowHandle<R> {
  /** getResult with function IDs already taken by the caller (a direct child call takes two at once). */
  resultAt(functionID: number | undefined, options?: PollingOptions): Promise<R>;
}

abstract class BaseHandle<R> implements InternalHandle<R> {
  // Private (#): a portable JSON of a handle holds its ID only, as the SDK's does.
  readonly #executor: HandleExecutor | undefined;

  /** Without an executor (a handle read back from storage), the launched one. */
  constructor(
    executor: HandleExecutor | undefined,
    readonly workflowID: string,
  ) {
    this.#executor = executor;
  }

  protected get executor(): HandleExecutor {
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
      return (await this.executor.checkpointedResult<R>(wf, { workflowID: this.workflowID, functionID, pollMs })) as R;
    }
    return (await this.executor.awaitResult(this.workflowID, pollMs, null)).value as R;
  }
}

/** A run this process executes: results come from the in-memory promise. */
export class InvokedHandle<R> extends BaseHandle<R> {
  constructor(
    executor: HandleExecutor,
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
registerInstanceRecipe<BaseHandle<unknown>, { wfid: string }>(
  BaseHandle,
  'DBOS.WorkflowHandle',
  (h) => ({ wfid: h.workflowID }),
  (s) => new RetrievedHandle(undefined, s.wfid),
);
