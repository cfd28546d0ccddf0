// DBOSClient.enqueue / enqueuePortable: an ENQUEUED row written by name (the function need not be known here),
// stamped as the SDK's client stamps it: the application version the caller asked for (NULL: the latest
// version's executors take it), the owning application (the caller's, else the client's, else NULL:
// unclaimed), and no executor until a dispatcher claims it.
import { randomUUID } from 'node:crypto';
import { DBOSConflictingWorkflowError, DBOSError, DBOSWorkflowIDInUseError } from './error';
import type { WorkflowIDReusePolicy } from './dbos';
import { checkPriority, checkReturnExisting, insertOnQueue, notifyEnqueued, refuseNotYet } from './queue-dispatch';
import type { Engine, NewWorkflow, StartOutcome } from './native';
import { serializeArgs, type SerializerOptions, type WorkflowSerializationFormat } from './serialization';
import { valueFormat } from './messages';
import { checkWorkflowTimeout, requireString } from './validation';

/** The options of `DBOSClient.enqueue` (the SDK's `ClientEnqueueOptions`). */
export interface ClientEnqueueOptions {
  queueName: string;
  workflowName: string;
  workflowClassName?: string;
  workflowConfigName?: string;
  workflowID?: string;
  workflowIDReusePolicy?: WorkflowIDReusePolicy;
  /** The application version that must run it; unset: executors of the latest version. */
  appVersion?: string;
  /** Measured from when the workflow is dequeued. */
  workflowTimeoutMS?: number;
  deduplicationID?: string;
  serializationType?: WorkflowSerializationFormat;
  priority?: number;
  queuePartitionKey?: string;
  delaySeconds?: number;
  attributes?: Record<string, unknown>;
  authenticatedUser?: string;
  authenticatedRoles?: string[];
  /** The application that owns and runs it; defaults to the client's. */
  applicationName?: string;
  /** On a deduplication collision: reject (default) or return the ID of the workflow holding it. */
  duplicationPolicy?: 'reject' | 'return-existing';
}

export interface ClientEnqueue {
  engine: Engine;
  clientAppName: string | undefined;
  serializerOpts: SerializerOptions;
  options: ClientEnqueueOptions;
  args: readonly unknown[];
  namedArgs?: Record<string, unknown>;
  /** `enqueuePortable` writes portable_json unless told otherwise. */
  defaultSerialization?: WorkflowSerializationFormat;
}

/** Writes the row (or finds the workflow it collides with) and returns the ID of the workflow to follow. */
export async function clientEnqueue(req: ClientEnqueue): Promise<string> {
  const o = req.options;
  const queueName = requireString('queueName', o?.queueName);
  const workflowName = requireString('workflowName', o.workflowName);
  checkPriority(o.priority);
  if (o.workflowID !== undefined && requireString('workflow ID', o.workflowID, true).trim() === '') {
    throw new DBOSError(`Invalid workflow ID '${o.workflowID}': workflow IDs must be non-empty and cannot be only whitespace.`);
  }
  if (o.deduplicationID !== undefined) requireString('deduplication ID', o.deduplicationID, true);
  checkWorkflowTimeout(o.workflowTimeoutMS);
  refuseUnsupported(o);
  const format = valueFormat(o.serializationType ?? req.defaultSerialization, undefined, req.serializerOpts);
  const text = serializeArgs(req.args, format, req.namedArgs, req.serializerOpts);
  const inputs = typeof text === 'string' ? text : await text;
  const returnExisting = o.duplicationPolicy === 'return-existing';
  if (returnExisting) checkReturnExisting(queueName, o.deduplicationID, true);

  const row: NewWorkflow = {
    workflowId: o.workflowID ?? randomUUID(),
    status: 'ENQUEUED',
    name: workflowName,
    className: o.workflowClassName || null,
    configName: o.workflowConfigName || null,
    queueName,
    inputs,
    serialization: format,
    token: randomUUID(),
    timeoutMs: typeof o.workflowTimeoutMS === 'number' ? Math.round(o.workflowTimeoutMS) : null,
    deadlineEpochMs: null,
    parentWorkflowId: null,
    deduplicationId: o.deduplicationID ?? null,
    priority: o.priority ?? 0,
  };
  const appName = o.applicationName ?? req.clientAppName ?? null;
  const inserted = await insertOnQueue(req.engine, { ...row, queueName }, returnExisting, () =>
    req.engine.enqueueForClient(row, o.appVersion ?? null, appName),
  );
  if ('duplicated' in inserted) throw inserted.duplicated;
  if ('existing' in inserted) return inserted.existing;
  if (!inserted.outcome.shouldExecute) checkReuse(row, inserted.outcome, o.workflowIDReusePolicy);
  // The app processes serving the queue claim it now rather than at their next poll.
  else await notifyEnqueued(req.engine, queueName);
  return row.workflowId;
}

/**
 * The ID was in use: 'reject' refuses it; otherwise the workflow already there is returned if it is the
 * same function (the SDK's checks and messages).
 */
function checkReuse(row: NewWorkflow, existing: StartOutcome, policy: WorkflowIDReusePolicy | undefined): void {
  const id = row.workflowId;
  if (policy === 'reject') throw new DBOSWorkflowIDInUseError(id, existing.status, existing.name);
  const mismatch = (what: string, had: string, given: string): DBOSConflictingWorkflowError =>
    new DBOSConflictingWorkflowError(id, `Workflow already exists with a different ${what}: ${had}, but the provided ${what} is: ${given}`);
  if (existing.name !== row.name) throw mismatch('function name', existing.name, row.name);
  if ((existing.className ?? '') !== (row.className ?? '')) throw mismatch('class name', existing.className ?? '', row.className ?? '');
  if ((existing.configName ?? '') !== (row.configName ?? '')) throw mismatch('class configuration', existing.configName ?? '', row.configName ?? '');
}

/** Options this build does not write yet: refused rather than silently dropped. */
function refuseUnsupported(o: ClientEnqueueOptions): void {
  refuseNotYet([
    o.queuePartitionKey !== undefined && 'queuePartitionKey',
    (o.delaySeconds ?? 0) > 0 && 'delaySeconds',
    o.attributes !== undefined && 'attributes',
    o.authenticatedUser !== undefined && 'authenticatedUser',
    o.authenticatedRoles !== undefined && 'authenticatedRoles',
  ]);
}
