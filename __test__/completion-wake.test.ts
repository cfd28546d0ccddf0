// A handle's getResult in another process (here: a DBOSClient, which has its own engine and listener)
// wakes on the completion notice of a queued workflow, not on its poll: every wait below polls once a
// minute, so a missed notice fails the test by its timeout. Completers send notices only while some
// process announces completion waiters (a shared advisory lock on its listener connection): a
// completion nobody waits for costs no notifying transaction, which the SDK-style "always notify"
// fails below.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { DBOS, DBOSClient } from 'dbos-native';
import { query, sleep, within } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

const QUEUE = 'wake';
const MINUTE = { pollingIntervalMs: 60_000 };
/** Far below the minute-long poll: only a notice can wake a wait this fast. */
const WOKEN_WITHIN_MS = 10_000;

const waitsForGo = DBOS.registerWorkflow(async (): Promise<string> => String(await DBOS.recv<string>('go', 60)), { name: 'waitsForGo' });
const quick = DBOS.registerWorkflow(async (n: number): Promise<number> => n * 2, { name: 'quick' });

const db = launchedDatabase('dbosn_completion_wake', { name: 'wake-app' });

async function withClient<T>(f: (c: DBOSClient) => Promise<T>): Promise<T> {
  await DBOS.registerQueue(QUEUE).catch(() => undefined); // registered once; later calls find it
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'wake-app' });
  try {
    return await f(client);
  } finally {
    await client.destroy();
  }
}

/** Every payload heard on the completions channel while `f` runs (plus a short grace). */
async function heardDuring(f: () => Promise<void>): Promise<string[]> {
  const listener = new Client({ connectionString: db.url });
  await listener.connect();
  const heard: string[] = [];
  listener.on('notification', (n) => heard.push(n.payload ?? ''));
  try {
    await listener.query('LISTEN dbos_native_completions_channel');
    await f();
    await sleep(300);
    return heard;
  } finally {
    await listener.end();
  }
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await query<{ status: string }>(db.url, 'SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1', [id]))[0]?.status;
}

describe('completion notices', () => {
  test("a client's getResult wakes on the completion of a workflow it waited for", async () => {
    await withClient(async (client) => {
      const handle = await client.enqueue<typeof waitsForGo>({ queueName: QUEUE, workflowName: 'waitsForGo', workflowID: 'w-go' });
      const result = handle.getResult(MINUTE);
      await sleep(200); // the wait is registered and announced
      await client.send('w-go', 'now', 'go');
      assert.equal(await within(result, WOKEN_WITHIN_MS, 'w-go'), 'now');
    });
  });

  test('waits that start while their workflows finish are never left to the poll', async () => {
    await withClient(async (client) => {
      // Nobody waits at first, so each round's wait announces itself as its workflow completes.
      for (let i = 0; i < 4; i++) {
        await sleep(2_300); // past the announcement's linger: the lock is released between rounds
        const handle = await client.enqueue<typeof quick>({ queueName: QUEUE, workflowName: 'quick', workflowID: `race-${i}` }, i);
        assert.equal(await within(handle.getResult(MINUTE), WOKEN_WITHIN_MS, `race-${i}`), i * 2);
      }
    });
  });

  test('a completion nobody waits for is not notified; one somebody waits for is', async () => {
    await withClient(async (client) => {
      await sleep(2_300); // earlier waits' announcement has lapsed
      const unwatched = await heardDuring(async () => {
        for (let i = 0; i < 10; i++) await client.enqueue({ queueName: QUEUE, workflowName: 'quick', workflowID: `quiet-${i}` }, i);
        for (let i = 0; i < 10; i++) {
          for (let t = 0; (await statusOf(`quiet-${i}`)) !== 'SUCCESS'; t++) {
            assert.ok(t < 500, `quiet-${i} finished`);
            await sleep(20);
          }
        }
      });
      assert.deepEqual(unwatched, [], 'no process waits: no completion notice');
      const watched = await heardDuring(async () => {
        const handle = await client.enqueue<typeof waitsForGo>({ queueName: QUEUE, workflowName: 'waitsForGo', workflowID: 'loud' });
        const result = handle.getResult(MINUTE);
        await sleep(200);
        await client.send('loud', 'x', 'go');
        await within(result, WOKEN_WITHIN_MS, 'loud');
      });
      assert.ok(watched.some((p) => p.split('\u001e').includes('loud')), `heard ${JSON.stringify(watched)}`);
    });
  });

  test("a wait survives its listener's reconnect: the announcement is taken again", async () => {
    await withClient(async (client) => {
      const handle = await client.enqueue<typeof waitsForGo>({ queueName: QUEUE, workflowName: 'waitsForGo', workflowID: 'w-reconnect' });
      const result = handle.getResult(MINUTE);
      await sleep(200);
      // Every listener session of this database ends (the app's and the client's); both reconnect.
      const killed = await query<{ n: string }>(
        db.url,
        `SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'dbos_native_listener_%'`,
      );
      assert.ok(Number(killed[0]?.n) >= 2, 'both listeners were cut');
      await sleep(1_500); // reconnected (1 s delay), announced again
      await client.send('w-reconnect', 'again', 'go');
      assert.equal(await within(result, WOKEN_WITHIN_MS, 'w-reconnect'), 'again');
    });
  });
});
