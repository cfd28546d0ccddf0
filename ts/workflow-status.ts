// The workflow status the API shows (WorkflowStatus), built from a status row, and the legacy shape the
// SDK records for a `getStatus` checkpoint (so a replay returns what the first run saw).
import type { WorkflowStatusRow } from './native';
import {
  deserializeArgs,
  deserializeError,
  deserializeValue,
  isPromiseLike,
  withFallback,
  type MaybePromise,
  type SerializerOptions,
} from './serialization';

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

function nonEmpty(s: string | null | undefined): string | undefined {
  return s ? s : undefined;
}

function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The stored authenticated roles: undefined if none are stored, [] if unreadable. */
function rolesOf(r: WorkflowStatusRow): string[] | undefined {
  if (!r.authenticatedRoles) return undefined;
  const text = r.authenticatedRoles;
  return safely(() => JSON.parse(text) as string[]) ?? [];
}

/**
 * A status row as the API shows it (unreadable input, output or error become undefined). A Promise only when
 * the serializer is asynchronous.
 */
export function toWorkflowStatus(r: WorkflowStatusRow, opts?: SerializerOptions): MaybePromise<WorkflowStatus> {
  const ser = r.serialization ?? null;
  const none = () => undefined;
  const input = r.inputs ? withFallback(() => deserializeArgs(r.inputs ?? '', ser, opts), none) : undefined;
  const output = r.output ? withFallback(() => deserializeValue(r.output ?? null, ser, opts), none) : undefined;
  const error = r.error ? withFallback(() => deserializeError(r.error ?? null, ser, opts), none) : undefined;
  if (isPromiseLike(input) || isPromiseLike(output) || isPromiseLike(error)) {
    return Promise.all([input, output, error]).then(([i, o, e]) => statusOf(r, i, o, e));
  }
  return statusOf(r, input, output, error);
}

function statusOf(r: WorkflowStatusRow, input: unknown[] | undefined, output: unknown, error: Error | undefined): WorkflowStatus {
  // The SDK passes these four columns through as read, so a NULL shows as null (not undefined) there too.
  const raw = (v: string | null) => v as string | undefined;
  return {
    workflowID: r.workflowId,
    status: r.status,
    workflowName: r.name ?? '',
    workflowClassName: r.className ?? '',
    workflowConfigName: r.configName ?? '',
    queueName: nonEmpty(r.queueName),
    authenticatedUser: raw(r.authenticatedUser),
    assumedRole: raw(r.assumedRole),
    authenticatedRoles: rolesOf(r) ?? [],
    input,
    output,
    error,
    executorId: raw(r.executorId),
    applicationVersion: raw(r.applicationVersion),
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
    delayUntilEpochMS: r.delayUntilEpochMs ?? undefined,
    attributes: attributesOf(r),
    scheduleName: r.scheduleName ?? undefined,
  };
}

/** The stored attributes object (jsonb, read as text); undefined if none or unreadable. */
function attributesOf(r: WorkflowStatusRow): Record<string, unknown> | undefined {
  const text = r.attributes;
  return text ? safely(() => JSON.parse(text) as Record<string, unknown>) : undefined;
}

/** The shape the SDK records for a `getStatus` checkpoint (key order as it writes them). */
export interface LegacyStatus {
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

export function toLegacyStatus(r: WorkflowStatusRow): LegacyStatus {
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
    authenticatedRoles: rolesOf(r),
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

export function fromLegacyStatus(l: LegacyStatus): WorkflowStatusRow {
  return {
    workflowId: l.workflowUUID,
    status: l.status,
    name: l.workflowName ?? null,
    className: l.workflowClassName || null,
    configName: l.workflowConfigName || null,
    authenticatedUser: l.authenticatedUser ?? null,
    assumedRole: l.assumedRole ?? null,
    authenticatedRoles: l.authenticatedRoles ? JSON.stringify(l.authenticatedRoles) : null,
    output: l.output ?? null,
    error: l.error ?? null,
    inputs: l.input ?? null,
    executorId: l.executorId ?? null,
    applicationVersion: l.applicationVersion ?? null,
    applicationId: l.applicationID ?? null,
    applicationName: l.applicationName ?? null,
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
    completedAt: l.completedAt ?? null,
    startedAtEpochMs: null,
    recoveryAttempts: l.recoveryAttempts ?? null,
    queueName: null,
    workflowTimeoutMs: null,
    workflowDeadlineEpochMs: null,
    deduplicationId: null,
    priority: l.priority,
    queuePartitionKey: null,
    forkedFrom: null,
    parentWorkflowId: l.parentWorkflowID ?? null,
    serialization: l.serialization ?? null,
    wasForkedFrom: l.wasForkedFrom,
    delayUntilEpochMs: null,
    attributes: null,
    scheduleName: null,
  };
}
