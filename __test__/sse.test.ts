// dbos-native/sse against a real Postgres: serveStream (Node http.ServerResponse) and streamResponse (Web Response)
// serve a workflow's stream as Server-Sent Events: ids are offsets, Last-Event-ID resumes after one, idle
// connections get heartbeats, the end is an `end` event, a departed client's reader is released, and a slow
// client holds the reader back instead of making the server buffer the stream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DBOS, Error as E, type ReadStreamOptions } from 'dbos-native';
import { serveStream, streamResponse, type SSEOptions, type SSEResult } from 'dbos-native/sse';
import { freshDatabase, sleep, within } from './helpers/db';

// Writes each message it receives on topic `next` to stream `k`; a null message closes the stream.
const writeOnSignal = DBOS.registerWorkflow(
  async () => {
    for (;;) {
      const v = await DBOS.recv<unknown>('next', 60);
      if (v === null) break;
      await DBOS.writeStream('k', v);
    }
    await DBOS.closeStream('k');
  },
  { name: 'sseWriteOnSignal' },
);

const writeMany = DBOS.registerWorkflow(
  async (count: number, size: number) => {
    for (let i = 0; i < count; i++) await DBOS.writeStream('k', { i, pad: 'x'.repeat(size) });
    await DBOS.closeStream('k');
  },
  { name: 'sseWriteMany' },
);

/** DBOS.readStream, counting the values it hands out and the readers open (to see back-pressure and release). */
function countingReader(): { read: NonNullable<SSEOptions['read']>; pulled: () => number; open: () => number; opened: () => number } {
  let pulled = 0;
  let open = 0;
  let opened = 0;
  async function* read(id: string, key: string, options: ReadStreamOptions): AsyncGenerator<unknown> {
    open++;
    opened++;
    try {
      for await (const v of DBOS.readStream(id, key, options)) {
        pulled++;
        yield v;
      }
    } finally {
      open--;
    }
  }
  return { read, pulled: () => pulled, open: () => open, opened: () => opened };
}

/** Waits until `count()` has not changed for `quietMs` (the consumer stalled), and returns it. */
async function settledCount(count: () => number, quietMs = 400, timeoutMs = 15_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let last = count();
  for (;;) {
    await sleep(quietMs);
    const now = count();
    if (now === last) return now;
    if (Date.now() > end) throw new Error(`still moving after ${timeoutMs} ms (${now})`);
    last = now;
  }
}

async function started(values: unknown[], close: boolean): Promise<string> {
  const handle = await DBOS.startWorkflow(writeOnSignal)();
  for (const v of values) await DBOS.send(handle.workflowID, v, 'next');
  if (close) await DBOS.send(handle.workflowID, null, 'next');
  return handle.workflowID;
}

async function finished(values: unknown[]): Promise<string> {
  const id = await started(values, true);
  await DBOS.retrieveWorkflow(id).getResult();
  return id;
}

// ---- the Node form: one server; each request says which workflow and options it wants

let server: Server;
let base = '';
const serving = new Map<string, { options: SSEOptions; result: Promise<SSEResult> | undefined }>();

/** Registers how the next request for `path` is served; `result()` is serveStream's promise. */
function route(name: string, options: SSEOptions = {}): { path: string; result: () => Promise<SSEResult> } {
  serving.set(name, { options, result: undefined });
  return {
    path: `/${name}`,
    result: async () => {
      const entry = serving.get(name);
      assert.ok(entry?.result, `no request for ${name} yet`);
      return entry.result;
    },
  };
}

interface Opened {
  res: IncomingMessage;
  text: () => string;
  ended: Promise<void>;
  waitFor: (what: string, pred: (text: string) => boolean) => Promise<void>;
}

function open(path: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}${path}`, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      const waitFor = async (what: string, pred: (t: string) => boolean) => {
        const end = Date.now() + 15_000;
        while (!pred(text)) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(text.slice(0, 300))}`);
          await sleep(20);
        }
      };
      resolve({ res, text: () => text, ended, waitFor });
    });
    req.on('error', reject);
  });
}

before(async () => {
  DBOS.setConfig({ name: 'sse-test', systemDatabaseUrl: await freshDatabase('dbosn_sse') });
  await DBOS.launch();
  server = createServer((req, res) => {
    const [name = '', id = ''] = (req.url ?? '').slice(1).split('/');
    const entry = serving.get(name);
    if (!entry) return void res.writeHead(404).end();
    entry.result = serveStream(req, res, decodeURIComponent(id), 'k', entry.options);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await DBOS.shutdown();
});

const events = (values: unknown[], from = 0) => values.map((v, i) => `id: ${from + i}\ndata: ${JSON.stringify(v)}\n\n`).join('');
const END = 'event: end\ndata: {}\n\n';

describe('serveStream (http.ServerResponse)', () => {
  test('each value is an event whose id is its offset; the end of the stream is an end event', async () => {
    const values = [{ stage: 'a' }, 'two', [3], false];
    const id = await finished(values);
    const r = route('plain');
    const c = await open(`${r.path}/${id}`);
    await c.ended;
    assert.equal(c.res.statusCode, 200);
    assert.equal(c.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(c.res.headers['cache-control'], 'no-cache');
    assert.equal(c.text(), events(values) + END);
    assert.deepEqual(await r.result(), { outcome: 'end', sent: 4, next: 4 });
  });

  test('Last-Event-ID resumes right after that event; the header wins over the lastEventId option; retry is sent', async () => {
    const values = ['v0', 'v1', 'v2', 'v3'];
    const id = await finished(values);
    const r = route('resume', { lastEventId: '0', retryMs: 500 });
    const c = await open(`${r.path}/${id}`, { 'last-event-id': '1' });
    await c.ended;
    assert.equal(c.text(), `retry: 500\n\n${events(values.slice(2), 2)}${END}`);
    assert.deepEqual(await r.result(), { outcome: 'end', sent: 2, next: 4 });

    // No header (an EventSource's first connection): the option says where the page was.
    const r2 = route('resume-option', { lastEventId: '2' });
    const c2 = await open(`${r2.path}/${id}`);
    await c2.ended;
    assert.equal(c2.text(), events(values.slice(3), 3) + END);

    // After the last event: only the end.
    const r3 = route('resume-end');
    const c3 = await open(`${r3.path}/${id}`, { 'last-event-id': '3' });
    await c3.ended;
    assert.equal(c3.text(), END);
  });

  test('a live stream: values arrive as written, heartbeats fill idle time, then the end', async () => {
    const id = await started([], false);
    const r = route('live', { heartbeatMs: 100 });
    const c = await open(`${r.path}/${id}`);
    await c.waitFor('two heartbeats', (t) => t.split(': heartbeat\n\n').length >= 3);
    await DBOS.send(id, 'first', 'next');
    await c.waitFor('the first value', (t) => t.includes('data: "first"'));
    await DBOS.send(id, 'second', 'next');
    await DBOS.send(id, null, 'next');
    await c.ended;
    // Without the heartbeats, exactly the events.
    assert.equal(c.text().replaceAll(': heartbeat\n\n', ''), events(['first', 'second']) + END);
    assert.deepEqual(await r.result(), { outcome: 'end', sent: 2, next: 2 });
  });

  test('a client that leaves while the stream is idle: its reader is released and the promise says closed', async () => {
    const id = await started(['only'], false);
    const reader = countingReader();
    const r = route('leave', { heartbeatMs: 150, read: reader.read });
    const c = await open(`${r.path}/${id}`);
    await c.waitFor('the value', (t) => t.includes('data: "only"'));
    c.res.destroy();
    const result = await within(r.result(), 10_000, 'serveStream after the client left');
    assert.equal(result.outcome, 'closed');
    assert.equal(result.sent, 1);
    assert.equal(reader.open(), 0, 'no reader left open');
    await DBOS.send(id, null, 'next');
  });

  test('back-pressure: a client that does not read holds the reader back; it then gets every value, in order', async () => {
    const count = 200;
    const size = 100_000; // 20 MB in all: more than the socket buffers can hold
    const handle = await DBOS.startWorkflow(writeMany)(count, size);
    await handle.getResult();
    const reader = countingReader();
    const r = route('slow', { read: reader.read });
    const c = await open(`${r.path}/${handle.workflowID}`);
    c.res.pause();
    const stalled = await settledCount(reader.pulled);
    assert.ok(stalled < count / 2, `the server pulled ${stalled} of ${count} values for a client that read none`);
    c.res.resume();
    await c.ended;
    const ids = [...c.text().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, Array.from({ length: count }, (_, i) => i));
    assert.ok(c.text().endsWith(END));
    assert.deepEqual(await r.result(), { outcome: 'end', sent: count, next: count });
  });

  test('a failed read ends the response with a stream-error event', async () => {
    const r = route('fails', {
      read: async function* () {
        yield 'before';
        throw new Error('the reader broke');
      },
    });
    const c = await open(`${r.path}/any`);
    await c.ended;
    assert.equal(c.text(), `${events(['before'])}event: stream-error\ndata: {"name":"Error","message":"the reader broke"}\n\n`);
    const result = await r.result();
    assert.equal(result.outcome, 'error');
    assert.equal((result.error as Error).message, 'the reader broke');

    // A DBOS error says its class: here, the stream of a workflow that does not exist.
    const r2 = route('no-workflow');
    const c2 = await open(`${r2.path}/no-such-workflow`);
    await c2.ended;
    assert.match(c2.text(), /^event: stream-error\ndata: \{"name":"DBOSNonExistentWorkflowError","message":"[^"]*no-such-workflow[^"]*"\}\n\n$/);
    assert.equal((await r2.result()).outcome, 'error');
  });

  test('a Last-Event-ID that is not an offset is a 400, and nothing is read', async () => {
    const reader = countingReader();
    for (const bad of ['x', '-1', '1.5', '01', '99999999999']) {
      const r = route(`bad-id`, { read: reader.read });
      const c = await open(`${r.path}/any`, { 'last-event-id': bad });
      await c.ended;
      assert.equal(c.res.statusCode, 400, bad);
      assert.match(c.text(), /^Invalid Last-Event-ID/);
      assert.equal((await r.result()).outcome, 'bad-request');
    }
    assert.equal(reader.opened(), 0);
  });

  test('bad arguments reject with a DBOSError and write nothing', async () => {
    const cases: [string, (req: IncomingMessage, res: Parameters<typeof serveStream>[1]) => Promise<unknown>][] = [
      ['workflow ID', (req, res) => serveStream(req, res, 5 as unknown as string, 'k')],
      ['heartbeatMs', (req, res) => serveStream(req, res, 'wf', 'k', { heartbeatMs: 0 })],
      ['retryMs', (req, res) => serveStream(req, res, 'wf', 'k', { retryMs: -1 })],
      ['read', (req, res) => serveStream(req, res, 'wf', 'k', { read: 'nope' as unknown as SSEOptions['read'] })],
      ['lastEventId', (req, res) => serveStream(req, res, 'wf', 'k', { lastEventId: 3 as unknown as string })],
    ];
    const probe = createServer();
    const seen: { what: string; error: unknown; headersSent: boolean }[] = [];
    probe.on('request', (req: IncomingMessage, res) => {
      void (async () => {
        for (const [what, call] of cases) {
          const p = call(req, res);
          assert.ok(p instanceof Promise, `${what}: a promise, not a synchronous throw`);
          const error = await p.then(() => undefined, (e: unknown) => e);
          seen.push({ what, error, headersSent: res.headersSent });
        }
        res.writeHead(204).end();
      })();
    });
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    const c = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/`, resolve));
    assert.equal(c.statusCode, 204, 'the handler could still answer: nothing had been written');
    c.resume();
    probe.close();
    for (const s of seen) {
      assert.ok(s.error instanceof E.DBOSError, `${s.what}: ${String(s.error)}`);
      assert.match((s.error as Error).message, new RegExp(s.what === 'workflow ID' ? 'Invalid workflow ID' : s.what));
      assert.equal(s.headersSent, false, s.what);
    }
    assert.equal(seen.length, cases.length);
  });
});

// ---- the Web form

describe('streamResponse (Web Response)', () => {
  test('events, the end event and headers; Last-Event-ID from the Request resumes; onDone reports the end', async () => {
    const values = ['w0', { w: 1 }, 'w2'];
    const id = await finished(values);
    let done: SSEResult | undefined;
    const res = await streamResponse(new Request('http://x/'), id, 'k', { onDone: (r) => (done = r) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(await res.text(), events(values) + END);
    assert.deepEqual(done, { outcome: 'end', sent: 3, next: 3 });

    const resumed = await streamResponse(new Request('http://x/', { headers: { 'Last-Event-ID': '0' } }), id, 'k');
    assert.equal(await resumed.text(), events(values.slice(1), 1) + END);

    const bad = await streamResponse(new Request('http://x/', { headers: { 'Last-Event-ID': 'abc' } }), id, 'k');
    assert.equal(bad.status, 400);
  });

  test('heartbeats while idle; cancelling the body releases the reader', async () => {
    const id = await started([], false);
    const reader = countingReader();
    let done: SSEResult | undefined;
    const res = await streamResponse(new Request('http://x/'), id, 'k', { heartbeatMs: 100, read: reader.read, onDone: (r) => (done = r) });
    assert.ok(res.body);
    const body = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (text.split(': heartbeat\n\n').length < 3) {
      const chunk = await within(body.read(), 10_000, 'the next chunk (a heartbeat)');
      assert.equal(chunk.done, false);
      text += decoder.decode(chunk.value);
    }
    await within(body.cancel(), 10_000, 'cancel');
    assert.deepEqual(done, { outcome: 'closed', sent: 0, next: 0 });
    assert.equal(reader.open(), 0, 'no reader left open');
    await DBOS.send(id, null, 'next');
  });

  test('back-pressure: nothing is pulled from the stream beyond what the consumer reads, plus one chunk', async () => {
    const handle = await DBOS.startWorkflow(writeMany)(50, 10);
    await handle.getResult();
    const reader = countingReader();
    const res = await streamResponse(new Request('http://x/'), handle.workflowID, 'k', { read: reader.read });
    assert.ok(res.body);
    const body = res.body.getReader();
    for (let i = 0; i < 3; i++) assert.equal((await body.read()).done, false);
    const pulled = await settledCount(reader.pulled, 300);
    assert.ok(pulled <= 5, `pulled ${pulled} values for a consumer that read 3 events`);
    let rest = '';
    const decoder = new TextDecoder();
    for (;;) {
      const chunk = await body.read();
      if (chunk.done) break;
      rest += decoder.decode(chunk.value);
    }
    assert.equal([...rest.matchAll(/^id: /gm)].length, 47);
    assert.ok(rest.endsWith(END));
  });

  test('bad arguments reject with a DBOSError (no synchronous throw)', async () => {
    const req = new Request('http://x/');
    const calls: Promise<unknown>[] = [
      streamResponse(req, '', 'k'),
      streamResponse(req, 'wf', 'k', { heartbeatMs: Number.NaN }),
      streamResponse({} as Request, 'wf', 'k'),
      streamResponse(req, 'wf', 'k', { headers: { a: 1 } as unknown as Record<string, string> }),
    ];
    for (const p of calls) await assert.rejects(p, E.DBOSError);
  });
});
