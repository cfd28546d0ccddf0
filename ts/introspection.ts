// Introspection and management of single workflows, shared by DBOS and DBOSClient: each call checks its
// arguments (a rejection, the database untouched) before the engine's one statement.
import { DBOSError, DBOSWorkflowConflictError, DBOSWorkflowIDInUseError } from './error';
import type { Engine } from './native';
import { deserializeError, deserializeValue, withFallback, type SerializerOptions } from './serialization';
import { INTERNAL_QUEUE } from './recovery';
import { describe, requireString, requireWorkflowIDs } from './validation';

/** One recorded operation of a workflow (the SDK's `StepInfo`). */
export interface StepInfo {
  readonly functionID: number;
  readonly name: string;
  readonly output: unknown;
  readonly error: Error | null;
  readonly childWorkflowID: string | null;
  readonly startedAtEpochMs?: number;
  readonly completedAtEpochMs?: number;
}

export interface ListWorkflowStepsOptions {
  limit?: number;
  offset?: number;
}

/** Who reads: the engine and the serializer that reads payloads. */
export interface Reader {
  engine: Engine;
  serializerOpts?: SerializerOptions;
}

/** limit / offset of a step listing: unset is none; 0 is kept (the SDK sends `LIMIT 0` as given). */
function pageBound(what: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a non-negative integer`);
  }
  return v;
}

/**
 * The workflow's recorded operations (steps, children, sleeps, messages, events...) in function order, or
 * undefined if there is no such workflow. Unreadable payloads come back as the SDK shows them: the stored
 * text for an output, an `Error` carrying the text for an error.
 */
export async function listWorkflowSteps(
  by: Reader,
  workflowID: string,
  options: ListWorkflowStepsOptions | undefined,
  loadOutput = true,
): Promise<StepInfo[] | undefined> {
  const id = requireString('workflow ID', workflowID);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new DBOSError(`Invalid listWorkflowSteps options ${describe(options)}: it must be an object`);
  }
  const page = { limit: pageBound('limit', options?.limit), offset: pageBound('offset', options?.offset), loadOutput };
  const rows = await by.engine.listWorkflowSteps(id, page);
  if (!rows) return undefined;
  return Promise.all(
    rows.map(async (r): Promise<StepInfo> => {
      const ser = r.serialization;
      const output = r.output ? await withFallback(() => deserializeValue(r.output, ser, by.serializerOpts), () => r.output) : null;
      const error = r.error ? await withFallback(() => deserializeError(r.error, ser, by.serializerOpts), () => new Error(r.error ?? '')) : null;
      return {
        functionID: r.functionId,
        name: r.name,
        output,
        error,
        childWorkflowID: r.childWorkflowId,
        // As the SDK: a 0 or missing time is left out.
        startedAtEpochMs: r.startedAtEpochMs ? r.startedAtEpochMs : undefined,
        completedAtEpochMs: r.completedAtEpochMs ? r.completedAtEpochMs : undefined,
      };
    }),
  );
}

/** The options of forkWorkflow (the SDK's). */
export interface ForkWorkflowOptions {
  newWorkflowID?: string;
  applicationVersion?: string;
  timeoutMS?: number;
  queueName?: string;
  queuePartitionKey?: string;
  /** Child workflow IDs recorded before the start step to record in their place: `{ old: new }`. */
  replacementChildren?: Record<string, string>;
}

function optionalString(what: string, v: unknown): string | null {
  return v === undefined || v === null ? null : requireString(what, v);
}

/**
 * Forks `workflowID` into a new ENQUEUED workflow (on `queueName`, default the internal queue) that replays the
 * original's operations, stream values and events recorded before `startStep` and runs the rest. `owner` claims
 * the fork of an unclaimed workflow. Returns the queue it went on (null: the internal one).
 */
export async function forkWorkflow(
  engine: Engine,
  workflowID: string,
  startStep: number,
  options: ForkWorkflowOptions | undefined,
  ids: { newWorkflowID: string; owner: string | undefined },
): Promise<string | null> {
  const id = requireString('workflow ID', workflowID);
  // The SDK reads a step below 1 as "copy nothing"; a fraction or a huge number would fail in its SQL.
  if (typeof startStep !== 'number' || !Number.isInteger(startStep) || Math.abs(startStep) > 2 ** 31 - 1) {
    throw new DBOSError(`Invalid startStep ${describe(startStep)}: it must be an integer`);
  }
  const o: ForkWorkflowOptions = options ?? {};
  if (typeof o !== 'object' || o === null) throw new DBOSError(`Invalid forkWorkflow options ${describe(options)}: it must be an object`);
  const timeout = o.timeoutMS;
  if (timeout !== undefined && timeout !== null && (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 0)) {
    throw new DBOSError(`Invalid timeoutMS ${describe(timeout)}: it must be a non-negative integer`);
  }
  const replacements = o.replacementChildren ?? {};
  if (typeof replacements !== 'object' || replacements === null || Array.isArray(replacements)) {
    throw new DBOSError(`Invalid replacementChildren ${describe(replacements)}: it must be an object of child workflow IDs`);
  }
  const pairs = Object.entries(replacements).map(([k, v]) => [k, requireString('replacement child ID', v)]);
  const queueName = optionalString('queueName', o.queueName);
  const newID = requireString('newWorkflowID', ids.newWorkflowID);
  await engine.forkWorkflow({
    workflowId: id,
    newWorkflowId: newID,
    startStep,
    queueName: queueName ?? INTERNAL_QUEUE,
    applicationVersion: optionalString('applicationVersion', o.applicationVersion),
    timeoutMs: timeout ?? null,
    queuePartitionKey: optionalString('queuePartitionKey', o.queuePartitionKey),
    claimAs: ids.owner ? ids.owner : null,
    replacedChildren: pairs.map(([k]) => k),
    replacingChildren: pairs.map(([, v]) => v),
  }).catch(async (e: unknown) => {
    // The engine reports the taken ID as a conflict; say who holds it (the SDK lets the driver's error through).
    if (!(e instanceof DBOSWorkflowConflictError)) throw e;
    const holder = await engine.getWorkflowStatus(newID);
    throw new DBOSWorkflowIDInUseError(newID, holder?.status ?? 'unknown', holder?.name ?? '');
  });
  return queueName;
}

/** Deletes workflows (and, with `deleteChildren`, all their descendants) irreversibly; unknown IDs are ignored. */
export async function deleteWorkflows(engine: Engine, workflowIDs: string[], deleteChildren: boolean | undefined): Promise<void> {
  requireWorkflowIDs(workflowIDs);
  if (deleteChildren !== undefined && typeof deleteChildren !== 'boolean') {
    throw new DBOSError(`Invalid deleteChildren ${describe(deleteChildren)}: it must be a boolean`);
  }
  await engine.deleteWorkflows(workflowIDs, deleteChildren === true);
}
