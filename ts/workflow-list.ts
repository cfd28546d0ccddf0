// Listing workflows (DBOS.listWorkflows / listQueuedWorkflows and the client's): the SDK's GetWorkflowsInput checked
// and normalized into the engine's filter, the rows mapped by the same toWorkflowStatus that getWorkflowStatus uses.
import { DBOSDatabaseError, DBOSError, DBOSQueryTimeoutError } from './error';
import { currentConfig, executor } from './lifecycle';
import type { Engine, ListFilter } from './native';
import type { SerializerOptions } from './serialization';
import { describe, requireString } from './validation';
import { toWorkflowStatus, type WorkflowStatus } from './workflow-status';

export type WorkflowStatusString = 'PENDING' | 'SUCCESS' | 'ERROR' | 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' | 'CANCELLED' | 'ENQUEUED' | 'DELAYED';

/** The filters of a listing (the SDK's `GetWorkflowsInput`): a single value matches with `=`, a list with `IN`. */
export interface GetWorkflowsInput {
  workflowIDs?: string[];
  workflowName?: string | string[];
  status?: WorkflowStatusString | WorkflowStatusString[];
  /** ISO timestamps compared with `created_at`. */
  startTime?: string;
  endTime?: string;
  completedAfter?: string;
  completedBefore?: string;
  dequeuedAfter?: string;
  dequeuedBefore?: string;
  authenticatedUser?: string | string[];
  applicationVersion?: string | string[];
  executorId?: string | string[];
  workflow_id_prefix?: string | string[];
  queueName?: string | string[];
  queuesOnly?: boolean;
  forkedFrom?: string | string[];
  wasForkedFrom?: boolean;
  isFork?: boolean;
  parentWorkflowID?: string | string[];
  hasParent?: boolean;
  attributes?: Record<string, unknown>;
  scheduleName?: string | string[];
  applicationName?: string | string[];
  limit?: number;
  offset?: number;
  sortDesc?: boolean;
  loadInput?: boolean;
  loadOutput?: boolean;
}

/** Postgres's code for a statement cancelled by its statement_timeout. */
const QUERY_CANCELED = '57014';
const DEFAULT_LIST_TIMEOUT_MS = 30_000;
/** statement_timeout is an int32 count of milliseconds. */
const MAX_STATEMENT_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The cap on a listing not keyed by IDs from `observabilityQueryTimeoutMs` (default 30 s; 0 or less: none), checked
 * as the SDK checks it (a plain Error).
 */
export function listTimeoutMs(configured: number | undefined): number | null {
  if (configured === undefined) return DEFAULT_LIST_TIMEOUT_MS;
  if (typeof configured !== 'number' || !Number.isFinite(configured) || configured > MAX_STATEMENT_TIMEOUT_MS) {
    throw new Error(`observabilityQueryTimeoutMs must be a finite number no greater than ${MAX_STATEMENT_TIMEOUT_MS}, got ${String(configured)}`);
  }
  // At least 1 ms: Postgres reads 0 as no timeout.
  return configured > 0 ? Math.max(1, Math.round(configured)) : null;
}

/**
 * A single-or-list filter as a list; unset and '' filter nothing (the SDK skips falsy values). An empty list
 * matches nothing (the SDK sends `IN ()`, a syntax error).
 */
function values(what: string, v: unknown): string[] | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return [requireString(what, v)];
  if (Array.isArray(v)) return v.map((x) => requireString(what, x));
  throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a string or an array of strings`);
}

/** A time bound as epoch ms; unset and '' are none (as in the SDK), anything `Date` cannot read is refused. */
function epoch(what: string, v: unknown): number | null {
  if (v === undefined || v === null || v === '') return null;
  const ms = typeof v === 'string' || typeof v === 'number' || v instanceof Date ? new Date(v).getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a date string`);
  return ms;
}

/** limit / offset: 0 and unset mean none (as in the SDK); otherwise a non-negative integer. */
function count(what: string, v: unknown): number | null {
  if (v === undefined || v === null || v === 0) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a non-negative integer`);
  }
  return v;
}

function flag(what: string, v: unknown): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a boolean`);
  return v;
}

/** The engine's filter for an input; `ownApp` scopes a listing not keyed by IDs when it names no application. */
function toFilter(input: GetWorkflowsInput, ownApp: string | undefined, timeoutMs: number | null): ListFilter {
  if (typeof input !== 'object' || input === null) throw new DBOSError(`Invalid listWorkflows input ${describe(input)}: it must be an object`);
  const ids = input.workflowIDs;
  if (ids !== undefined && ids !== null && !Array.isArray(ids)) {
    throw new DBOSError(`Invalid workflowIDs ${describe(ids)}: they must be an array of workflow IDs`);
  }
  // A workflow ID is a global address: a read by IDs is scoped only by an explicit applicationName.
  const idKeyed = (ids?.length ?? 0) > 0;
  const scope = idKeyed ? input.applicationName : (input.applicationName ?? ownApp);
  const attributes = input.attributes;
  if (attributes !== undefined && attributes !== null && (typeof attributes !== 'object' || Array.isArray(attributes))) {
    throw new DBOSError(`Invalid attributes ${describe(attributes)}: they must be an object`);
  }
  return {
    workflowIds: ids ? ids.map((id) => requireString('workflow ID', id)) : null,
    names: values('workflowName', input.workflowName),
    statuses: values('status', input.status),
    authenticatedUsers: values('authenticatedUser', input.authenticatedUser),
    applicationVersions: values('applicationVersion', input.applicationVersion),
    executorIds: values('executorId', input.executorId),
    idPrefixes: values('workflow_id_prefix', input.workflow_id_prefix),
    queueNames: values('queueName', input.queueName),
    forkedFrom: values('forkedFrom', input.forkedFrom),
    parentWorkflowIds: values('parentWorkflowID', input.parentWorkflowID),
    scheduleNames: values('scheduleName', input.scheduleName),
    applicationNames: values('applicationName', scope) ?? [],
    createdFrom: epoch('startTime', input.startTime),
    createdTo: epoch('endTime', input.endTime),
    completedFrom: epoch('completedAfter', input.completedAfter),
    completedTo: epoch('completedBefore', input.completedBefore),
    dequeuedFrom: epoch('dequeuedAfter', input.dequeuedAfter),
    dequeuedTo: epoch('dequeuedBefore', input.dequeuedBefore),
    queuesOnly: flag('queuesOnly', input.queuesOnly) ?? false,
    wasForkedFrom: flag('wasForkedFrom', input.wasForkedFrom),
    isFork: flag('isFork', input.isFork),
    hasParent: flag('hasParent', input.hasParent),
    attributes: attributes && Object.keys(attributes).length > 0 ? JSON.stringify(attributes) : null,
    limit: count('limit', input.limit),
    offset: count('offset', input.offset),
    sortDesc: flag('sortDesc', input.sortDesc) ?? false,
    loadInput: flag('loadInput', input.loadInput) ?? true,
    loadOutput: flag('loadOutput', input.loadOutput) ?? true,
    timeoutMs,
  };
}

/** Who lists: the engine, the application scope by default, the serializer, the cap (`listTimeoutMs`). */
export interface Lister {
  engine: Engine;
  ownApp: string | undefined;
  serializerOpts?: SerializerOptions;
  timeoutMs: number | null;
}

/** The launched app's lister (`what` names the caller in the error before launch). */
export function appLister(what: string): Lister {
  const exec = executor(what);
  return { engine: exec.engine, ownApp: exec.appName, timeoutMs: listTimeoutMs(currentConfig()?.observabilityQueryTimeoutMs) };
}

/** The workflows matching `input`, oldest first unless `sortDesc`. */
export async function listWorkflows(by: Lister, input: GetWorkflowsInput): Promise<WorkflowStatus[]> {
  const filter = toFilter(input, by.ownApp, by.timeoutMs);
  const rows = await by.engine.listWorkflows(filter).catch((e: unknown) => {
    if (e instanceof DBOSDatabaseError && e.sqlstate === QUERY_CANCELED) throw new DBOSQueryTimeoutError(filter.timeoutMs ?? 0);
    throw e;
  });
  return Promise.all(rows.map((r) => toWorkflowStatus(r, by.serializerOpts)));
}

/**
 * The workflows waiting on or running for a queue (internal queue included), without their outcomes. Like the SDK,
 * it sets `queuesOnly` and `loadOutput` on the caller's object.
 */
export async function listQueuedWorkflows(by: Lister, input: GetWorkflowsInput): Promise<WorkflowStatus[]> {
  if (typeof input !== 'object' || input === null) throw new DBOSError(`Invalid listQueuedWorkflows input ${describe(input)}: it must be an object`);
  input.queuesOnly = true;
  input.loadOutput = false;
  return listWorkflows(by, input);
}
