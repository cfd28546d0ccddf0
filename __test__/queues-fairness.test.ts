// Fair across queues: with 10 queues, one of them backlogged with 100,000 ENQUEUED workflows draining slowly
// (a worker limit), a workflow enqueued on one of the idle queues starts within 100 ms (median of several),
// whether the enqueue is this process's (woken locally) or a client's (woken through NOTIFY).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, DBOSClient } from 'dbos-native';
import { waitFor } from './helpers/child';
import { query, sleep, within } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

const BACKLOG = 100_000;
const IDLE_QUEUES = 9;
const PROBES = 7;

const backlogJob = DBOS.registerWorkflow(
  async (): Promise<void> => {
    await sleep(50);
  },
  { name: 'backlogJob' },
);

/** When each probe's body began (this process's clock, as the enqueue times are). */
const probeStarts = new Map<string, number>();
const probe = DBOS.registerWorkflow(
  async (): Promise<void> => {
    probeStarts.set(DBOS.workflowID ?? '', Date.now());
  },
  { name: 'probe' },
);

const db = launchedDatabase('dbosn_queues_fairness', { name: 'queues-fairness', applicationVersion: 'v1' });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Infinity;
}

/**
 * Fills `queue` with `n` ENQUEUED rows: one real enqueue (onto a queue no process serves) is the template, and
 * generate_series copies its status and input rows, with FIFO created_at, so the backlog is exactly what our
 * enqueue writes.
 */
async function backlog(queue: string, n: number): Promise<void> {
  await DBOS.startWorkflow(backlogJob, { queueName: 'unserved-template', workflowID: 'template' })();
  const cols = (
    await query<{ column_name: string }>(
      db.url,
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'dbos' AND table_name = 'workflow_status'
         AND column_name NOT IN ('workflow_uuid', 'queue_name', 'created_at') ORDER BY ordinal_position`,
    )
  ).map((c) => `"${c.column_name}"`);
  await query(
    db.url,
    `INSERT INTO dbos.workflow_status (workflow_uuid, queue_name, created_at, ${cols.join(', ')})
     SELECT 'backlog-' || g, $1, t.created_at + g, ${cols.map((c) => `t.${c}`).join(', ')}
     FROM dbos.workflow_status t, generate_series(1, $2::int) g WHERE t.workflow_uuid = 'template'`,
    [queue, n],
  );
  await query(
    db.url,
    `INSERT INTO dbos.workflow_input (workflow_uuid, inputs)
     SELECT 'backlog-' || g, t.inputs FROM dbos.workflow_input t, generate_series(1, $1::int) g WHERE t.workflow_uuid = 'template'`,
    [n],
  );
}

async function waiting(queue: string): Promise<number> {
  const rows = await query<{ n: string }>(db.url, `SELECT count(*) AS n FROM dbos.workflow_status WHERE queue_name = $1 AND status = 'ENQUEUED'`, [queue]);
  return Number(rows[0]?.n);
}

describe('fairness across queues', () => {
  test('a backlog of 100,000 on one queue does not delay a start on an idle one', async (t) => {
    await DBOS.registerQueue('backlogged', { workerConcurrency: 2 });
    for (let i = 0; i < IDLE_QUEUES; i++) await DBOS.registerQueue(`idle-${i}`);
    await backlog('backlogged', BACKLOG);
    // The backlog is being served (slowly): its dispatcher is at work while the probes run. The rows were
    // written by SQL, with no NOTIFY, so the lane finds them at its next poll (within its 1 s interval).
    const before = await waiting('backlogged');
    await waitFor('the backlogged queue to drain', async () => (await waiting('backlogged')) < before - 4, [], 5000);

    const client = await DBOSClient.create({ systemDatabaseUrl: db.url, applicationName: 'queues-fairness' });
    const latency: Record<'local' | 'client', number[]> = { local: [], client: [] };
    try {
      for (let i = 0; i < PROBES; i++) {
        for (const via of ['local', 'client'] as const) {
          const id = `probe-${via}-${i}`;
          const queueName = `idle-${i % IDLE_QUEUES}`;
          const enqueuedAt = Date.now();
          if (via === 'local') await DBOS.startWorkflow(probe, { queueName, workflowID: id })();
          else await client.enqueue({ workflowName: 'probe', queueName, workflowID: id });
          // Bounded: a probe stuck behind the backlog fails here instead of hanging the file.
          await within(DBOS.retrieveWorkflow(id).getResult(), 10_000, `${id} to run`);
          latency[via].push((probeStarts.get(id) ?? Infinity) - enqueuedAt);
        }
      }
    } finally {
      await client.destroy();
    }
    assert.ok((await waiting('backlogged')) > BACKLOG / 2, 'the backlog was still there throughout');
    for (const via of ['local', 'client'] as const) {
      t.diagnostic(`${via} enqueue → start (ms): ${latency[via].join(', ')}`);
      assert.ok(median(latency[via]) < 100, `${via} enqueue → start: median ${median(latency[via])} ms (${latency[via].join(', ')})`);
    }
  });
});
