// DBOS.writeStream / closeStream / readStream / readStreamOffset (and the DBOSClient readers): context
// rules, function IDs, replay of recorded reads and formats. The engine appends (with the checkpoint
// and NOTIFY in one statement; workflow code's writes behind the workflow, like step checkpoints) and
// returns pages of values, waiting through the process's listener.
import { currentContext, recordedCheckpoint, takeFunctionID, workflowCode, type WorkflowState } from './context';
import { whileWaiting } from './durable-time';
import { DBOSError, DBOSInvalidWorkflowTransitionError, DBOSStreamNondeterminismError, DBOSStreamTimeoutError } from './error';
import type { Executor } from './executor';
import type { PollingOptions } from './handles';
import { serializeUserValue, valueFormat } from './messages';
import { epochMs, pollMs as enginePollMs, type Engine, type StreamPage } from './native';
import { outcomeCheckpoint } from './results';
import {
  appSerializationName,
  deserializeValue,
  isPromiseLike,
  PORTABLE_JSON,
  replayCheckpoint,
  type MaybePromise,
  type SerializerOptions,
  type WorkflowSerializationFormat,
} from './serialization';
import { checkPollingInterval, checkStreamOffset, checkStreamTimeoutSeconds, describe, requireString } from './validation';
import { record, settled, writeStreamBehind } from './write-behind';

/** A stream ends at a value equal to this string (closeStream writes it as portable JSON). */
export const STREAM_CLOSED = '__DBOS_STREAM_CLOSED__';
const STORED_CLOSE_MARKER = JSON.stringify(STREAM_CLOSED);
/** With LISTEN/NOTIFY waking readers, polling only catches a lost notification. */
const DEFAULT_STREAM_POLL_MS = 1000;
/** Values per page a reader pulls across the napi boundary (the engine also caps a page at ~1 MB). */
const PAGE_SIZE = 1000;

export interface WriteStreamOptions {
  /** Serialization format override, allows cross-language writeStream / readStream */
  serializationType?: WorkflowSerializationFormat;
}

export interface ReadStreamOptions extends PollingOptions {
  /** Offset to start reading from (defaults to 0, the start of the stream) */
  offset?: number;
  /** How long to wait for each value before throwing `DBOSStreamTimeoutError`, in seconds (default: forever). */
  timeoutSeconds?: number;
}

export type ReadStreamOffsetOptions = Omit<ReadStreamOptions, 'offset'>;

interface ResolvedRead {
  offset: number;
  pollMs: number;
  timeoutMS: number | undefined;
}

function resolveRead(options: ReadStreamOptions | undefined): ResolvedRead {
  const opts = options ?? {};
  if (typeof opts !== 'object') throw new DBOSError(`Invalid readStream options ${describe(opts)}: they must be an object`);
  const offset = checkStreamOffset(opts.offset ?? 0);
  const poll = opts.pollingIntervalMs;
  if (poll !== undefined) checkPollingInterval(poll, true);
  const seconds = opts.timeoutSeconds;
  if (seconds !== undefined) checkStreamTimeoutSeconds(seconds);
  return { offset, pollMs: poll ?? DEFAULT_STREAM_POLL_MS, timeoutMS: seconds === undefined ? undefined : seconds * 1000 };
}

type StreamCall = 'DBOS.writeStream' | 'DBOS.closeStream';

/** The writer: workflow code (exactly once, checkpointed) or a step (at least once, under the step's ID). */
function writerContext(what: StreamCall): { wf: WorkflowState; functionID: number; checkpoint: StreamCall | undefined } {
  const ctx = currentContext();
  const wf = ctx?.workflow;
  if (!wf) throw new DBOSInvalidWorkflowTransitionError(`Invalid call to \`${what}\` outside of a workflow or step`);
  if (ctx.step) return { wf, functionID: ctx.step.stepID, checkpoint: undefined };
  // Synchronously, before any await: the ID belongs to this call's position in the workflow.
  return { wf, functionID: takeFunctionID(wf), checkpoint: what };
}

async function append(
  engine: Engine,
  what: StreamCall,
  keyArg: unknown,
  text: () => { value: MaybePromise<string>; serialization: string },
): Promise<void> {
  const { wf, functionID, checkpoint } = writerContext(what);
  const key = requireString('stream key', keyArg, true);
  const serialized = text();
  const value = typeof serialized.value === 'string' ? serialized.value : await serialized.value;
  const serialization = serialized.serialization;
  if (checkpoint) {
    if (recordedCheckpoint(wf, functionID, checkpoint)) return;
    await writeStreamBehind(engine, wf, functionID, checkpoint, key, value, serialization);
    return;
  }
  // A step's value goes after those its workflow wrote before it, still queued.
  await settled(engine, wf);
  await engine.writeStream({
    workflowId: wf.workflowID,
    token: wf.token,
    functionId: functionID,
    checkpointName: null,
    startedAt: Date.now(),
    key,
    value,
    serialization,
  });
}

export function writeStream(engine: Engine, key: unknown, value: unknown, options: WriteStreamOptions | undefined): Promise<void> {
  return append(engine, 'DBOS.writeStream', key, () => {
    const serialization = valueFormat(options?.serializationType, currentContext()?.workflow);
    return { value: serializeUserValue(`the value written to stream ${JSON.stringify(key)}`, value, serialization), serialization };
  });
}

export function closeStream(engine: Engine, key: unknown): Promise<void> {
  return append(engine, 'DBOS.closeStream', key, () => ({ value: STORED_CLOSE_MARKER, serialization: PORTABLE_JSON }));
}

/**
 * Records what a workflow's read delivered, one function ID per value (and one for the end or a
 * timeout), so a replay yields the same sequence even if the stream has grown since.
 */
class ReadCheckpointer {
  private replaying: boolean;
  private inFlight = false;
  private startedAt = 0;

  constructor(
    private readonly engine: Engine,
    readonly wf: WorkflowState,
    private readonly key: string,
    private readonly name: string,
  ) {
    this.replaying = wf.recorded !== null;
  }

  /** Reserves the ID of the next delivered value. Two reads interleaving would number by scheduling. */
  begin(): number {
    if ((this.wf.activeStreamReads ?? 0) > 0) throw new DBOSStreamNondeterminismError(this.wf.workflowID, this.key);
    this.wf.activeStreamReads = (this.wf.activeStreamReads ?? 0) + 1;
    this.inFlight = true;
    this.startedAt = Date.now();
    return takeFunctionID(this.wf);
  }

  end(): void {
    if (!this.inFlight) return;
    this.inFlight = false;
    this.wf.activeStreamReads = (this.wf.activeStreamReads ?? 1) - 1;
  }

  /**
   * The recorded value at `functionID` ({found: false} from the first unrecorded one on); the value is a
   * Promise only when the serializer is asynchronous.
   */
  replay(functionID: number): { found: false } | { found: true; value: MaybePromise<unknown> } {
    if (!this.replaying) return { found: false };
    const cp = recordedCheckpoint(this.wf, functionID, this.name);
    if (!cp) {
      this.replaying = false;
      return { found: false };
    }
    this.end();
    return { found: true, value: replayCheckpoint(cp) };
  }

  async record(functionID: number, outcome: { value: unknown } | { error: unknown }): Promise<void> {
    const format = appSerializationName();
    const recorded = await outcomeCheckpoint(outcome, format);
    await record(this.engine, this.wf, functionID, this.name, this.startedAt, { ...recorded, serialization: format });
    this.end();
  }
}

export interface StreamReadParams {
  engine: Engine;
  /** The app's executor: reads from its workflow code are checkpointed. A client passes none. */
  executor: Executor | undefined;
  workflowID: unknown;
  key: unknown;
  options: ReadStreamOptions | undefined;
  serializerOpts?: SerializerOptions;
  checkpointName?: 'DBOS.readStream' | 'DBOS.readStreamOffset';
  pageSize?: number;
}

/**
 * Yields the stream's values in order until its close marker, or until its writer is terminal and every
 * value it wrote has been read. Values come a page at a time: memory stays flat whatever the length.
 */
export async function* readStream<T>(params: StreamReadParams): AsyncGenerator<T, void, unknown> {
  const { engine, executor, serializerOpts } = params;
  const workflowID = requireString('workflow ID', params.workflowID);
  const key = requireString('stream key', params.key, true);
  const { offset, pollMs, timeoutMS } = resolveRead(params.options);
  const wf = executor ? workflowCode() : undefined;
  const cp = wf && executor ? new ReadCheckpointer(engine, wf, key, params.checkpointName ?? 'DBOS.readStream') : undefined;
  const pageSize = params.pageSize ?? PAGE_SIZE;
  const waitKey = `${workflowID}::${key}`;

  let next = offset;
  let page: StreamPage | undefined;
  let index = 0;
  let ended = false;
  try {
    for (;;) {
      const functionID = cp?.begin();
      if (cp && functionID !== undefined) {
        const recorded = cp.replay(functionID);
        if (recorded.found) {
          const value = isPromiseLike(recorded.value) ? await recorded.value : recorded.value;
          if (value === STREAM_CLOSED) return;
          yield value as T;
          next++;
          continue;
        }
      }
      if ((!page || index >= page.values.length) && !ended) {
        const deadline = timeoutMS === undefined ? undefined : Date.now() + timeoutMS;
        const read = () =>
          engine.readStream({
            workflowId: workflowID,
            key,
            offset: next,
            limit: pageSize,
            deadlineEpochMs: deadline === undefined ? null : epochMs(deadline),
            pollMs: enginePollMs(pollMs),
            guard: wf ? { workflowId: wf.workflowID, token: wf.token } : null,
          });
        if (wf && executor) await settled(engine, wf);
        page = wf && executor ? await whileWaiting(engine, wf, waitKey, read) : await read();
        index = 0;
        ended = page.end === 'closed';
        if (page.end === 'timeout') {
          const error = new DBOSStreamTimeoutError(workflowID, key, timeoutMS);
          if (cp && functionID !== undefined) await cp.record(functionID, { error });
          throw error;
        }
      }
      if (!page || index >= page.values.length) {
        // The end is recorded too, so a replay stops exactly where this read did.
        if (cp && functionID !== undefined) await cp.record(functionID, { value: STREAM_CLOSED });
        return;
      }
      const parsed = deserializeValue(page.values[index], page.serializations[index] ?? null, serializerOpts);
      index++;
      const value = isPromiseLike(parsed) ? await parsed : parsed;
      if (value === STREAM_CLOSED) {
        if (cp && functionID !== undefined) await cp.record(functionID, { value: STREAM_CLOSED });
        return;
      }
      // Recorded before it is yielded, so a crash after the workflow acts on it still replays it.
      if (cp && functionID !== undefined) await cp.record(functionID, { value });
      yield value as T;
      next++;
    }
  } finally {
    cp?.end();
  }
}

/** The single value at `offset`, waiting for it; `DBOSStreamTimeoutError` if the stream ends first. */
export async function readStreamOffset<T>(params: StreamReadParams & { offset: unknown }): Promise<T> {
  const offset = checkStreamOffset(params.offset);
  const options = { ...(params.options ?? {}), offset };
  for await (const value of readStream<T>({ ...params, options, checkpointName: params.checkpointName ?? 'DBOS.readStreamOffset', pageSize: 1 })) {
    return value;
  }
  throw new DBOSStreamTimeoutError(requireString('workflow ID', params.workflowID), requireString('stream key', params.key, true));
}
