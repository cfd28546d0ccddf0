// DBOS.setEvent / DBOS.getEvent (and DBOSClient.getEvent): argument checks, function IDs, replay and
// formats; the engine does the durable part (upsert + history + checkpoint + NOTIFY; the wait).
import { currentContext, recordedCheckpoint, takeFunctionID } from './context';
import { durableDeadline, whileWaiting } from './durable-time';
import { DBOSInvalidWorkflowTransitionError } from './error';
import type { Executor } from './executor';
import { resolveWait, serializeUserValue, valueFormat, type GetEventOptions } from './messages';
import { epochMs, pollMs, type Engine } from './native';
import { deserializeValue, type SerializerOptions, type WorkflowSerializationFormat } from './serialization';
import { requireString } from './validation';
import { record, settled } from './write-behind';

export interface SetEventOptions {
  /** Serialization format override, so readers in other languages can read the event */
  serializationType?: WorkflowSerializationFormat;
}

/** setEvent: workflow code only; exactly once (the upsert commits with its checkpoint). */
export async function setEvent(engine: Engine, keyArg: unknown, value: unknown, options: SetEventOptions | undefined): Promise<void> {
  const ctx = currentContext();
  if (ctx?.step) throw new DBOSInvalidWorkflowTransitionError('Invalid call to `DBOS.setEvent` inside a `step` or `transaction`');
  const wf = ctx?.workflow;
  if (!wf) throw new DBOSInvalidWorkflowTransitionError('Attempt to call `DBOS.setEvent` outside of a workflow');
  const functionID = takeFunctionID(wf);
  const key = requireString('event key', keyArg, true);
  const format = valueFormat(options?.serializationType, wf);
  const serialized = serializeUserValue(`the value of event ${JSON.stringify(key)}`, value, format);
  const text = typeof serialized === 'string' ? serialized : await serialized;
  if (recordedCheckpoint(wf, functionID, 'DBOS.setEvent')) return;
  await settled(engine, wf);
  await engine.setEvent({ workflowId: wf.workflowID, token: wf.token, functionId: functionID, key, value: text, serialization: format, startedAt: Date.now() });
}

/**
 * getEvent: waits until the workflow has published `key` (null on timeout). In workflow code the value
 * (or the timeout) is recorded, so a replay returns the same value even if the event changed since.
 */
export async function getEvent(
  engine: Engine,
  executor: Executor | undefined,
  workflowIDArg: unknown,
  keyArg: unknown,
  options: number | GetEventOptions | undefined,
  serializerOpts?: SerializerOptions,
): Promise<unknown> {
  // A client (no executor) is never part of the calling workflow, even when called from one.
  const ctx = executor ? currentContext() : undefined;
  if (ctx?.step) throw new DBOSInvalidWorkflowTransitionError('Invalid call to `DBOS.getEvent` inside a `step` or `transaction`');
  const wf = ctx?.workflow;
  const functionID = wf && executor ? takeFunctionID(wf, 2) : undefined;
  const workflowID = requireString('workflow ID', workflowIDArg);
  const key = requireString('event key', keyArg, true);
  const wait = resolveWait(options);
  // Returned from this async function: a Promise (asynchronous serializer) is adopted, a value costs no hop.
  const read = (text: string | null | undefined, serialization: string | null | undefined) =>
    text === null || text === undefined ? null : deserializeValue(text, serialization ?? null, serializerOpts);

  if (!wf || functionID === undefined || !executor) {
    const found = await engine.getEvent({ workflowId: workflowID, key, deadlineEpochMs: epochMs(Date.now() + wait.timeoutMS), pollMs: pollMs(wait.pollMs), guard: null });
    return found ? read(found.value, found.serialization) : null;
  }
  const cp = recordedCheckpoint(wf, functionID, 'DBOS.getEvent');
  if (cp) return read(cp.output, cp.serialization);
  const startedAt = Date.now();
  const deadline =
    wait.timeoutMS > 0 ? ((await durableDeadline(engine, wf, functionID + 1, wait.timeoutMS, false)) ?? startedAt) : startedAt;
  await settled(engine, wf);
  const found = await whileWaiting(engine, wf, `${workflowID}::${key}`, () =>
    engine.getEvent({ workflowId: workflowID, key, deadlineEpochMs: epochMs(deadline), pollMs: pollMs(wait.pollMs), guard: { workflowId: wf.workflowID, token: wf.token } }),
  );
  await record(engine, wf, functionID, 'DBOS.getEvent', startedAt, {
    output: found?.value ?? null,
    serialization: found?.serialization ?? null,
  });
  return found ? read(found.value, found.serialization) : null;
}
