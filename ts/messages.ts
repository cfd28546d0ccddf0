// DBOS.send / DBOS.recv (and DBOSClient.send): argument checks, function IDs, replay and the stored
// format; the engine does the durable part (insert + checkpoint, wait + consume + checkpoint).
import { randomUUID } from 'node:crypto';
import { currentContext, recordedCheckpoint, takeFunctionID, type WorkflowState } from './context';
import { recordedDeadline, whileWaiting } from './durable-time';
import { DBOSError, DBOSInvalidWorkflowTransitionError, DBOSNonExistentWorkflowError } from './error';
import type { Executor } from './executor';
import type { PollingOptions } from './handles';
import { epochMs, OUTSIDE, pollMs, type Engine, type OutgoingMessage } from './native';
import {
  appSerializationName,
  deserializeError,
  deserializeValue,
  serializationNameFor,
  serializeError,
  serializeValue,
  throwRevived,
  type MaybePromise,
  type SerializerOptions,
  type WorkflowSerializationFormat,
} from './serialization';
import { checkDeadlineEpochMS, checkPollingInterval, checkTimeoutSeconds, describe, requireString } from './validation';
import { record, settled } from './write-behind';

export const NULL_TOPIC = '__null__topic__';
/** Postgres refuses a NOTIFY payload of this many bytes or more. */
const NOTIFY_PAYLOAD_LIMIT = 8000;
const DEFAULT_TIMEOUT_SECONDS = 60;
/** With LISTEN/NOTIFY waking waiters, polling is only the fallback for a lost notification. */
export const DEFAULT_WAIT_POLL_MS = 10_000;

export interface SendOptions {
  /** Serialization format override, allows cross-language send/recv */
  serializationType?: WorkflowSerializationFormat;
}

export interface RecvOptions extends PollingOptions {
  /** Give up after this many seconds (default 60) and return null. */
  timeoutSeconds?: number;
  /** Give up at this absolute time (epoch ms); wins over timeoutSeconds. */
  deadlineEpochMS?: number;
}

export type GetEventOptions = RecvOptions;

/** The stored topic: the sentinel for none, else the string itself. */
export function storedTopic(topic: unknown): string {
  if (topic === undefined || topic === null) return NULL_TOPIC;
  return requireString('topic', topic, true);
}

export interface WaitSpec {
  timeoutMS: number;
  pollMs: number;
}

/** Resolves `number | {timeoutSeconds, deadlineEpochMS, pollingIntervalMs}` as the SDK does. */
export function resolveWait(options: number | RecvOptions | undefined, defaultPollMs = DEFAULT_WAIT_POLL_MS): WaitSpec {
  const opts: RecvOptions = typeof options === 'number' ? { timeoutSeconds: options } : (options ?? {});
  if (typeof opts !== 'object') throw new DBOSError(`Invalid wait options ${describe(options)}`);
  const pollMs = opts.pollingIntervalMs ?? defaultPollMs;
  checkPollingInterval(pollMs);
  if (opts.deadlineEpochMS !== undefined) {
    checkDeadlineEpochMS(opts.deadlineEpochMS);
    return { timeoutMS: Math.max(0, opts.deadlineEpochMS - Date.now()), pollMs };
  }
  const seconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  checkTimeoutSeconds(seconds);
  return { timeoutMS: seconds * 1000, pollMs };
}

/** The format a value is written in: the explicit choice, else the workflow's, else the app's. */
export function valueFormat(kind: WorkflowSerializationFormat, wf: WorkflowState | undefined, opts?: SerializerOptions): string {
  if (kind !== undefined) {
    if (kind !== 'portable' && kind !== 'native') throw new DBOSError(`Invalid serializationType ${describe(kind)}`);
    return serializationNameFor(kind, opts);
  }
  return wf?.serialization ?? appSerializationName(opts);
}

/**
 * Serializes a user value (`what` names it in errors). As in DBOS, functions and symbols nested in it are
 * dropped; one that is the value itself is refused (it would leave nothing to read). A Promise only when the
 * serializer is asynchronous.
 */
export function serializeUserValue(what: string, value: unknown, format: string, opts?: SerializerOptions): MaybePromise<string> {
  return serializeValue(value, format, { ...opts, what });
}

export interface SendRequest {
  destinationID: unknown;
  message: unknown;
  topic: unknown;
  idempotencyKey: unknown;
  options: SendOptions | undefined;
}

/**
 * send from workflow code (exactly once, checkpointed as `DBOS.send`), from a step (no checkpoint) or
 * from anywhere else (exactly once only with an idempotency key).
 */
export async function send(engine: Engine, executor: Executor | undefined, req: SendRequest, serializerOpts?: SerializerOptions): Promise<void> {
  // A client (no executor) is never part of the calling workflow, even when called from one.
  const ctx = executor ? currentContext() : undefined;
  const wf = ctx?.workflow;
  const inStep = ctx?.step !== undefined;
  // Synchronously, before any await: the function ID belongs to this call's position in the workflow.
  const functionID = wf && !inStep ? takeFunctionID(wf) : undefined;
  const outgoing = await outgoingMessage(req, wf, serializerOpts);

  if (wf && functionID !== undefined && executor) {
    const cp = recordedCheckpoint(wf, functionID, 'DBOS.send');
    if (cp) {
      if (cp.error) return throwRevived(deserializeError(cp.error, cp.serialization ?? null));
      return;
    }
    await settled(engine, wf);
    const startedAt = Date.now();
    try {
      await engine.send(outgoing, { workflowId: wf.workflowID, token: wf.token, functionId: functionID, startedAt });
    } catch (e) {
      // A missing destination is recorded, so a replay fails the same way without sending.
      if (e instanceof DBOSNonExistentWorkflowError) {
        const ser = appSerializationName();
        await record(engine, wf, functionID, 'DBOS.send', startedAt, { error: await serializeError(e, ser), serialization: ser });
      }
      throw e;
    }
    return;
  }
  if (wf && inStep) {
    await engine.send(outgoing, { workflowId: wf.workflowID, token: wf.token, functionId: null, startedAt: null });
    return;
  }
  await engine.send(outgoing, OUTSIDE);
}

/** A send's checked, serialized message (also what `DBOSClient.sendInTransaction` renders). */
export async function outgoingMessage(req: SendRequest, wf: WorkflowState | undefined, serializerOpts?: SerializerOptions): Promise<OutgoingMessage> {
  // '' names no workflow, like an unknown ID: the engine's insert fails as for one (DBOSNonExistentWorkflowError).
  const destination = requireString('destination workflow ID', req.destinationID, true);
  const topic = storedTopic(req.topic);
  // The schema's notifications trigger NOTIFYs '<destination>::<topic>', which Postgres caps below 8000 bytes.
  const payloadBytes = Buffer.byteLength(`${destination}::${topic}`, 'utf8');
  if (payloadBytes >= NOTIFY_PAYLOAD_LIMIT) {
    throw new DBOSError(
      `Cannot send to workflow ${describe(destination)} on topic ${describe(topic)}: ` +
        `'<destinationID>::<topic>' is ${payloadBytes} bytes, and the system database's notification trigger allows at most ${NOTIFY_PAYLOAD_LIMIT - 1}`,
    );
  }
  if (req.idempotencyKey !== undefined && req.idempotencyKey !== null) requireString('idempotency key', req.idempotencyKey);
  const key = req.idempotencyKey as string | undefined | null;
  const format = valueFormat(req.options?.serializationType, wf, serializerOpts);
  const text = serializeUserValue('the message', req.message, format, serializerOpts);
  const message = typeof text === 'string' ? text : await text;
  return {
    destinationId: destination,
    topic,
    message,
    serialization: format,
    messageUuid: key ? `${key}::${destination}` : randomUUID(),
  };
}

/** recv: workflow code only. Waits for the oldest unconsumed message of the topic; null on timeout. */
export async function recv(engine: Engine, topicArg: unknown, options: number | RecvOptions | undefined): Promise<unknown> {
  const ctx = currentContext();
  if (ctx?.step) throw new DBOSInvalidWorkflowTransitionError('Invalid call to `DBOS.recv` inside a `step` or `transaction`');
  const wf = ctx?.workflow;
  if (!wf) throw new DBOSInvalidWorkflowTransitionError('Attempt to call `DBOS.recv` outside of a workflow');
  const functionID = takeFunctionID(wf, 2);
  const topic = storedTopic(topicArg);
  const wait = resolveWait(options);
  const cp = recordedCheckpoint(wf, functionID, 'DBOS.recv');
  if (cp) return cp.output === null || cp.output === undefined ? null : deserializeValue(cp.output, cp.serialization ?? null);
  const startedAt = Date.now();
  // The deadline is recorded (n+1), so a recovered workflow keeps its original one: by the first try's
  // own statement unless an earlier run recorded it.
  const recorded = wait.timeoutMS > 0 ? recordedDeadline(wf, functionID + 1) : undefined;
  const deadline = wait.timeoutMS > 0 ? (recorded ?? startedAt + Math.ceil(wait.timeoutMS)) : startedAt;
  const recordDeadline = wait.timeoutMS > 0 && recorded === undefined;
  await settled(engine, wf);
  const got = await whileWaiting(engine, wf, `${wf.workflowID}::${topic}`, () =>
    engine.recv({
      workflowId: wf.workflowID,
      token: wf.token,
      functionId: functionID,
      topic,
      deadlineEpochMs: epochMs(deadline),
      recordDeadline,
      startedAt,
      pollMs: pollMs(wait.pollMs),
    }),
  );
  return got.value === null || got.value === undefined ? null : deserializeValue(got.value, got.serialization ?? null);
}
