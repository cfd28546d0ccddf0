// Enqueueing by name (the function need not be known here): the row of DBOSClient.enqueue(Portable), of
// DBOSClient.enqueue(Portable)InTransaction and of DBOS.enqueueWorkflowWithOptions (enqueue-by-name.ts), stamped
// as the SDK stamps it: the application version the caller asked for (NULL: the latest version's executors take
// it), the owning application (the caller's, else the enqueuer's default, else NULL: unclaimed), and no executor
// until a dispatcher claims it.
import { randomUUID } from 'node:crypto';
import { DBOSConflictingWorkflowError, DBOSError, DBOSQueueDuplicatedError, DBOSWorkflowIDInUseError } from './error';
import type { WorkflowIDReusePolicy } from './dbos';
import { checkPriority, checkReturnExisting, insertOnQueue, placement, warnIfUnregistered } from './queue-dispatch';
import type { Engine, NewWorkflow, StartOutcome } from './native';
import { enqueueTogether } from './together';
import { serializeArgs, type SerializerOptions, type WorkflowSerializationFormat } from './serialization';
import { valueFormat } from './messages';
import { checkWorkflowTimeout, requireString } from './validation';

/** A workflow to enqueue by name (the SDK's `EnqueueWorkflowOptions`). */
export interface EnqueueWorkflowOptions {
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
  /** The application that owns and runs it; defaults to the enqueuer's. */
  applicationName?: string;
}

/** The options of `DBOSClient.enqueue` (the SDK's `ClientEnqueueOptions`). */
export interface ClientEnqueueOptions extends EnqueueWorkflowOptions {
  /** On a deduplication collision: reject (default) or return the ID of the workflow holding it. */
  duplicationPolicy?: 'reject' | 'return-existing';
}

/** What the enqueuer adds to the options: its serializer and defaults, and (in a workflow) the parent. */
export interface RowContext {
  serializerOpts: SerializerOptions;
  /** `enqueuePortable` writes portable_json unless told otherwise. */
  defaultSerialization?: WorkflowSerializationFormat;
  /** The owner when the options name none (null: unclaimed). */
  appName: string | null;
  /** The ID when the options give none (a child's derived ID); else a random UUID. */
  workflowID?: string;
  parentWorkflowId?: string;
  /** Inherited when the options set no timeout: a timeout from dequeue, or an absolute deadline. */
  inheritedTimeoutMs?: number;
  inheritedDeadlineEpochMs?: number;
}

/** The SDK's checks of the options, then the row they describe (not written). */
export async function enqueueRow(
  o: EnqueueWorkflowOptions,
  args: readonly unknown[],
  namedArgs: Record<string, unknown> | undefined,
  ctx: RowContext,
): Promise<NewWorkflow & { queueName: string }> {
  const queueName = requireString('queueName', o?.queueName);
  const workflowName = requireString('workflowName', o.workflowName);
  const auth = authColumns(o.authenticatedUser, o.authenticatedRoles, o.attributes);
  checkPriority(o.priority);
  if (o.workflowID !== undefined && requireString('workflow ID', o.workflowID, true).trim() === '') {
    throw new DBOSError(`Invalid workflow ID '${o.workflowID}': workflow IDs must be non-empty and cannot be only whitespace.`);
  }
  for (const [what, v] of [
    ['deduplication ID', o.deduplicationID],
    ['queuePartitionKey', o.queuePartitionKey],
    ['appVersion', o.appVersion],
    ['applicationName', o.applicationName],
  ] as const) {
    if (v !== undefined) requireString(what, v, true);
  }
  checkWorkflowTimeout(o.workflowTimeoutMS);
  const format = valueFormat(o.serializationType ?? ctx.defaultSerialization, undefined, ctx.serializerOpts);
  const text = serializeArgs(args, format, namedArgs, ctx.serializerOpts);
  const inputs = typeof text === 'string' ? text : await text;
  const timeoutMs = typeof o.workflowTimeoutMS === 'number' ? o.workflowTimeoutMS : ctx.inheritedTimeoutMs;
  return {
    workflowId: o.workflowID ?? ctx.workflowID ?? randomUUID(),
    ...placement(o),
    name: workflowName,
    className: o.workflowClassName || null,
    configName: o.workflowConfigName || null,
    queueName,
    inputs,
    serialization: format,
    token: randomUUID(),
    timeoutMs: timeoutMs !== undefined ? Math.round(timeoutMs) : null,
    // A queued workflow's own timeout starts at dequeue; only an inherited deadline is absolute already.
    deadlineEpochMs: timeoutMs === undefined ? (ctx.inheritedDeadlineEpochMs ?? null) : null,
    parentWorkflowId: ctx.parentWorkflowId ?? null,
    deduplicationId: o.deduplicationID ?? null,
    priority: o.priority ?? 0,
    appName: o.applicationName ?? ctx.appName,
    appVersion: o.appVersion ?? null,
    ...auth,
    // Set only by DBOSClient.enqueueDebounced (debouncer-client.ts).
    isDebounced: null,
    debounceDeadlineEpochMs: null,
  };
}

/**
 * The columns of who asked and the workflow's attributes, checked (attributes with the SDK's messages); null when
 * unset (the row then gets '' and '[]', as the SDK writes them).
 */
export function authColumns(
  user: unknown,
  roles: unknown,
  attributes: unknown,
): Pick<NewWorkflow, 'authenticatedUser' | 'authenticatedRoles' | 'attributes'> {
  const attributesText = attributesJSON(attributes);
  const authenticatedUser = user === undefined ? null : requireString('authenticatedUser', user, true);
  return { authenticatedUser, authenticatedRoles: rolesJSON(roles), attributes: attributesText };
}

/** Authenticated roles as stored (JSON text). */
function rolesJSON(roles: unknown): string | null {
  if (roles === undefined) return null;
  if (!Array.isArray(roles)) throw new DBOSError('Invalid authenticatedRoles: it must be an array of strings');
  for (const r of roles) requireString('authenticated role', r, true);
  return JSON.stringify(roles);
}

/** Workflow attributes as stored (jsonb): a key-value object, as the SDK requires (its checks and messages). */
function attributesJSON(attributes: unknown): string | null {
  if (attributes === undefined || attributes === null) return null;
  if (typeof attributes !== 'object' || Array.isArray(attributes)) {
    throw new DBOSError(`Invalid workflow attributes: must be a key-value object, got ${Array.isArray(attributes) ? 'array' : typeof attributes}.`);
  }
  let text: string;
  try {
    text = JSON.stringify(attributes);
  } catch (e) {
    throw new DBOSError(`Invalid workflow attributes: must be JSON-serializable. ${e instanceof Error ? e.message : String(e)}`);
  }
  if (text === '{}' && Object.keys(attributes).length > 0) {
    throw new DBOSError('Invalid workflow attributes: object has no JSON-serializable properties.');
  }
  return text;
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

function clientRow(req: ClientEnqueue): Promise<NewWorkflow & { queueName: string }> {
  return enqueueRow(req.options, req.args, req.namedArgs, {
    serializerOpts: req.serializerOpts,
    defaultSerialization: req.defaultSerialization,
    appName: req.clientAppName ?? null,
  });
}

/** Writes the row (or finds the workflow it collides with) and returns the ID of the workflow to follow. */
export async function clientEnqueue(req: ClientEnqueue): Promise<string> {
  const o = req.options;
  const row = await clientRow(req);
  const returnExisting = o.duplicationPolicy === 'return-existing';
  if (returnExisting) checkReturnExisting(row.queueName, o.deduplicationID, true);
  const inserted = await insertOnQueue(req.engine, row, returnExisting, () => enqueueTogether(req.engine, row));
  if ('duplicated' in inserted) throw inserted.duplicated;
  if ('existing' in inserted) return inserted.existing;
  // The app processes serving the queue claim it now rather than at their next poll: the engine notifies them once
  // the row is committed (queue_notices.rs).
  if (!inserted.outcome.shouldExecute) checkReuse(row, inserted.outcome, o.workflowIDReusePolicy);
  return row.workflowId;
}

/** The `pg` client of `enqueueInTransaction`: any `pg` Client or PoolClient (only its `query` is used). */
export interface PgClientBase {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** The one row the rendered enqueue statement returns (`Engine::render_enqueue`). */
interface RenderedOutcome {
  status: string | null;
  name: string | null;
  class_name: string | null;
  config_name: string | null;
  creator_xid: string | null;
  partitioned: boolean | null;
}

/**
 * `enqueueInTransaction`: the engine renders the insert (and the queue's notification, delivered at commit) and
 * it runs on the caller's connection, in the caller's open transaction. A deduplication collision aborts that
 * transaction, as with the SDK: the caller must roll back.
 */
export async function clientEnqueueInTransaction(pg: PgClientBase, req: ClientEnqueue): Promise<string> {
  if (req.options?.duplicationPolicy === 'return-existing') {
    throw new DBOSError("`duplicationPolicy: 'return-existing'` is not supported in a caller-owned transaction");
  }
  const row = await clientRow(req);
  const statement = await req.engine.renderEnqueue(row);
  let result: { rows: unknown[] };
  try {
    result = await pg.query(statement.text, statement.values);
  } catch (e) {
    const sqlstate = (e as { code?: unknown } | null)?.code;
    if (sqlstate === '23505' && row.deduplicationId !== null) {
      throw new DBOSQueueDuplicatedError(row.workflowId, row.queueName, row.deduplicationId);
    }
    throw e;
  }
  const r = result.rows[0] as RenderedOutcome;
  if (r.status === null) {
    // The engine's refusal, as `enqueue` raises it (see start_sql.rs).
    throw new DBOSError(
      `Queue '${row.queueName}' is partitioned: a workflow enqueued on it needs a queuePartitionKey ` +
        '(without one it would never be dequeued). Nothing was enqueued.',
    );
  }
  warnIfUnregistered(row.queueName, { queueRegistered: r.partitioned !== null });
  if (r.creator_xid !== row.token) {
    const existing = { status: r.status, name: r.name ?? '', className: r.class_name, configName: r.config_name };
    checkReuse(row, existing, req.options.workflowIDReusePolicy);
  }
  return row.workflowId;
}

/**
 * The ID was in use: 'reject' refuses it; otherwise the workflow already there is returned if it is the
 * same function (the SDK's checks and messages).
 */
export function checkReuse(
  row: NewWorkflow,
  existing: Pick<StartOutcome, 'status' | 'name' | 'className' | 'configName'>,
  policy: WorkflowIDReusePolicy | undefined,
): void {
  const id = row.workflowId;
  if (policy === 'reject') throw new DBOSWorkflowIDInUseError(id, existing.status, existing.name);
  const mismatch = (what: string, had: string, given: string): DBOSConflictingWorkflowError =>
    new DBOSConflictingWorkflowError(id, `Workflow already exists with a different ${what}: ${had}, but the provided ${what} is: ${given}`);
  if (existing.name !== row.name) throw mismatch('function name', existing.name, row.name);
  if ((existing.className ?? '') !== (row.className ?? '')) throw mismatch('class name', existing.className ?? '', row.className ?? '');
  if ((existing.configName ?? '') !== (row.configName ?? '')) throw mismatch('class configuration', existing.configName ?? '', row.configName ?? '');
}
