// Engine calls made in one turn of the event loop are written together (ts/together.ts): the client enqueues of
// callers resumed together, and the completions of workflows that ended together, each go as one statement instead of the first alone and the rest after it. Rows written by one statement share their xmin; each test fails if the
// calls reach the engine one by one. A refused call among them fails alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { query } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

// Rows stamped for another application version: no dispatcher here claims them, so their xmin stays the enqueue's.
const ELSEWHERE = { queueName: 'together', workflowName: 'gated', appVersion: 'elsewhere' };

let openGate: () => void = () => undefined;
let gate = Promise.resolve();
function closeGate(): void {
  gate = new Promise((resolve) => (openGate = resolve));
}
const gated = DBOS.registerWorkflow(
  async (n: number): Promise<number> => {
    await gate;
    return n;
  },
  { name: 'gated' },
);

const db = launchedDatabase('dbosn_together', { name: 'together-app' });

/** How many transactions wrote the current versions of these workflows' rows. */
async function writers(ids: string[]): Promise<number> {
  const rows = await query<{ n: string }>(db.url, 'SELECT count(DISTINCT xmin::text) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)', [ids]);
  return Number(rows[0].n);
}

async function withClient<T>(f: (c: DBOSClient) => Promise<T>): Promise<T> {
  const client = await DBOSClient.create({ systemDatabaseUrl: db.url });
  try {
    return await f(client);
  } finally {
    await client.destroy();
  }
}

describe('calls made together are written together', () => {
  test('32 client enqueues made in one turn are one statement', async () => {
    await DBOS.registerQueue('together');
    await withClient(async (client) => {
      const ids = Array.from({ length: 32 }, (_, i) => `enq-${i}`);
      await Promise.all(ids.map((workflowID, i) => client.enqueue({ ...ELSEWHERE, workflowID }, i)));
      assert.equal(await writers(ids), 1);
      // Callers resumed together (as after a batch commits) come back together too.
      const again = ids.map((id) => `${id}-again`);
      await Promise.all(again.map((workflowID, i) => Promise.resolve().then(() => client.enqueue({ ...ELSEWHERE, workflowID }, i))));
      assert.equal(await writers(again), 1);
    });
  });

  test('a refused enqueue among them fails alone, with its own error', async () => {
    await withClient(async (client) => {
      await client.enqueue({ ...ELSEWHERE, workflowID: 'holder', deduplicationID: 'held' }, 0);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          client.enqueue({ ...ELSEWHERE, workflowID: `mixed-${i}`, deduplicationID: i === 3 ? 'held' : undefined }, i),
        ),
      );
      outcomes.forEach((o, i) => {
        if (i === 3) {
          assert.equal(o.status, 'rejected');
          assert.ok(o.status === 'rejected' && o.reason instanceof E.DBOSQueueDuplicatedError, String(o.status === 'rejected' && o.reason));
        } else {
          assert.equal(o.status, 'fulfilled', `enqueue ${i}`);
        }
      });
      const written = await query<{ workflow_uuid: string }>(db.url, "SELECT workflow_uuid FROM dbos.workflow_status WHERE workflow_uuid LIKE 'mixed-%' ORDER BY 1");
      assert.deepEqual(
        written.map((r) => r.workflow_uuid),
        [0, 1, 2, 4, 5, 6, 7].map((i) => `mixed-${i}`),
      );
    });
  });

  test('workflows ending in one turn are completed by one statement; a cancelled one among them stays cancelled', async () => {
    closeGate();
    const ids = Array.from({ length: 24 }, (_, i) => `end-${i}`);
    const handles = await Promise.all(ids.map((workflowID, i) => DBOS.startWorkflow(gated, { workflowID })(i)));
    // Every start is written (PENDING) before the gate opens, so the completions are plain updates.
    for (let tries = 0; ; tries++) {
      const rows = await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE 'end-%' AND status = 'PENDING'");
      if (Number(rows[0].n) === ids.length) break;
      assert.ok(tries < 100, 'the starts were written');
      await new Promise((r) => setTimeout(r, 20));
    }
    await DBOS.cancelWorkflow('end-5');
    openGate();
    const results = await Promise.allSettled(handles.map((h) => h.getResult()));
    results.forEach((r, i) => {
      if (i === 5) assert.ok(r.status === 'rejected' && r.reason instanceof E.DBOSWorkflowCancelledError, `workflow ${i}: ${r.status}`);
      else assert.deepEqual(r, { status: 'fulfilled', value: i });
    });
    const completed = ids.filter((_, i) => i !== 5);
    assert.equal(await writers(completed), 1);
    const statuses = await query<{ status: string; n: string }>(db.url, "SELECT status, count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid LIKE 'end-%' GROUP BY 1 ORDER BY 1");
    assert.deepEqual(statuses.map((r) => [r.status, Number(r.n)]), [['CANCELLED', 1], ['SUCCESS', 23]]);
  });
});
