// DBOS.enqueueWorkflowWithOptions(Portable): enqueueing by name from inside an application. The target may live in
// another process or language, so nothing is checked against the local registry; the row is the one
// DBOSClient.enqueue writes (client-enqueue.ts), owned by this application unless the options name another, with
// no application version unless they give one. Inside a workflow it is a child start: one function ID, recorded
// with the parent's checkpoints, so a replay returns the same workflow (or throws the same refusal).
import { currentContext, recordedCheckpoint, takeFunctionID, type WorkflowState } from './context';
import { DBOSInvalidWorkflowTransitionError, type DBOSQueueDuplicatedError } from './error';
import { checkReuse, enqueueRow, type EnqueueWorkflowOptions } from './client-enqueue';
import type { Executor } from './executor';
import type { InternalHandle } from './handles';
import { insertOnQueue, notifyEnqueued } from './queue-dispatch';
import { appSerializationName, deserializeError, serializeError, throwRevived } from './serialization';
import type { WorkflowSerializationFormat } from './serialization';
import { record, settled } from './write-behind';
import { enqueueTogether } from './together';

export async function enqueueByName(
  exec: Executor,
  options: EnqueueWorkflowOptions,
  args: readonly unknown[],
  namedArgs?: Record<string, unknown>,
  defaultSerialization?: WorkflowSerializationFormat,
): Promise<InternalHandle<unknown>> {
  const ctx = currentContext();
  if (ctx?.step) {
    throw new DBOSInvalidWorkflowTransitionError('Invalid call to `enqueueWorkflowWithOptions` from within a `step` or `transaction`');
  }
  const parent = ctx?.workflow;
  const functionID = parent ? takeFunctionID(parent) : undefined;
  // An ID assigned with DBOS.withNextWorkflowID is consumed even on a replay, so it cannot reach a later start.
  let assignedID = options?.workflowID;
  if (!assignedID && ctx?.nextWorkflowID?.id !== undefined) {
    assignedID = ctx.nextWorkflowID.id;
    ctx.nextWorkflowID.id = undefined;
  }
  if (parent && functionID !== undefined) {
    const recorded = recordedCheckpoint(parent, functionID, options?.workflowName);
    if (recorded) {
      if (recorded.error) return throwRevived(deserializeError(recorded.error, recorded.serialization ?? null));
      return exec.handleFor(recorded.childWorkflowId ?? `${parent.workflowID}-${functionID}`);
    }
  }
  // Without a timeout of its own: the one set with DBOS.withWorkflowTimeout, else the parent's deadline (unless
  // withWorkflowTimeout(null) detached it).
  const ambient = ctx?.workflowTimeoutMS;
  const row = await enqueueRow({ ...options, workflowID: assignedID }, args, namedArgs, {
    serializerOpts: {},
    defaultSerialization,
    appName: exec.appName,
    workflowID: parent ? `${parent.workflowID}-${functionID}` : undefined,
    parentWorkflowId: parent?.workflowID,
    inheritedTimeoutMs: options?.workflowTimeoutMS === undefined && ambient ? ambient : undefined,
    inheritedDeadlineEpochMs: options?.workflowTimeoutMS === undefined && !ambient && ambient !== null ? parent?.deadlineEpochMS : undefined,
  });

  if (parent && functionID !== undefined) await settled(exec.engine, parent);
  const startedAt = Date.now();
  const insert = () =>
    parent && functionID !== undefined
      ? exec.engine.enqueueChildByName(parent.workflowID, parent.token, functionID, row)
      : enqueueTogether(exec.engine, row);
  const inserted = await insertOnQueue(exec.engine, row, false, insert);
  if ('duplicated' in inserted) {
    // As in the SDK: a child's collision is recorded at its function ID, so a replay throws it again.
    if (parent && functionID !== undefined) await recordRefusal(exec, parent, functionID, row.name, startedAt, inserted.duplicated);
    throw inserted.duplicated;
  }
  if ('existing' in inserted) return exec.handleFor(inserted.existing);
  const outcome = inserted.outcome;
  if (!outcome.shouldExecute) checkReuse(row, outcome, options.workflowIDReusePolicy);
  // The dispatchers of every process serving the queue (this one included, through the notification) claim it
  // now: the engine notifies them once the row is committed; a child's insert does not.
  else if (parent && functionID !== undefined) await notifyEnqueued(exec.engine, row.queueName);
  return exec.handleFor(row.workflowId);
}

async function recordRefusal(
  exec: Executor,
  parent: WorkflowState,
  functionID: number,
  name: string,
  startedAt: number,
  refusal: DBOSQueueDuplicatedError,
): Promise<void> {
  const format = appSerializationName();
  const error = await serializeError(refusal, format);
  await record(exec.engine, parent, functionID, name, startedAt, { error, serialization: format });
}
