// Messages and events through the public API: the docs' checkout example, FIFO and topics, timeouts,
// exactly-once sends, idempotency keys, recorded getEvent, DBOSClient, many waiters on one pool, and
// bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { assertCheckpoints, freshDatabase, query, statusRow, steps } from './helpers/db';

const PAYMENT_URL = 'payment_url';
const PAYMENT_STATUS = 'payment_status';

let sideEffects = 0;

class Shop {
  @DBOS.step()
  static async reserveInventory(): Promise<void> {
    sideEffects++;
  }

  @DBOS.workflow()
  static async checkoutWorkflow(timeoutSeconds: number): Promise<string> {
    await Shop.reserveInventory();
    await DBOS.setEvent(PAYMENT_URL, `https://pay.example/${DBOS.workflowID}`);
    const notification = await DBOS.recv<string>(PAYMENT_STATUS, timeoutSeconds);
    if (notification) {
      await DBOS.setEvent('order_status', `paid:${notification}`);
      return `paid:${notification}`;
    }
    await DBOS.setEvent('order_status', 'timed out');
    return 'timed out';
  }

  static async paymentWebhook(workflowID: string, status: string): Promise<void> {
    await DBOS.send(workflowID, status, PAYMENT_STATUS);
  }

  static async webCheckout(timeoutSeconds: number): Promise<{ id: string; url: string | null }> {
    const handle = await DBOS.startWorkflow(Shop).checkoutWorkflow(timeoutSeconds);
    const url = await DBOS.getEvent<string>(handle.workflowID, PAYMENT_URL);
    return { id: handle.workflowID, url };
  }
}

const receiveN = DBOS.registerWorkflow(
  async (topic: string | null, n: number, timeoutSeconds: number) => {
    const got: unknown[] = [];
    for (let i = 0; i < n; i++) got.push(await DBOS.recv(topic ?? undefined, timeoutSeconds));
    return got;
  },
  { name: 'receiveN' },
);

const sender = DBOS.registerWorkflow(
  async (dest: string, message: unknown, topic?: string) => {
    await DBOS.send(dest, message, topic);
    return 'sent';
  },
  { name: 'sender' },
);

const senderFromStep = DBOS.registerWorkflow(
  async (dest: string) => {
    await DBOS.runStep(async () => DBOS.send(dest, 'from step', 'st'), { name: 'sendStep' });
    return 'ok';
  },
  { name: 'senderFromStep' },
);

const eventSetter = DBOS.registerWorkflow(
  async (values: unknown[], holdSeconds: number) => {
    for (const v of values) await DBOS.setEvent('k', v);
    await DBOS.recv('release', holdSeconds);
  },
  { name: 'eventSetter' },
);

const eventReader = DBOS.registerWorkflow(
  async (target: string, key: string, timeoutSeconds: number) => DBOS.getEvent(target, key, timeoutSeconds),
  { name: 'eventReader' },
);

const waitOnce = DBOS.registerWorkflow(async () => DBOS.recv<number>('go', 120), { name: 'waitOnce' });

const contextMisuse = DBOS.registerWorkflow(
  async (what: string) => {
    if (what === 'recv-in-step') return DBOS.runStep(async () => DBOS.recv('x', 0), { name: 'badStep' });
    if (what === 'getEvent-in-step') return DBOS.runStep(async () => DBOS.getEvent('x', 'k', 0), { name: 'badStep' });
    if (what === 'setEvent-in-step') return DBOS.runStep(async () => DBOS.setEvent('k', 1), { name: 'badStep' });
    if (what === 'missing-dest') return DBOS.send(`nobody-${DBOS.workflowID}`, 'hello');
    if (what === 'function-event') return DBOS.setEvent('k', () => 1);
    return null;
  },
  { name: 'contextMisuse' },
);

let url = '';
let client: DBOSClient;

before(async () => {
  url = await freshDatabase('dbosn_messages');
  DBOS.setConfig({ name: 'messages-test', systemDatabaseUrl: url, systemDatabasePoolSize: 10 });
  await DBOS.launch();
  client = await DBOSClient.create({ systemDatabaseUrl: url });
});

after(async () => {
  await client.destroy();
  await DBOS.shutdown();
});

async function messageRows(dest: string): Promise<{ topic: string; message: string; consumed: boolean; consumed_by_function_id: number | null; message_uuid: string }[]> {
  return query(url, 'SELECT topic, message, consumed, consumed_by_function_id, message_uuid FROM dbos.notifications WHERE destination_uuid = $1 ORDER BY created_at_epoch_ms', [dest]);
}

describe('the checkout example from the docs', () => {
  test('setEvent hands the payment URL to the caller; the webhook send completes the order', async () => {
    const { id, url: paymentURL } = await Shop.webCheckout(30);
    assert.equal(paymentURL, `https://pay.example/${id}`);
    await Shop.paymentWebhook(id, 'approved');
    assert.equal(await DBOS.getResult(id), 'paid:approved');
    assert.equal(await DBOS.getEvent(id, 'order_status', 1), 'paid:approved');
    await assertCheckpoints(url, id, ['reserveInventory', 'DBOS.setEvent', 'DBOS.recv', 'DBOS.sleep', 'DBOS.setEvent']);
    const [msg] = await messageRows(id);
    assert.equal(msg?.topic, PAYMENT_STATUS);
    assert.equal(msg?.consumed, true);
    assert.equal(msg?.consumed_by_function_id, 2);
  });

  test('without a payment notification, recv times out and the workflow takes its timeout branch', async () => {
    const t0 = Date.now();
    const { id } = await Shop.webCheckout(0.3);
    assert.equal(await DBOS.getResult(id), 'timed out');
    assert.ok(Date.now() - t0 >= 250);
    const recvRow = (await steps(url, id)).find((s) => s.function_name === 'DBOS.recv');
    assert.equal(recvRow?.output, null);
    assert.equal(recvRow?.serialization, null);
  });
});

describe('messages', () => {
  test('messages sent before recv wait in the queue and come out FIFO, values keeping their types', async () => {
    const id = `fifo-${randomUUID()}`;
    const h = await DBOS.startWorkflow(receiveN, { workflowID: id })('t', 0, 1); // exists, receives nothing
    await h.getResult();
    const dest = `buffer-${randomUUID()}`;
    const started = await DBOS.startWorkflow(Shop, { workflowID: dest }).checkoutWorkflow(0); // a destination
    await started.getResult();
    // Send to a workflow that starts receiving only afterwards.
    const rx = `rx-${randomUUID()}`;
    const gate = DBOS.startWorkflow(receiveN, { workflowID: rx });
    const handle = await gate('t', 3, 10);
    await DBOS.send(rx, 1, 't');
    await DBOS.send(rx, { when: new Date('2025-01-01T00:00:00.000Z'), big: 7n, m: new Map([['a', 1]]), u: undefined }, 't');
    await client.send(rx, 'third', 't');
    const got = (await handle.getResult()) as unknown[];
    assert.equal(got[0], 1);
    const second = got[1] as { when: Date; big: bigint; m: Map<string, number>; u: undefined };
    assert.ok(second.when instanceof Date);
    assert.equal(second.big, 7n);
    assert.equal(second.m.get('a'), 1);
    assert.ok('u' in second && second.u === undefined);
    assert.equal(got[2], 'third');
  });

  test('topics are separate queues; recv() without a topic only takes topic-less messages', async () => {
    const rx = `topics-${randomUUID()}`;
    const none = await DBOS.startWorkflow(receiveN, { workflowID: rx })(null, 1, 10);
    await DBOS.send(rx, 'on-a', 'a');
    await DBOS.send(rx, 'no-topic');
    assert.deepEqual(await none.getResult(), ['no-topic']);
    const rows = await messageRows(rx);
    assert.deepEqual(
      rows.map((r) => [r.topic, r.consumed]),
      [
        ['a', false],
        ['__null__topic__', true],
      ],
    );
  });

  test('a workflow send is exactly once: starting it again with the same ID sends nothing more', async () => {
    const rx = `once-rx-${randomUUID()}`;
    const rxHandle = await DBOS.startWorkflow(receiveN, { workflowID: rx })('x', 2, 0.5);
    const id = `once-tx-${randomUUID()}`;
    await (await DBOS.startWorkflow(sender, { workflowID: id })(rx, 'hello', 'x')).getResult();
    await (await DBOS.startWorkflow(sender, { workflowID: id })(rx, 'hello', 'x')).getResult();
    assert.deepEqual(await rxHandle.getResult(), ['hello', null]);
    assert.equal((await messageRows(rx)).length, 1);
    const [cp] = await steps(url, id);
    assert.equal(cp?.function_name, 'DBOS.send');
    assert.equal(cp?.serialization, 'portable_json');
  });

  test('a send inside a step takes no function ID and is not checkpointed', async () => {
    const rx = `step-rx-${randomUUID()}`;
    const rxHandle = await DBOS.startWorkflow(receiveN, { workflowID: rx })('st', 1, 10);
    const h = await DBOS.startWorkflow(senderFromStep)(rx);
    await h.getResult();
    assert.deepEqual(await rxHandle.getResult(), ['from step']);
    await assertCheckpoints(url, h.workflowID, ['sendStep']);
  });

  test('idempotency keys make sends from outside exactly once, per destination', async () => {
    const rx = `idem-${randomUUID()}`;
    const h = await DBOS.startWorkflow(receiveN, { workflowID: rx })(null, 3, 0.5);
    const other = `idem-other-${randomUUID()}`;
    const h2 = await DBOS.startWorkflow(receiveN, { workflowID: other })(null, 1, 10);
    await DBOS.send(rx, 'once', undefined, 'key-1');
    await DBOS.send(rx, 'once again?', undefined, 'key-1');
    await client.send(rx, 'client once', undefined, 'key-2');
    await client.send(rx, 'client twice?', undefined, 'key-2');
    await DBOS.send(other, 'same key, other destination', undefined, 'key-1');
    assert.deepEqual(await h.getResult(), ['once', 'client once', null]);
    assert.deepEqual(await h2.getResult(), ['same key, other destination']);
    assert.deepEqual(
      (await messageRows(rx)).map((r) => r.message_uuid),
      [`key-1::${rx}`, `key-2::${rx}`],
    );
  });

  test('recv with timeout 0 checks once and records no deadline; options form and deadline form work', async () => {
    const rx = `zero-${randomUUID()}`;
    const recvZero = DBOS.startWorkflow(receiveN, { workflowID: rx });
    await (await recvZero('nothing', 1, 0)).getResult();
    assert.deepEqual(
      (await steps(url, rx)).map((s) => s.function_name),
      ['DBOS.recv'],
    );
  });
});

describe('events', () => {
  test('getEvent waits for setEvent; the latest value wins; a missing key times out with null', async () => {
    const id = `ev-${randomUUID()}`;
    const pending = DBOS.getEvent<string>(id, 'k', 10);
    const h = await DBOS.startWorkflow(eventSetter, { workflowID: id })(['first', 'second'], 10);
    const firstSeen = await pending;
    assert.ok(firstSeen === 'first' || firstSeen === 'second');
    while ((await steps(url, id)).length < 2) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await DBOS.getEvent(id, 'k', 1), 'second');
    assert.equal(await client.getEvent(id, 'k', 1), 'second');
    const t0 = Date.now();
    assert.equal(await DBOS.getEvent(id, 'never', 0.2), null);
    assert.ok(Date.now() - t0 >= 150);
    assert.equal(await DBOS.getEvent(`no-such-${randomUUID()}`, 'k', 0), null);
    await DBOS.send(id, 'go', 'release');
    await h.getResult();
    const history = await query<{ function_id: number; value: string }>(
      url,
      'SELECT function_id, value FROM dbos.workflow_events_history WHERE workflow_uuid = $1 ORDER BY function_id',
      [id],
    );
    assert.equal(history.length, 2);
  });

  test('getEvent inside a workflow is recorded: the value it saw, its serialization, and a deadline marker', async () => {
    const target = `ev-target-${randomUUID()}`;
    const h = await DBOS.startWorkflow(eventSetter, { workflowID: target })([{ v: 1, d: new Date(0) }], 10);
    const readerID = `ev-reader-${randomUUID()}`;
    const got = (await DBOS.startWorkflow(eventReader, { workflowID: readerID })(target, 'k', 5).then((r) => r.getResult())) as {
      v: number;
      d: Date;
    };
    assert.equal(got.v, 1);
    assert.ok(got.d instanceof Date);
    const rows = await steps(url, readerID);
    assert.deepEqual(
      rows.map((r) => [r.function_id, r.function_name]),
      [
        [0, 'DBOS.getEvent'],
        [1, 'DBOS.sleep'],
      ],
    );
    assert.equal(rows[0]?.serialization, 'js_superjson');
    assert.match(rows[0]?.output ?? '', /"v":1/);
    const timedOut = `ev-timeout-${randomUUID()}`;
    assert.equal(await (await DBOS.startWorkflow(eventReader, { workflowID: timedOut })(target, 'nope', 0.1)).getResult(), null);
    const t = await steps(url, timedOut);
    assert.equal(t[0]?.output, null);
    await DBOS.send(target, 'go', 'release');
    await h.getResult();
  });
});

describe('DBOSClient', () => {
  test('client.getEvent wakes as soon as the event is set; retrieveWorkflow and getWorkflow work', async () => {
    const id = `client-ev-${randomUUID()}`;
    const waiting = client.getEvent<string>(id, 'k', 30);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const h = await DBOS.startWorkflow(eventSetter, { workflowID: id })(['now'], 10);
    assert.equal(await waiting, 'now');
    assert.ok(Date.now() - t0 < 3000, 'woken by the notification, not a 10 s poll');
    await client.send(id, 'go', 'release');
    await client.retrieveWorkflow(id).getResult();
    assert.equal((await client.getWorkflow(id))?.status, 'SUCCESS');
    await h.getResult();
  });

  test('destroy makes pending waits reject and later calls fail cleanly', async () => {
    const c = await DBOSClient.create({ systemDatabaseUrl: url });
    const pending = c.getEvent(`never-${randomUUID()}`, 'k', 60);
    await new Promise((r) => setTimeout(r, 100));
    await c.destroy();
    await assert.rejects(pending, (e: unknown) => e instanceof E.DBOSShutdownError && e.message === 'The system database has been shut down');
    await assert.rejects(c.send('x', 1), E.DBOSShutdownError);
    await c.destroy();
  });
});

describe('many waiters', () => {
  test('2,000 workflows blocked in recv share one listener and a 10-connection pool, and all wake', async () => {
    const n = 2000;
    const ids = Array.from({ length: n }, (_, i) => `many-${i}-${randomUUID()}`);
    const handles = await Promise.all(ids.map((id) => DBOS.startWorkflow(waitOnce, { workflowID: id })()));
    // Wait until every one of them has recorded its recv deadline (so is actually waiting).
    for (;;) {
      const r = await query<{ n: string }>(url, "SELECT count(*) AS n FROM dbos.operation_outputs WHERE function_name = 'DBOS.sleep' AND workflow_uuid LIKE 'many-%'");
      if (Number(r[0]?.n) >= n) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    await Promise.all(ids.map((id, i) => client.send(id, i, 'go')));
    const results = await Promise.all(handles.map((h) => h.getResult()));
    assert.deepEqual(results, ids.map((_, i) => i));
    const pending = await query<{ n: string }>(url, "SELECT count(*) AS n FROM dbos.workflow_status WHERE status = 'PENDING' AND workflow_uuid LIKE 'many-%'");
    assert.equal(pending[0]?.n, '0');
  });
});

describe('bad input and wrong context', () => {
  test('recv and setEvent outside a workflow, and recv/getEvent/setEvent inside a step, are refused', async () => {
    await assert.rejects(DBOS.recv('t', 1), (e: unknown) => e instanceof E.DBOSInvalidWorkflowTransitionError && /outside of a workflow/.test(e.message));
    await assert.rejects(DBOS.setEvent('k', 1), (e: unknown) => e instanceof E.DBOSInvalidWorkflowTransitionError && /outside of a workflow/.test(e.message));
    for (const what of ['recv-in-step', 'getEvent-in-step', 'setEvent-in-step']) {
      await assert.rejects(contextMisuse(what), (e: unknown) => /inside a `step`/.test((e as Error).message));
    }
  });

  test('a send to a missing workflow fails with DBOSNonExistentWorkflowError and stores nothing', async () => {
    const ghost = `ghost-${randomUUID()}`;
    await assert.rejects(DBOS.send(ghost, 'x'), (e: unknown) => e instanceof E.DBOSNonExistentWorkflowError && e.message === `Sent to non-existent destination workflow UUID: ${ghost}`);
    await assert.rejects(client.send(ghost, 'x'), E.DBOSNonExistentWorkflowError);
    assert.equal((await messageRows(ghost)).length, 0);
    // From workflow code the error is recorded at the send's function ID, so a replay fails the same way.
    const h = await DBOS.startWorkflow(contextMisuse)('missing-dest');
    await assert.rejects(h.getResult(), /Sent to non-existent destination workflow UUID/);
    const [cp] = await steps(url, h.workflowID);
    assert.equal(cp?.function_name, 'DBOS.send');
    assert.match(cp?.error ?? '', /"dbosErrorCode":16/);
  });

  test('unserializable messages and event values are refused and nothing is written', async () => {
    const rx = `bad-msg-${randomUUID()}`;
    const h = await DBOS.startWorkflow(receiveN, { workflowID: rx })(null, 1, 0.2);
    await assert.rejects(DBOS.send(rx, () => 1), (e: unknown) => e instanceof E.DBOSError && /^Cannot serialize the message \(a function\)/.test(e.message));
    await assert.rejects(client.send(rx, Symbol('s')), E.DBOSError);
    const badEvent = await DBOS.startWorkflow(contextMisuse)('function-event');
    await assert.rejects(badEvent.getResult(), (e: unknown) => e instanceof E.DBOSError && /^Cannot serialize the value of event "k" \(a function\)/.test(e.message));
    assert.equal((await query(url, 'SELECT 1 FROM dbos.workflow_events WHERE workflow_uuid = $1', [badEvent.workflowID])).length, 0);
    await h.getResult();
    assert.equal((await messageRows(rx)).length, 0);
  });

  test('non-string destinations, topics and keys, and bad timeouts, get clear errors', async () => {
    const rx = `bad-args-${randomUUID()}`;
    await (await DBOS.startWorkflow(receiveN, { workflowID: rx })(null, 0, 0)).getResult();
    // As in DBOS: '' names no workflow, like an unknown ID.
    await assert.rejects(DBOS.send('', 1), (e: unknown) => e instanceof E.DBOSNonExistentWorkflowError && e.message === 'Sent to non-existent destination workflow UUID: ');
    await assert.rejects(DBOS.send(42 as unknown as string, 1), /destination workflow ID/);
    await assert.rejects(DBOS.send(rx, 1, 7 as unknown as string), /Invalid topic 7/);
    await assert.rejects(DBOS.getEvent(rx, 5 as unknown as string, 0), /Invalid event key/);
    await assert.rejects(DBOS.getEvent(rx, 'k', -1), /timeoutSeconds must be a finite, non-negative number/);
    await assert.rejects(DBOS.getEvent(rx, 'k', Number.NaN), /timeoutSeconds/);
    await assert.rejects(DBOS.getEvent(rx, 'k', Infinity), /timeoutSeconds/);
    await assert.rejects(client.getEvent(rx, 'k', { timeoutSeconds: 1, pollingIntervalMs: 0 }), /pollingIntervalMs must be a positive finite number/);
    await assert.rejects((await DBOS.startWorkflow(receiveN)(null, 1, -5)).getResult(), /timeoutSeconds/);
    assert.equal((await messageRows(rx)).length, 0);
    assert.equal((await statusRow(url, rx))?.status, 'SUCCESS');
  });

  test('SQL-shaped topics and keys are stored verbatim', async () => {
    const rx = `sqlish-${randomUUID()}`;
    const topic = "t'; DROP TABLE dbos.notifications; --";
    const h = await DBOS.startWorkflow(receiveN, { workflowID: rx })(topic, 1, 10);
    await DBOS.send(rx, 'ok', topic);
    assert.deepEqual(await h.getResult(), ['ok']);
    assert.equal((await messageRows(rx))[0]?.topic, topic);
  });
});
