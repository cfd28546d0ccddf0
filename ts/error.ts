/**
 * DBOS error classes, compatible with `@dbos-inc/dbos-sdk` 5.3.0 (`Error` namespace).
 *
 * Codes, constructor parameter lists, messages and `name` values are those of the SDK. Own-property layout
 * is kept identical as well (the SDK's class fields are defined in declaration order right after `super()`),
 * because a thrown error is stored through serialize-error, which copies own enumerable properties in order:
 * `dbosErrorCode` first, then each subclass's fields, then `name` where the class sets one.
 *
 * Classes other than 28 and 33-37 do not set `name` (it stays `'Error'`), as in the SDK.
 */

/** JSON value as carried by `PortableWorkflowError.data`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export class DBOSError extends Error {
  declare readonly dbosErrorCode: number;

  constructor(msg: string, dbosErrorCode: number = 1) {
    super(msg);
    // Keeps `instanceof` right even if compiled for an ES5 target.
    Object.setPrototypeOf(this, new.target.prototype);
    this.dbosErrorCode = dbosErrorCode;
  }
}

export const InitializationError = 3;
export class DBOSInitializationError extends DBOSError {
  declare readonly error?: Error | undefined;
  constructor(msg: string, error?: Error | undefined) {
    super(msg, InitializationError);
    this.error = error;
  }
}

export const ConflictingWFIDError = 5;
/** Raised when an execution no longer owns its workflow, so it must stop and adopt the owner's outcome. */
export class DBOSWorkflowConflictError extends DBOSError {
  constructor(workflowID: string) {
    super(`Workflow ${workflowID} is no longer owned by this execution`, ConflictingWFIDError);
  }
}

export const NotRegisteredError = 6;
export class DBOSNotRegisteredError extends DBOSError {
  constructor(name: string, fullmsg?: string) {
    super(fullmsg ?? `Operation (Name: ${name}) not registered`, NotRegisteredError);
  }
}

export const NonExistentWorkflowError = 16;
export class DBOSNonExistentWorkflowError extends DBOSError {
  constructor(msg: string) {
    super(msg, NonExistentWorkflowError);
  }
}

export const MaxRecoveryAttemptsExceededError = 18;
export class DBOSMaxRecoveryAttemptsExceededError extends DBOSError {
  constructor(workflowID: string, maxRetries?: number) {
    const limit = maxRetries === undefined ? 'number of' : `of ${maxRetries}`;
    super(
      `Workflow ${workflowID} has exceeded its maximum ${limit} execution or recovery attempts. ` +
        `Further attempts to execute or recover it will fail.`,
      MaxRecoveryAttemptsExceededError,
    );
  }
}

export const ExecutorNotInitializedError = 20;
export class DBOSExecutorNotInitializedError extends DBOSError {
  constructor() {
    super('DBOS not initialized', ExecutorNotInitializedError);
  }
}

export const InvalidWorkflowTransition = 21;
export class DBOSInvalidWorkflowTransitionError extends DBOSError {
  constructor(msg?: string) {
    super(msg ?? 'Invalid workflow state', InvalidWorkflowTransition);
  }
}

export const ConflictingWorkflowError = 22;
export class DBOSConflictingWorkflowError extends DBOSError {
  constructor(workflowID: string, msg: string) {
    super(`Conflicting workflow invocation with the same ID (${workflowID}): ${msg}`, ConflictingWorkflowError);
  }
}

export const MaximumRetriesError = 23;
export class DBOSMaxStepRetriesError extends DBOSError {
  declare readonly errors: Error[];
  constructor(stepName: string, maxRetries: number, errors: Error[]) {
    const previous = errors.map((e, i) => `Error ${i + 1}: ${e.message}`).join('. ');
    super(
      `Step ${stepName} has exceeded its maximum of ${maxRetries} retries. Previous errors: ${previous}`,
      MaximumRetriesError,
    );
    this.errors = errors;
  }
}

export const WorkFlowCancelled = 24;
export class DBOSWorkflowCancelledError extends DBOSError {
  declare readonly workflowID: string;
  constructor(workflowID: string) {
    super(`Workflow ${workflowID} has been cancelled`, WorkFlowCancelled);
    this.workflowID = workflowID;
  }
}

export const ConflictingRegistrationError = 25;
export class DBOSConflictingRegistrationError extends DBOSError {
  constructor(msg: string) {
    super(msg, ConflictingRegistrationError);
  }
}

export const UnexpectedStep = 26;
/** Exception raised when a step has an unexpected recorded name, indicating a determinism problem. */
export class DBOSUnexpectedStepError extends DBOSError {
  declare readonly workflowID: string;
  declare readonly stepID: number;
  declare readonly expectedName: string;
  constructor(workflowID: string, stepID: number, expectedName: string, recordedName: string) {
    const head =
      `During execution of workflow ${workflowID} step ${stepID}, ` +
      `function ${recordedName} was recorded when ${expectedName} was expected.`;
    // The patch variant's odd whitespace (blank line, 10-space indent) is the SDK's exact text.
    const msg = recordedName.startsWith('DBOS.patch')
      ? `${head}\n\n          Check that your patches are backward compatible, that you do not have older code trying to ` +
        `recover workflows with newer patches, and that your workflow is deterministic.`
      : `${head} Check that your workflow is deterministic.`;
    super(msg, UnexpectedStep);
    this.workflowID = workflowID;
    this.stepID = stepID;
    this.expectedName = expectedName;
  }
}

export const TargetWorkflowCancelled = 27;
export class DBOSAwaitedWorkflowCancelledError extends DBOSError {
  declare readonly workflowID: string;
  constructor(workflowID: string) {
    super(`Awaited ${workflowID} was cancelled`, TargetWorkflowCancelled);
    this.workflowID = workflowID;
  }
}

export const QueueDedupIDDuplicated = 28;
/** Exception raised when workflow with same dedupid is queued*/
export class DBOSQueueDuplicatedError extends DBOSError {
  declare readonly workflowID: string;
  declare readonly queue: string;
  declare readonly deduplicationID: string;
  constructor(workflowID: string, queue: string, deduplicationID: string) {
    super(
      `Workflow ${workflowID} was deduplicated due to an existing workflow in queue ${queue} ` +
        `with deduplication ID ${deduplicationID}.`,
      QueueDedupIDDuplicated,
    );
    this.workflowID = workflowID;
    this.queue = queue;
    this.deduplicationID = deduplicationID;
    this.name = 'DBOSQueueDuplicatedError';
  }
}

export const InvalidQueuePriority = 29;
/** Exception raised queue priority is invalid */
export class DBOSInvalidQueuePriorityError extends DBOSError {
  declare readonly priority: number;
  declare readonly min: number;
  declare readonly max: number;
  constructor(priority: number, min: number, max: number) {
    super(`Invalid priority ${priority}. Priority must be between ${min} and ${max}.`, InvalidQueuePriority);
    this.priority = priority;
    this.min = min;
    this.max = max;
  }
}

export const AwaitedWorkflowExceededMaxRecoveryAttempts = 30;
export class DBOSAwaitedWorkflowExceededMaxRecoveryAttempts extends DBOSError {
  declare readonly workflowID: string;
  constructor(workflowID: string) {
    super(`Awaited ${workflowID} exceeded its maximum recovery attempts`, AwaitedWorkflowExceededMaxRecoveryAttempts);
    this.workflowID = workflowID;
  }
}

export const StepTimeout = 31;
/** Exception raised when a single attempt of a step exceeds its configured `timeoutMS` */
export class DBOSStepTimeoutError extends DBOSError {
  declare readonly stepName: string;
  declare readonly timeoutMS: number;
  constructor(stepName: string, timeoutMS: number) {
    super(`Step ${stepName} timed out after ${timeoutMS}ms`, StepTimeout);
    this.stepName = stepName;
    this.timeoutMS = timeoutMS;
  }
}

export const InvalidWorkflowInput = 32;
/** Exception raised when a workflow's arguments cannot be serialized. Blames the arguments alone. */
export class DBOSInvalidWorkflowInputError extends DBOSError {
  constructor(workflowName: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`Could not serialize the arguments to workflow ${workflowName}: ${why}`, InvalidWorkflowInput);
  }
}

export const StreamTimeout = 33;
/** Exception raised when no value arrives on a stream within its timeout, or the stream ends before reaching a requested offset. */
export class DBOSStreamTimeoutError extends DBOSError {
  declare readonly workflowID: string;
  declare readonly key: string;
  declare readonly timeoutMS?: number | undefined;
  constructor(workflowID: string, key: string, timeoutMS?: number | undefined) {
    const within = timeoutMS !== undefined ? ` within ${timeoutMS}ms` : '';
    super(`No value arrived on stream ${key} of workflow ${workflowID}${within}`, StreamTimeout);
    this.workflowID = workflowID;
    this.key = key;
    this.timeoutMS = timeoutMS;
    this.name = 'DBOSStreamTimeoutError';
  }
}

export const StreamNondeterminism = 34;
/** Exception raised when concurrent stream reads would make replay depend on scheduling. */
export class DBOSStreamNondeterminismError extends DBOSError {
  declare readonly workflowID: string;
  declare readonly key: string;
  constructor(workflowID: string, key: string) {
    super(
      `Cannot deterministically read stream ${key} in workflow ${workflowID}: another stream read ` +
        `in the same workflow is still in progress, so which read records which value would depend ` +
        `on task scheduling. Read streams from sequential workflow code, or read them from a step.`,
      StreamNondeterminism,
    );
    this.workflowID = workflowID;
    this.key = key;
    this.name = 'DBOSStreamNondeterminismError';
  }
}

export const QueryTimeout = 35;
/** Exception raised when a read-only observability query exceeds its statement timeout. */
export class DBOSQueryTimeoutError extends DBOSError {
  declare readonly timeoutMS: number;
  constructor(timeoutMS: number) {
    super(`This query was cancelled after exceeding its ${timeoutMS}ms statement timeout.`, QueryTimeout);
    this.timeoutMS = timeoutMS;
    this.name = 'DBOSQueryTimeoutError';
  }
}

export const WorkflowIDInUse = 36;
/** Raised when a `workflowIDReusePolicy: 'reject'` start finds its ID in use; match it with `isWorkflowIDInUseError`, not `instanceof`. */
export class DBOSWorkflowIDInUseError extends DBOSError {
  declare readonly workflowID: string;
  declare readonly status: string;
  declare readonly workflowName: string;
  constructor(workflowID: string, status: string, workflowName: string) {
    super(
      `Workflow ID ${workflowID} is already in use by workflow ${workflowName} with status ${status}.`,
      WorkflowIDInUse,
    );
    this.workflowID = workflowID;
    this.status = status;
    this.workflowName = workflowName;
    this.name = 'DBOSWorkflowIDInUseError';
  }
}

export const StepNondeterminism = 37;
/** Raised when an execution records a step ID that it already recorded differently. */
export class DBOSStepNondeterminismError extends DBOSError {
  declare readonly workflowID: string;
  declare readonly stepID: number;
  constructor(workflowID: string, stepID: number) {
    super(
      `Step ${stepID} of workflow ${workflowID} was recorded twice by the same execution with different results. ` +
        `Check that your workflow is deterministic.`,
      StepNondeterminism,
    );
    this.workflowID = workflowID;
    this.stepID = stepID;
    this.name = 'DBOSStepNondeterminismError';
  }
}

/**
 * An error revived from the `portable_json` format: a language-neutral record `{name, message, code?, data?}`.
 * (In the SDK this class lives in `schemas/system_db_schema` and is exported at the package top level.)
 */
export class PortableWorkflowError extends Error {
  declare readonly name: string;
  declare readonly code?: string | number | undefined;
  declare readonly data?: JsonValue | undefined;
  constructor(message: string, name: string, code?: string | number | undefined, data?: JsonValue | undefined) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
    // Always own properties, in this order (even when undefined), as the SDK's class fields make them.
    this.name = name;
    this.code = code;
    this.data = data;
  }
}

export function getDBOSErrorCode(e: unknown): number | undefined {
  if (e !== null && typeof e === 'object' && 'dbosErrorCode' in e) {
    const code = (e as { dbosErrorCode: unknown }).dbosErrorCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

/**
 * True if `e` is a stream-read timeout, including the replayed forms (a revived plain `Error` carrying
 * `dbosErrorCode` 33, or a `PortableWorkflowError` named `DBOSStreamTimeoutError`), where `instanceof` fails.
 */
export function isStreamTimeoutError(e: unknown): boolean {
  if (e instanceof Error && getDBOSErrorCode(e) === StreamTimeout) return true;
  return e instanceof PortableWorkflowError && e.name === 'DBOSStreamTimeoutError';
}

/** True if `e` is a workflow-ID-in-use rejection, including its replayed forms, where `instanceof` does not hold. */
export function isWorkflowIDInUseError(e: unknown): boolean {
  if (e instanceof Error && getDBOSErrorCode(e) === WorkflowIDInUse) return true;
  return e instanceof PortableWorkflowError && e.name === 'DBOSWorkflowIDInUseError';
}

// ---------------------------------------------------------------------------------------------------------------
// The system database: conditions the SDK has no class for (it lets its driver's errors through). Public codes,
// above the SDK's range (1-37), so callers match them with `getDBOSErrorCode` instead of message text.
// ---------------------------------------------------------------------------------------------------------------

export const SystemDatabaseShutdown = 100;
/** The call was made, or was still waiting, when `DBOS.shutdown()` or `client.destroy()` closed the system database. */
export class DBOSShutdownError extends DBOSError {
  constructor() {
    super('The system database has been shut down', SystemDatabaseShutdown);
    this.name = 'DBOSShutdownError';
  }
}

export const SystemDatabaseError = 101;
/** A statement on the system database failed; `sqlstate` is the server's code (e.g. `23505`). */
export class DBOSDatabaseError extends DBOSError {
  declare readonly sqlstate: string | undefined;
  constructor(msg: string, sqlstate?: string | undefined) {
    super(msg, SystemDatabaseError);
    this.sqlstate = sqlstate;
    this.name = 'DBOSDatabaseError';
  }
}

export const SystemDatabaseConnectionLost = 102;
/**
 * The system database could not be reached after the engine's retries (refused, reset, server shut down, pool
 * timeout). `sqlstate` is set when the server said why (class 08, 53, 57).
 */
export class DBOSConnectionError extends DBOSError {
  declare readonly sqlstate: string | undefined;
  constructor(msg: string, sqlstate?: string | undefined) {
    super(msg, SystemDatabaseConnectionLost);
    this.sqlstate = sqlstate;
    this.name = 'DBOSConnectionError';
  }
}
