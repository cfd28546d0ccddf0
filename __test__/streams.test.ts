// Streams through the public API: order and completeness with `for await`, the ends of a stream (close,
// completion, error), writes from steps (at least once), offsets and timeouts, checkpointed reads and
// their replay, DBOSClient readers, early break, bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, DBOSClient, Error as E, isStreamTimeoutError } from 'dbos-native';
import { assertCheckpoints, freshDatabase, query, sleep, statusRow, steps } from './helpers/db';

let url = '';
let client: DBOSClient;

async function collect<T>(gen: AsyncGenerator<T, void, unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of gen) out.push(v);
  return out;
}

async function streamRows(id: string, key?: string): Promise<{ key: string; offset: number; function_id: number; value: string; serialization: string | null }[]> {
  return query(
    url,
    `SELECT key, "offset", function_id, value, serialization FROM dbos.streams WHERE workflow_uuid = $1 ${key === undefined ? '' : 'AND key = $2'} ORDER BY key, "offset"`,
    key === undefined ? [id] : [id, key],
  );
}

const writeAll = DBOS.registerWorkflow(
  async (key: string, values: unknown[], close: boolean) => {
    for (const v of values) await DBOS.writeStream(key, v);
    if (close) await DBOS.closeStream(key);
    return values.length;
  },
  { name: 'writeAll' },
);

// Writes, closes, then keeps running until released: readers must end at the close marker.
const closeThenHold = DBOS.registerWorkflow(
  async (values: unknown[]) => {
    for (const v of values) await DBOS.writeStream('k', v);
    await DBOS.closeStream('k');
    await DBOS.writeStream('k', 'after close'); // accepted, never delivered
    await DBOS.recv('release', 30);
    return 'done';
  },
  { name: 'closeThenHold' },
);

// Writes on signal: each message is written to the stream (a reader can wait on each value).
const writeOnSignal = DBOS.registerWorkflow(
  async (n: number, failAtEnd: boolean) => {
    for (let i = 0; i < n; i++) {
      const v = await DBOS.recv<unknown>('next', 30);
      await DBOS.writeStream('k', v);
    }
    if (failAtEnd) throw new Error('writer failed');
    return n;
  },
  { name: 'writeOnSignal' },
);

const twoKeys = DBOS.registerWorkflow(
  async () => {
    await DBOS.writeStream('a', 'a0');
    await DBOS.writeStream('b', 'b0');
    await DBOS.writeStream('a', 'a1', { serializationType: 'portable' });
    await DBOS.closeStream('b');
    await DBOS.writeStream('a', 'a2');
  },
  { name: 'twoKeys' },
);

let flakyAttempts = 0;
class StepWriters {
  @DBOS.step()
  static async decorated(n: number): Promise<number> {
    for (let i = 0; i < n; i++) await DBOS.writeStream('st', `dec-${i}`);
    return DBOS.stepID ?? -1;
  }

  @DBOS.step({ retriesAllowed: true, maxAttempts: 3, intervalSeconds: 0.01 })
  static async flaky(): Promise<void> {
    flakyAttempts++;
    await DBOS.writeStream('st', `flaky-attempt-${flakyAttempts}`);
    if (flakyAttempts < 2) throw new Error('try again');
  }

  @DBOS.workflow()
  static async fromSteps(): Promise<number> {
    await DBOS.writeStream('st', 'wf-0');
    const id = await StepWriters.decorated(2);
    await DBOS.runStep(async () => DBOS.writeStream('st', 'run-step'), { name: 'runStepWriter' });
    await StepWriters.flaky();
    await DBOS.closeStream('st');
    return id;
  }
}

// Reads a stream from workflow code: every value read is recorded.
const reader = DBOS.registerWorkflow(
  async (target: string, key: string, timeoutSeconds: number | null) => {
    const got: unknown[] = [];
    const opts = timeoutSeconds === null ? {} : { timeoutSeconds };
    try {
      for await (const v of DBOS.readStream(target, key, opts)) got.push(v);
    } catch (e) {
      got.push(isStreamTimeoutError(e) ? 'timeout' : `error: ${(e as Error).message}`);
    }
    return got;
  },
  { name: 'streamReader' },
);

const offsetReader = DBOS.registerWorkflow(async (target: string, offset: number) => DBOS.readStreamOffset<unknown>(target, 'k', offset, { timeoutSeconds: 5 }), {
  name: 'offsetReader',
});

const breakEarly = DBOS.registerWorkflow(
  async (target: string) => {
    const first: unknown[] = [];
    for await (const v of DBOS.readStream(target, 'k')) {
      first.push(v);
      if (first.length === 2) break;
    }
    // The first read released its hold: a second sequential read is allowed.
    const again: unknown[] = [];
    for await (const v of DBOS.readStream(target, 'k', { offset: 1 })) again.push(v);
    await DBOS.runStep(async () => 'after', { name: 'afterReads' });
    return { first, again };
  },
  { name: 'breakEarly' },
);

const concurrentReads = DBOS.registerWorkflow(
  async (target: string) => {
    await Promise.all([collect(DBOS.readStream(target, 'k')), collect(DBOS.readStream(target, 'k'))]);
  },
  { name: 'concurrentReads' },
);

const misuse = DBOS.registerWorkflow(
  async (what: string) => {
    if (what === 'function-value') await DBOS.writeStream('k', () => 1);
    if (what === 'symbol-value') await DBOS.writeStream('k', Symbol('s'));
    if (what === 'bad-key') await DBOS.writeStream(7 as unknown as string, 1);
    return 'ok';
  },
  { name: 'streamMisuse' },
);

before(async () => {
  url = await freshDatabase('dbosn_streams');
  DBOS.setConfig({ name: 'streams-test', systemDatabaseUrl: url });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url });
});

after(async () => {
  await client.destroy();
  await DBOS.shutdown();
});

describe('writing and reading', () => {
  test('for await yields every value in order, keeping types, and ends at closeStream', async () => {
    const id = `basic-${randomUUID()}`;
    const values = [1, 'two', null, { d: new Date('2025-01-01T00:00:00.000Z'), big: 3n, m: new Map([['k', 1]]) }, [1, 2], undefined];
    await (await DBOS.startWorkflow(writeAll, { workflowID: id })('k', values, true)).getResult();
    const got = await collect(DBOS.readStream<unknown>(id, 'k'));
    assert.equal(got.length, values.length);
    assert.deepEqual(got.slice(0, 3), [1, 'two', null]);
    const obj = got[3] as { d: Date; big: bigint; m: Map<string, number> };
    assert.ok(obj.d instanceof Date && obj.big === 3n && obj.m.get('k') === 1);
    assert.deepEqual(got[4], [1, 2]);
    assert.equal(got[5], undefined);
    const rows = await streamRows(id, 'k');
    assert.deepEqual(
      rows.map((r) => [r.offset, r.function_id]),
      values.map((_, i) => [i, i]).concat([[values.length, values.length]]),
    );
    assert.equal(rows.at(-1)?.value, '"__DBOS_STREAM_CLOSED__"');
    assert.equal(rows.at(-1)?.serialization, 'portable_json');
    assert.deepEqual(
      (await steps(url, id)).map((s) => [s.function_name, s.serialization, s.output]),
      [...values.map(() => ['DBOS.writeStream', 'portable_json', null]), ['DBOS.closeStream', 'portable_json', null]],
    );
  });

  test('a close ends the stream for readers while the workflow still runs; later writes are never delivered', async () => {
    const id = `close-${randomUUID()}`;
    const h = await DBOS.startWorkflow(closeThenHold, { workflowID: id })(['a', 'b']);
    assert.deepEqual(await collect(DBOS.readStream(id, 'k')), ['a', 'b']);
    assert.deepEqual(await collect(client.readStream(id, 'k')), ['a', 'b']);
    assert.equal((await statusRow(url, id))?.status, 'PENDING');
    await DBOS.send(id, 'go', 'release');
    assert.equal(await h.getResult(), 'done');
    assert.equal((await streamRows(id, 'k')).length, 4, 'the write after the close took the next offset');
  });

  test('a reader that starts before the first write waits, and the stream ends when the writer completes', async () => {
    const id = `unclosed-${randomUUID()}`;
    const h = await DBOS.startWorkflow(writeOnSignal, { workflowID: id })(3, false);
    const reading = collect(DBOS.readStream(id, 'k'));
    const viaClient = collect(client.readStream(id, 'k'));
    await sleep(100);
    for (const v of ['x', 'y', 'z']) await DBOS.send(id, v, 'next');
    assert.equal(await h.getResult(), 3);
    assert.deepEqual(await reading, ['x', 'y', 'z']);
    assert.deepEqual(await viaClient, ['x', 'y', 'z']);
    assert.equal((await streamRows(id, 'k')).length, 3, 'completion writes no close marker');
  });

  test('the stream also ends when the writer fails', async () => {
    const id = `failed-${randomUUID()}`;
    const h = await DBOS.startWorkflow(writeOnSignal, { workflowID: id })(1, true);
    const reading = collect(client.readStream(id, 'k'));
    await DBOS.send(id, 'only', 'next');
    await assert.rejects(h.getResult(), /writer failed/);
    assert.deepEqual(await reading, ['only']);
    assert.equal((await statusRow(url, id))?.status, 'ERROR');
  });

  test('several keys per workflow are separate streams with their own offsets and formats', async () => {
    const id = `keys-${randomUUID()}`;
    await (await DBOS.startWorkflow(twoKeys, { workflowID: id })()).getResult();
    assert.deepEqual(await collect(DBOS.readStream(id, 'a')), ['a0', 'a1', 'a2']);
    assert.deepEqual(await collect(DBOS.readStream(id, 'b')), ['b0']);
    assert.deepEqual(await collect(DBOS.readStream(id, 'none')), []);
    const rows = await streamRows(id);
    assert.deepEqual(
      rows.map((r) => [r.key, r.offset, r.function_id, r.serialization]),
      [
        ['a', 0, 0, 'js_superjson'],
        ['a', 1, 2, 'portable_json'],
        ['a', 2, 4, 'js_superjson'],
        ['b', 0, 1, 'js_superjson'],
        ['b', 1, 3, 'portable_json'],
      ],
    );
    assert.equal(rows[1]?.value, '"a1"');
  });

  test('steps write at least once under their own ID: a retried attempt\'s writes stay, in order', async () => {
    flakyAttempts = 0;
    const id = `steps-${randomUUID()}`;
    const stepID = await (await DBOS.startWorkflow(StepWriters, { workflowID: id }).fromSteps()).getResult();
    assert.equal(stepID, 1);
    assert.deepEqual(await collect(client.readStream(id, 'st')), ['wf-0', 'dec-0', 'dec-1', 'run-step', 'flaky-attempt-1', 'flaky-attempt-2']);
    assert.deepEqual(
      (await streamRows(id, 'st')).map((r) => r.function_id),
      [0, 1, 1, 2, 3, 3, 4],
    );
    assert.deepEqual(
      (await steps(url, id)).map((s) => s.function_name),
      ['DBOS.writeStream', 'decorated', 'runStepWriter', 'flaky', 'DBOS.closeStream'],
    );
  });

  test('a value equal to the close marker string ends the stream for every reader', async () => {
    const id = `marker-${randomUUID()}`;
    await (await DBOS.startWorkflow(writeAll, { workflowID: id })('k', ['before', '__DBOS_STREAM_CLOSED__', 'after'], false)).getResult();
    assert.deepEqual(await collect(DBOS.readStream(id, 'k')), ['before']);
    assert.deepEqual(await collect(client.readStream(id, 'k')), ['before']);
  });
});

describe('offsets and timeouts', () => {
  test('offset starts the read later; readStreamOffset returns one value, or fails past the end', async () => {
    const id = `offsets-${randomUUID()}`;
    await (await DBOS.startWorkflow(writeAll, { workflowID: id })('k', ['v0', 'v1', 'v2'], true)).getResult();
    assert.deepEqual(await collect(DBOS.readStream(id, 'k', { offset: 1 })), ['v1', 'v2']);
    assert.deepEqual(await collect(client.readStream(id, 'k', { offset: 3 })), []);
    assert.deepEqual(await collect(client.readStream(id, 'k', { offset: 10 })), []);
    assert.equal(await DBOS.readStreamOffset(id, 'k', 2), 'v2');
    assert.equal(await client.readStreamOffset(id, 'k', 0), 'v0');
    await assert.rejects(DBOS.readStreamOffset(id, 'k', 3), (e: unknown) => e instanceof E.DBOSStreamTimeoutError && isStreamTimeoutError(e));
    await assert.rejects(client.readStreamOffset(id, 'k', 5), E.DBOSStreamTimeoutError);
  });

  test('a per-value timeout throws DBOSStreamTimeoutError once no value comes in time; the clock restarts per value', async () => {
    const id = `timeout-${randomUUID()}`;
    const h = await DBOS.startWorkflow(writeOnSignal, { workflowID: id })(2, false);
    await DBOS.send(id, 'first', 'next');
    const got: unknown[] = [];
    const t0 = Date.now();
    await assert.rejects(
      (async () => {
        for await (const v of client.readStream(id, 'k', { timeoutSeconds: 0.3 })) got.push(v);
      })(),
      (e: unknown) => e instanceof E.DBOSStreamTimeoutError && e.dbosErrorCode === 33 && /No value arrived on stream k of workflow .* within 300ms/.test(e.message),
    );
    assert.deepEqual(got, ['first']);
    assert.ok(Date.now() - t0 >= 280);
    await DBOS.send(id, 'second', 'next');
    await h.getResult();
  });

  test('readStreamOffset waits for a value written later', async () => {
    const id = `offset-wait-${randomUUID()}`;
    const h = await DBOS.startWorkflow(writeOnSignal, { workflowID: id })(2, false);
    const second = client.readStreamOffset(id, 'k', 1, { timeoutSeconds: 10 });
    await DBOS.send(id, 'a', 'next');
    await DBOS.send(id, 'b', 'next');
    assert.equal(await second, 'b');
    await h.getResult();
  });
});

describe('reads from workflow code are recorded', () => {
  test('one DBOS.readStream checkpoint per value plus one for the end; a replay yields the recorded values', async () => {
    const target = `rec-target-${randomUUID()}`;
    await (await DBOS.startWorkflow(writeAll, { workflowID: target })('k', ['r0', { n: 1 }], true)).getResult();
    const id = `rec-reader-${randomUUID()}`;
    assert.deepEqual(await (await DBOS.startWorkflow(reader, { workflowID: id })(target, 'k', null)).getResult(), ['r0', { n: 1 }]);
    const rows = await steps(url, id);
    assert.deepEqual(
      rows.map((r) => [r.function_id, r.function_name, r.serialization]),
      [
        [0, 'DBOS.readStream', 'js_superjson'],
        [1, 'DBOS.readStream', 'js_superjson'],
        [2, 'DBOS.readStream', 'js_superjson'],
      ],
    );
    assert.equal(rows[2]?.output, '{"json":"__DBOS_STREAM_CLOSED__","__dbos_serializer":"superjson"}');
    // Replay: the workflow is run again from its checkpoints (as recovery would) and reads the same
    // sequence even though the recorded rows now say something else.
    await query(url, `UPDATE dbos.operation_outputs SET output = '{"json":"replayed","__dbos_serializer":"superjson"}' WHERE workflow_uuid = $1 AND function_id = 0`, [id]);
    await query(url, "UPDATE dbos.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = $1", [id]);
    await DBOS.resumeWorkflow(id);
    assert.deepEqual(await DBOS.retrieveWorkflow(id).getResult(), ['replayed', { n: 1 }]);
    assert.equal((await steps(url, id)).length, 3);
  });

  test('a timeout in workflow code is recorded as the read\'s error and replayed without waiting', async () => {
    const target = `rec-timeout-target-${randomUUID()}`;
    const h = await DBOS.startWorkflow(writeOnSignal, { workflowID: target })(1, false);
    const id = `rec-timeout-${randomUUID()}`;
    assert.deepEqual(await (await DBOS.startWorkflow(reader, { workflowID: id })(target, 'k', 0.2)).getResult(), ['timeout']);
    const [row] = await steps(url, id);
    assert.equal(row?.function_name, 'DBOS.readStream');
    assert.match(row?.error ?? '', /"dbosErrorCode":33/);
    assert.match(row?.error ?? '', /"name":"DBOSStreamTimeoutError"/);
    await DBOS.send(target, 'late', 'next');
    await h.getResult();
    // Replayed now, the read would find 'late': it re-throws the recorded timeout instead.
    await query(url, "UPDATE dbos.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = $1", [id]);
    await DBOS.resumeWorkflow(id);
    assert.deepEqual(await DBOS.retrieveWorkflow(id).getResult(), ['timeout']);
    assert.equal((await steps(url, id)).length, 1);
  });

  test('readStreamOffset in workflow code takes one checkpoint', async () => {
    const target = `rso-target-${randomUUID()}`;
    await (await DBOS.startWorkflow(writeAll, { workflowID: target })('k', ['o0', 'o1'], false)).getResult();
    const id = `rso-${randomUUID()}`;
    assert.equal(await (await DBOS.startWorkflow(offsetReader, { workflowID: id })(target, 1)).getResult(), 'o1');
    await assertCheckpoints(url, id, ['DBOS.readStreamOffset']);
  });

  test('breaking out of for await releases the read: a second read works and IDs continue', async () => {
    const target = `break-target-${randomUUID()}`;
    await (await DBOS.startWorkflow(writeAll, { workflowID: target })('k', ['b0', 'b1', 'b2'], true)).getResult();
    const id = `break-${randomUUID()}`;
    assert.deepEqual(await (await DBOS.startWorkflow(breakEarly, { workflowID: id })(target)).getResult(), {
      first: ['b0', 'b1'],
      again: ['b1', 'b2'],
    });
    await assertCheckpoints(url, id, ['DBOS.readStream', 'DBOS.readStream', 'DBOS.readStream', 'DBOS.readStream', 'DBOS.readStream', 'afterReads']);
  });

  test('two checkpointed reads at once in one workflow are refused (DBOSStreamNondeterminismError)', async () => {
    const target = `conc-target-${randomUUID()}`;
    const t = await DBOS.startWorkflow(writeOnSignal, { workflowID: target })(1, false);
    await assert.rejects((await DBOS.startWorkflow(concurrentReads)(target)).getResult(), /Cannot deterministically read stream k/);
    await DBOS.send(target, 'x', 'next');
    await t.getResult();
  });
});

describe('bad input', () => {
  test('writes outside a workflow or step are refused, and nothing is written', async () => {
    await assert.rejects(DBOS.writeStream('k', 1), (e: unknown) => e instanceof E.DBOSInvalidWorkflowTransitionError && e.message === 'Invalid call to `DBOS.writeStream` outside of a workflow or step');
    await assert.rejects(DBOS.closeStream('k'), (e: unknown) => e instanceof E.DBOSInvalidWorkflowTransitionError && /`DBOS.closeStream` outside of a workflow or step/.test(e.message));
  });

  test('unserializable values and bad keys fail the write with a clear error and store nothing', async () => {
    for (const what of ['function-value', 'symbol-value', 'bad-key']) {
      const h = await DBOS.startWorkflow(misuse)(what);
      await assert.rejects(h.getResult(), (e: unknown) => e instanceof E.DBOSError && /Cannot serialize|Invalid stream key/.test(e.message), what);
      assert.equal((await streamRows(h.workflowID)).length, 0, what);
    }
  });

  test('reading an unknown workflow is DBOSNonExistentWorkflowError; bad options are refused on the first next()', async () => {
    const ghost = `ghost-${randomUUID()}`;
    await assert.rejects(collect(DBOS.readStream(ghost, 'k')), (e: unknown) => e instanceof E.DBOSNonExistentWorkflowError && e.message === `Workflow ${ghost} does not exist`);
    await assert.rejects(collect(client.readStream(ghost, 'k')), E.DBOSNonExistentWorkflowError);
    await assert.rejects(client.readStreamOffset(ghost, 'k', 0), E.DBOSNonExistentWorkflowError);
    await assert.rejects(collect(DBOS.readStream(ghost, 'k', { offset: -1 })), /offset must be a non-negative integer/);
    await assert.rejects(collect(DBOS.readStream(ghost, 'k', { offset: 1.5 })), /offset must be a non-negative integer/);
    await assert.rejects(collect(client.readStream(ghost, 'k', { timeoutSeconds: -1 })), /timeoutSeconds must not be negative/);
    await assert.rejects(collect(client.readStream(ghost, 'k', { timeoutSeconds: Number.NaN })), /timeoutSeconds must not be negative/);
    await assert.rejects(collect(client.readStream(ghost, 'k', { pollingIntervalMs: 0 })), /pollingIntervalMs must be a positive finite number/);
    await assert.rejects(collect(client.readStream(ghost, 'k', { pollingIntervalMs: 0.5 })), /pollingIntervalMs must be at least 1 millisecond/);
    await assert.rejects(client.readStreamOffset(ghost, 'k', -2), /offset must be a non-negative integer/);
    await assert.rejects(collect(client.readStream(42 as unknown as string, 'k')), /Invalid workflow ID/);
  });

  test('SQL-shaped keys are stored and read verbatim', async () => {
    const id = `sqlish-${randomUUID()}`;
    const key = "k'); DELETE FROM dbos.streams; --";
    await (await DBOS.startWorkflow(writeAll, { workflowID: id })(key, ['safe'], true)).getResult();
    assert.deepEqual(await collect(client.readStream(id, key)), ['safe']);
    assert.equal((await streamRows(id, key)).length, 2);
  });
});
