// `dbos-native/sse`: serves a workflow's stream to a browser as Server-Sent Events, over a Node
// `http.ServerResponse` (serveStream) or as a Web `Response` (streamResponse, for fetch-style servers).
//
// Each stream value is one event whose `id` is its offset in the stream. A reconnecting EventSource sends the
// last id it saw as `Last-Event-ID`, and the read restarts right after it: no repeats, no gaps. The stream's end
// (closeStream, or its workflow finishing) is an `end` event; a failed read is a `stream-error` event.
//
// The stream is read with a per-read timeout of one heartbeat period: an idle read times out, a heartbeat comment
// goes out, and the read starts again where it was. So an idle connection carries a heartbeat, and a departed
// client's reader is released within one period, even while it waits for the next value (an engine wait cannot
// be cancelled from here). Values are pulled only as fast as the client takes them: the Node form waits for
// `drain` when the socket's buffer is full, the Web form pulls from its reader only when the body's consumer reads.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DBOS } from './dbos';
import { DBOSError, isStreamTimeoutError } from './error';
import type { ReadStreamOptions } from './streams';
import { describe, requireString } from './validation';

/** Reads a stream from an offset: `DBOS.readStream` by default, or e.g. a `DBOSClient`'s `readStream`. */
export type SSEStreamReader = (workflowID: string, key: string, options: ReadStreamOptions) => AsyncIterable<unknown>;

export interface SSEOptions {
  /** How long a connection may stay silent before a heartbeat comment is sent, in ms (default 15000). */
  heartbeatMs?: number;
  /** Sent as the `retry` field: how long the browser waits before reconnecting, in ms (default: the browser's). */
  retryMs?: number;
  /**
   * Where to resume when the request has no `Last-Event-ID` header (an EventSource cannot set headers on its first
   * connection, so a page that reopens one passes the last id it saw, e.g. in a query parameter). The header wins.
   */
  lastEventId?: string | null;
  /** Reads the stream (default `DBOS.readStream`, which needs a launched DBOS). */
  read?: SSEStreamReader;
  /** An event's `data` from a stream value (default `JSON.stringify`). */
  format?: (value: unknown) => string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Called once the response is over and the stream's reader released (the Web form's way to learn the outcome). */
  onDone?: (result: SSEResult) => void;
}

export interface SSEResult {
  /**
   * `end`: the stream ended and the `end` event was sent; `closed`: the client went away (or the Web body was
   * cancelled); `error`: reading failed (a `stream-error` event was sent if the client was still there);
   * `bad-request`: the `Last-Event-ID` was not one this helper sends (a 400 was answered).
   */
  outcome: 'end' | 'closed' | 'error' | 'bad-request';
  /** Stream values sent as events. */
  sent: number;
  /** The stream offset after the last value sent: where a reconnect resumes. */
  next: number;
  error?: unknown;
}

interface Resolved {
  heartbeatMs: number;
  retryMs: number | undefined;
  lastEventId: string | null;
  read: SSEStreamReader;
  format: (value: unknown) => string;
  headers: Record<string, string>;
  onDone: ((result: SSEResult) => void) | undefined;
}

const DEFAULT_HEARTBEAT_MS = 15_000;
/** The largest offset a stream read accepts (checkStreamOffset). */
const MAX_OFFSET = 2 ** 31 - 1;

function optionalFunction<T>(name: string, v: T | undefined): T | undefined {
  if (v !== undefined && typeof v !== 'function') throw new DBOSError(`Invalid SSE option ${name} ${describe(v)}: it must be a function`);
  return v;
}

function resolveOptions(options: unknown): Resolved {
  const o = (options ?? {}) as SSEOptions;
  if (typeof o !== 'object') throw new DBOSError(`Invalid SSE options ${describe(options)}: they must be an object`);
  const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs <= 0) {
    throw new DBOSError(`Invalid SSE option heartbeatMs ${describe(heartbeatMs)}: it must be a positive number of milliseconds`);
  }
  if (o.retryMs !== undefined && !(Number.isSafeInteger(o.retryMs) && o.retryMs >= 0)) {
    throw new DBOSError(`Invalid SSE option retryMs ${describe(o.retryMs)}: it must be a non-negative integer of milliseconds`);
  }
  const lastEventId = o.lastEventId ?? null;
  if (lastEventId !== null && typeof lastEventId !== 'string') {
    throw new DBOSError(`Invalid SSE option lastEventId ${describe(lastEventId)}: it must be a string or null`);
  }
  if (o.headers !== undefined && (typeof o.headers !== 'object' || o.headers === null || Object.values(o.headers).some((v) => typeof v !== 'string'))) {
    throw new DBOSError(`Invalid SSE option headers ${describe(o.headers)}: they must be an object of strings`);
  }
  return {
    heartbeatMs,
    retryMs: o.retryMs,
    lastEventId,
    read: optionalFunction('read', o.read) ?? ((id, key, opts) => DBOS.readStream(id, key, opts)),
    format: optionalFunction('format', o.format) ?? ((v) => JSON.stringify(v) ?? 'null'),
    headers: o.headers ?? {},
    onDone: optionalFunction('onDone', o.onDone),
  };
}

/** The offset to start at: after the last event id the client saw (the header first), else 0; an Error if malformed. */
function startOffset(header: string | null | undefined, fallback: string | null): number | DBOSError {
  const last = header !== null && header !== undefined && header !== '' ? header : fallback;
  if (last === null || last === '') return 0;
  // Only ids this helper sends: decimal offsets.
  if (!/^(0|[1-9][0-9]{0,9})$/.test(last) || Number(last) >= MAX_OFFSET) {
    return new DBOSError(`Invalid Last-Event-ID ${describe(last)}: it must be the id of an event of this stream (an offset)`);
  }
  return Number(last) + 1;
}

function sseHeaders(extra: Record<string, string>): Record<string, string> {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Keeps reverse proxies (nginx) from buffering the events.
    'x-accel-buffering': 'no',
    ...extra,
  };
}

/** One event; a multi-line data text becomes several `data` lines (the browser joins them with newlines). */
function eventText(fields: { id?: number; event?: string }, data: string): string {
  let text = fields.event !== undefined ? `event: ${fields.event}\n` : '';
  if (fields.id !== undefined) text += `id: ${fields.id}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

function errorEvent(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  // The DBOS error classes keep the name "Error": their class says more.
  const name = err.name === 'Error' ? err.constructor.name : err.name;
  return eventText({ event: 'stream-error' }, JSON.stringify({ name, message: err.message }));
}

interface Progress {
  sent: number;
  next: number;
}

/** The response body as texts: events, heartbeats and the end event; `progress` follows what was handed out. */
async function* sseTexts(o: Resolved, workflowID: string, key: string, progress: Progress): AsyncGenerator<string, void, undefined> {
  if (o.retryMs !== undefined) yield `retry: ${o.retryMs}\n\n`;
  for (;;) {
    let idle = false;
    try {
      for await (const value of o.read(workflowID, key, { offset: progress.next, timeoutSeconds: o.heartbeatMs / 1000 })) {
        const text = eventText({ id: progress.next }, o.format(value));
        progress.next++;
        progress.sent++;
        yield text;
      }
    } catch (e) {
      // A read that waited a whole heartbeat period for its next value: say so, and read again from there.
      if (!isStreamTimeoutError(e)) throw e;
      idle = true;
    }
    if (!idle) {
      yield eventText({ event: 'end' }, '{}');
      return;
    }
    yield ': heartbeat\n\n';
  }
}

/** Resolves when `res` can take more (drain) or the connection is gone (close), whichever is first. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Serves `workflowID`'s stream `key` as Server-Sent Events on a Node `http.ServerResponse`, resuming after the
 * request's `Last-Event-ID`. Resolves once the response is over and the reader released; rejects (writing nothing)
 * only on bad arguments.
 */
export async function serveStream(req: IncomingMessage, res: ServerResponse, workflowID: string, key: string, options?: SSEOptions): Promise<SSEResult> {
  const o = resolveOptions(options);
  requireString('workflow ID', workflowID);
  requireString('stream key', key, true);
  if (typeof req?.headers !== 'object' || typeof res?.writeHead !== 'function') {
    throw new DBOSError('Invalid arguments to serveStream: it takes an http.IncomingMessage and its http.ServerResponse');
  }
  const finish = (result: SSEResult): SSEResult => {
    o.onDone?.(result);
    return result;
  };
  const header = req.headers['last-event-id'];
  const from = startOffset(Array.isArray(header) ? header[0] : header, o.lastEventId);
  if (from instanceof DBOSError) {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(from.message);
    return finish({ outcome: 'bad-request', sent: 0, next: 0, error: from });
  }

  let gone = res.destroyed;
  const onClose = () => {
    if (!res.writableFinished) gone = true;
  };
  res.on('close', onClose);
  res.writeHead(200, sseHeaders(o.headers));
  res.flushHeaders();
  const progress: Progress = { sent: 0, next: from };
  const texts = sseTexts(o, workflowID, key, progress);
  let outcome: SSEResult['outcome'] = 'closed';
  let error: unknown;
  try {
    for (;;) {
      // While this waits, a departed client is noticed at the latest at the next heartbeat.
      const r = await texts.next();
      if (gone) break;
      if (r.done) {
        outcome = 'end';
        break;
      }
      // Back-pressure: pull nothing more until the socket has taken what is buffered.
      if (!res.write(r.value)) await writable(res);
      if (gone) break;
    }
  } catch (e) {
    outcome = 'error';
    error = e;
    if (!gone) res.write(errorEvent(e));
  } finally {
    await texts.return();
    res.off('close', onClose);
  }
  if (gone) outcome = 'closed';
  res.end();
  return finish({ outcome, sent: progress.sent, next: progress.next, ...(error !== undefined ? { error } : {}) });
}

/**
 * The same as a Web `Response` (Deno, Bun, Hono, undici-style handlers): `request` gives the `Last-Event-ID`.
 * The body pulls from the stream only as its consumer reads; cancelling it releases the reader. `onDone` reports
 * how it ended. Rejects only on bad arguments.
 */
export async function streamResponse(request: { headers: Headers }, workflowID: string, key: string, options?: SSEOptions): Promise<Response> {
  const o = resolveOptions(options);
  requireString('workflow ID', workflowID);
  requireString('stream key', key, true);
  if (typeof request?.headers?.get !== 'function') {
    throw new DBOSError('Invalid request given to streamResponse: it must be a Request (or have its Headers)');
  }
  const from = startOffset(request.headers.get('last-event-id'), o.lastEventId);
  if (from instanceof DBOSError) {
    o.onDone?.({ outcome: 'bad-request', sent: 0, next: 0, error: from });
    return new Response(from.message, { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }

  const progress: Progress = { sent: 0, next: from };
  const texts = sseTexts(o, workflowID, key, progress);
  const encoder = new TextEncoder();
  let done = false;
  const finish = async (outcome: SSEResult['outcome'], error?: unknown): Promise<void> => {
    if (done) return;
    done = true;
    // Waits for a read still in progress (at most a heartbeat period), then releases the reader.
    await texts.return();
    o.onDone?.({ outcome, sent: progress.sent, next: progress.next, ...(error !== undefined ? { error } : {}) });
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: IteratorResult<string, void>;
        try {
          chunk = await texts.next();
        } catch (e) {
          if (done) return;
          controller.enqueue(encoder.encode(errorEvent(e)));
          controller.close();
          await finish('error', e);
          return;
        }
        if (done) return; // cancelled while the read was waiting
        if (chunk.done) {
          controller.close();
          await finish('end');
          return;
        }
        controller.enqueue(encoder.encode(chunk.value));
      },
      async cancel() {
        await finish('closed');
      },
    },
    // No read-ahead beyond one chunk: a slow consumer holds the reader where it is.
    { highWaterMark: 1 },
  );
  return new Response(body, { status: 200, headers: sseHeaders(o.headers) });
}
