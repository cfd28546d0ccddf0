// An asynchronous custom serializer (`stringify`/`parse` return Promises, as DBOSSerializer allows) end to end:
// workflow arguments and results, steps (values and errors), children, DBOS.randomUUID, replay after a resume,
// send/recv, setEvent/getEvent, writeStream/readStream (also checkpointed reads), a DBOSClient with its own
// instance of the serializer, and errors the serializer rejects with.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, DBOSClient, Error as E, type DBOSSerializer } from 'dbos-native';
import { freshDatabase, query, statusRow, steps } from './helpers/db';

const PREFIX = 'ASYNC:';
const POISON = 'poison-value';

/** Really asynchronous (each call yields to the event loop); marks its output so the stored rows show it was used. */
class AsyncMarkedSerializer implements DBOSSerializer {
  stringified = 0;
  parsed = 0;
  name = (): string => 'async_marked';

  async stringify(value: unknown): Promise<string> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const json = JSON.stringify(value ?? null);
    if (json.includes(POISON)) throw new Error('the async serializer refuses this value');
    this.stringified++;
    return PREFIX + json;
  }

  async parse(text: string | null | undefined): Promise<unknown> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.parsed++;
    if (text === null || text === undefined) return null;
    if (!text.startsWith(PREFIX)) throw new Error(`not written by the async serializer: ${text}`);
    return JSON.parse(text.slice(PREFIX.length)) as unknown;
  }
}

const appSerializer = new AsyncMarkedSerializer();
const clientSerializer = new AsyncMarkedSerializer();

let url = '';
let client: DBOSClient;
const runs = new Map<string, number>();
const ran = (what: string) => runs.set(what, (runs.get(what) ?? 0) + 1);

const child = DBOS.registerWorkflow(async (n: number) => ({ tripled: n * 3 }), { name: 'asyncChild' });
const failingChild = DBOS.registerWorkflow(
  async (tag: string): Promise<string> => {
    throw new Error(`child failed for ${tag}`);
  },
  { name: 'asyncFailingChild' },
);

const main = DBOS.registerWorkflow(
  async (arg: { n: number }, tag: string) => {
    const doubled = await DBOS.runStep(
      async () => {
        ran(`double-${tag}`);
        return { doubled: arg.n * 2 };
      },
      { name: 'double' },
    );
    let caught = '';
    try {
      await DBOS.runStep(
        async () => {
          ran(`fail-${tag}`);
          throw new Error(`step failed for ${tag}`);
        },
        { name: 'fail' },
      );
    } catch (e) {
      caught = (e as Error).message;
    }
    const fromChild = await child(arg.n);
    let childError = '';
    try {
      await failingChild(tag);
    } catch (e) {
      childError = (e as Error).message;
    }
    let sendError = '';
    try {
      await DBOS.send(`missing-${tag}`, { text: 'nobody' });
    } catch (e) {
      sendError = `${(e as Error).name}: ${(e as Error).message}`;
    }
    const uuid = await DBOS.randomUUID();
    // Held until released, so the test can resume it from its checkpoints.
    const release = await DBOS.recv<{ go: boolean }>('release', 10);
    return { doubled, caught, fromChild, childError, sendError, uuid, release, tag };
  },
  { name: 'asyncMain' },
);

const messenger = DBOS.registerWorkflow(
  async () => {
    const msg = await DBOS.recv<{ text: string }>('in', 10);
    await DBOS.setEvent('out', { got: msg });
    await DBOS.writeStream('s', { i: 1 });
    await DBOS.writeStream('s', 'two');
    await DBOS.closeStream('s');
    return msg;
  },
  { name: 'asyncMessenger' },
);

const sender = DBOS.registerWorkflow(
  async (dest: string, text: string) => {
    await DBOS.send(dest, { text }, 'in');
    return 'sent';
  },
  { name: 'asyncSender' },
);

const reader = DBOS.registerWorkflow(
  async (target: string) => {
    const got: unknown[] = [await DBOS.getEvent(target, 'out', 10), await DBOS.getResult(target)];
    for await (const v of DBOS.readStream(target, 's')) got.push(v);
    return got;
  },
  { name: 'asyncReader' },
);

const returnsPoison = DBOS.registerWorkflow(async () => ({ v: POISON }), { name: 'asyncReturnsPoison' });

const stepReturnsPoison = DBOS.registerWorkflow(
  async () => {
    try {
      await DBOS.runStep(async () => ({ v: POISON }), { name: 'poisonStep' });
      return 'no error';
    } catch (e) {
      return `caught: ${(e as Error).message}`;
    }
  },
  { name: 'asyncStepReturnsPoison' },
);

async function collect<T>(gen: AsyncGenerator<T, void, unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of gen) out.push(v);
  return out;
}

function marked(text: unknown): boolean {
  return typeof text === 'string' && text.startsWith(PREFIX);
}

/** Runs the workflow again from its checkpoints, as recovery would. */
async function replay(id: string): Promise<void> {
  await query(url, "UPDATE dbos.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = $1", [id]);
  await DBOS.resumeWorkflow(id);
}

before(async () => {
  url = await freshDatabase('dbosn_async_serializer');
  DBOS.setConfig({ name: 'async-serializer-test', systemDatabaseUrl: url, serializer: appSerializer });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url, serializer: clientSerializer });
});

after(async () => {
  await client.destroy();
  await DBOS.shutdown();
});

describe('an asynchronous serializer', () => {
  test('stores and reads workflow arguments, results, steps, children and recorded values, and replays them', async () => {
    const id = `async-main-${randomUUID()}`;
    const handle = await DBOS.startWorkflow(main, { workflowID: id })({ n: 4 }, 'first');
    await DBOS.send(id, { go: true }, 'release');
    const result = await handle.getResult();
    assert.equal(result.caught, 'step failed for first');
    assert.deepEqual(
      { ...result, uuid: undefined },
      {
        doubled: { doubled: 8 },
        caught: 'step failed for first',
        fromChild: { tripled: 12 },
        childError: 'child failed for first',
        sendError: 'Error: Sent to non-existent destination workflow UUID: missing-first',
        uuid: undefined,
        release: { go: true },
        tag: 'first',
      },
    );
    assert.match(result.uuid, /^[0-9a-f-]{36}$/);

    // Every value the workflow stored went through the serializer.
    assert.equal((await statusRow(url, id))?.serialization, 'async_marked');
    const [input] = await query<{ inputs: string }>(url, 'SELECT inputs FROM dbos.workflow_input WHERE workflow_uuid = $1', [id]);
    assert.equal(input?.inputs, `${PREFIX}[{"n":4},"first"]`);
    const [output] = await query<{ output: string }>(url, 'SELECT output FROM dbos.workflow_output WHERE workflow_uuid = $1', [id]);
    assert.ok(marked(output?.output), output?.output);
    const rows = await steps(url, id);
    const byName = new Map(rows.map((r) => [r.function_name, r]));
    assert.equal(byName.get('double')?.output, `${PREFIX}{"doubled":8}`);
    assert.equal(byName.get('double')?.serialization, 'async_marked');
    assert.ok(marked(byName.get('fail')?.error), byName.get('fail')?.error ?? 'no error');
    const results = rows.filter((r) => r.function_name === 'DBOS.getResult');
    assert.equal(results[0]?.output, `${PREFIX}{"tripled":12}`);
    assert.ok(marked(results[1]?.error), results[1]?.error ?? 'no error');
    assert.ok(marked(byName.get('DBOS.send')?.error), byName.get('DBOS.send')?.error ?? 'no error');
    assert.equal(byName.get('DBOS.randomUUID')?.output, `${PREFIX}${JSON.stringify(result.uuid)}`);

    // The status shows the values read back.
    const status = await handle.getStatus();
    assert.deepEqual(status?.input, [{ n: 4 }, 'first']);
    assert.deepEqual(status?.output, result);

    // A second start of the finished ID, and a retrieved handle, read the recorded result.
    assert.deepEqual(await (await DBOS.startWorkflow(main, { workflowID: id })({ n: 99 }, 'again')).getResult(), result);
    assert.deepEqual(await DBOS.retrieveWorkflow(id).getResult(), result);
    assert.deepEqual(await DBOS.getResult(id), result);

    // Replayed from its checkpoints: arguments read back on dispatch, steps not run again, the same values.
    const before = { double: runs.get('double-first'), fail: runs.get('fail-first') };
    await replay(id);
    assert.deepEqual(await DBOS.retrieveWorkflow(id).getResult(), result);
    assert.deepEqual({ double: runs.get('double-first'), fail: runs.get('fail-first') }, before);
    assert.equal((await steps(url, id)).length, rows.length);
  });

  test('carries send/recv, setEvent/getEvent and streams, and replays checkpointed reads', async () => {
    const id = `async-msg-${randomUUID()}`;
    const handle = await DBOS.startWorkflow(messenger, { workflowID: id })();
    const senderHandle = await DBOS.startWorkflow(sender)(id, 'hello');
    assert.equal(await senderHandle.getResult(), 'sent');
    assert.deepEqual(await DBOS.getEvent(id, 'out', 10), { got: { text: 'hello' } });
    assert.deepEqual(await handle.getResult(), { text: 'hello' });
    assert.deepEqual(await collect(DBOS.readStream(id, 's')), [{ i: 1 }, 'two']);

    const [msg] = await query<{ message: string; serialization: string }>(url, 'SELECT message, serialization FROM dbos.notifications WHERE destination_uuid = $1', [id]);
    assert.equal(msg?.message, `${PREFIX}{"text":"hello"}`);
    assert.equal(msg?.serialization, 'async_marked');
    const [evt] = await query<{ value: string }>(url, 'SELECT value FROM dbos.workflow_events WHERE workflow_uuid = $1', [id]);
    assert.equal(evt?.value, `${PREFIX}{"got":{"text":"hello"}}`);
    const values = await query<{ value: string }>(url, `SELECT value FROM dbos.streams WHERE workflow_uuid = $1 ORDER BY "offset"`, [id]);
    assert.deepEqual(
      values.map((v) => v.value),
      [`${PREFIX}{"i":1}`, `${PREFIX}"two"`, '"__DBOS_STREAM_CLOSED__"'],
    );

    // A workflow's reads (of a finished workflow) are recorded in the serializer's format and replayed from there.
    const readerID = `async-reader-${randomUUID()}`;
    const expected = [{ got: { text: 'hello' } }, { text: 'hello' }, { i: 1 }, 'two'];
    assert.deepEqual(await (await DBOS.startWorkflow(reader, { workflowID: readerID })(id)).getResult(), expected);
    const readRows = await steps(url, readerID);
    assert.deepEqual(
      readRows.map((r) => [r.function_name, r.output]),
      [
        ['DBOS.getEvent', `${PREFIX}{"got":{"text":"hello"}}`],
        ['DBOS.sleep', readRows[1]?.output],
        ['DBOS.getResult', `${PREFIX}{"text":"hello"}`],
        ['DBOS.readStream', `${PREFIX}{"i":1}`],
        ['DBOS.readStream', `${PREFIX}"two"`],
        ['DBOS.readStream', `${PREFIX}"__DBOS_STREAM_CLOSED__"`],
      ],
    );
    await replay(readerID);
    assert.deepEqual(await DBOS.retrieveWorkflow(readerID).getResult(), expected);

    // The messenger replayed: the recorded message, event and writes are not repeated.
    await replay(id);
    assert.deepEqual(await DBOS.retrieveWorkflow(id).getResult(), { text: 'hello' });
    assert.equal((await query(url, 'SELECT 1 FROM dbos.streams WHERE workflow_uuid = $1', [id])).length, 3);
  });

  test('a DBOSClient reads and writes with its own serializer', async () => {
    /** What `call` returned, and how many values the client's serializer wrote and read meanwhile. */
    async function counted<T>(call: () => Promise<T>): Promise<{ value: T; stringified: number; parsed: number }> {
      const before = { s: clientSerializer.stringified, p: clientSerializer.parsed };
      const value = await call();
      return { value, stringified: clientSerializer.stringified - before.s, parsed: clientSerializer.parsed - before.p };
    }
    const id = `async-client-${randomUUID()}`;
    const handle = await DBOS.startWorkflow(messenger, { workflowID: id })();
    assert.deepEqual(await counted(() => client.send(id, { text: 'from client' }, 'in')), { value: undefined, stringified: 1, parsed: 0 });
    assert.deepEqual(await counted(() => client.getEvent(id, 'out', 10)), { value: { got: { text: 'from client' } }, stringified: 0, parsed: 1 });
    assert.deepEqual(await handle.getResult(), { text: 'from client' });
    // The close marker is portable JSON: not the serializer's to read.
    assert.deepEqual(await counted(() => collect(client.readStream(id, 's'))), { value: [{ i: 1 }, 'two'], stringified: 0, parsed: 2 });
    assert.deepEqual(await counted(() => client.readStreamOffset(id, 's', 1)), { value: 'two', stringified: 0, parsed: 1 });
    assert.deepEqual(await counted(() => client.retrieveWorkflow(id).getResult()), { value: { text: 'from client' }, stringified: 0, parsed: 1 });
    const status = await counted(() => client.getWorkflow(id));
    assert.equal(status.parsed, 2);
    assert.deepEqual(status.value?.input, []);
    assert.deepEqual(status.value?.output, { text: 'from client' });
    const [msg] = await query<{ message: string }>(url, 'SELECT message FROM dbos.notifications WHERE destination_uuid = $1', [id]);
    assert.equal(msg?.message, `${PREFIX}{"text":"from client"}`);
  });

  test('a rejection of the serializer surfaces as a rejected promise with its message, and writes nothing', async () => {
    const id = `async-bad-args-${randomUUID()}`;
    await assert.rejects(DBOS.startWorkflow(main, { workflowID: id })({ n: 1 }, POISON), (e: unknown) => {
      assert.ok(e instanceof E.DBOSInvalidWorkflowInputError, String(e));
      assert.match((e as Error).message, /the async serializer refuses this value/);
      return true;
    });
    assert.equal(await statusRow(url, id), undefined);

    const dest = `async-dest-${randomUUID()}`;
    const handle = await DBOS.startWorkflow(messenger, { workflowID: dest })();
    await assert.rejects(DBOS.send(dest, { text: POISON }, 'in'), /the async serializer refuses this value/);
    await assert.rejects(client.send(dest, { text: POISON }, 'in'), /the async serializer refuses this value/);
    assert.equal((await query(url, 'SELECT 1 FROM dbos.notifications WHERE destination_uuid = $1', [dest])).length, 0);
    await DBOS.send(dest, { text: 'fine' }, 'in');
    assert.deepEqual(await handle.getResult(), { text: 'fine' });

    // A result it refuses fails the workflow with its error (stored through the serializer too).
    const badResult = await DBOS.startWorkflow(returnsPoison)();
    await assert.rejects(badResult.getResult(), /the async serializer refuses this value/);
    await assert.rejects(DBOS.retrieveWorkflow(badResult.workflowID).getResult(), /the async serializer refuses this value/);
    const row = await statusRow(url, badResult.workflowID);
    assert.equal(row?.status, 'ERROR');
    // A step's value it refuses fails the step.
    const stepHandle = await DBOS.startWorkflow(stepReturnsPoison)();
    assert.equal(await stepHandle.getResult(), 'caught: the async serializer refuses this value');
  });
});
