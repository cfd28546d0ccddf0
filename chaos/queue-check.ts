// The driver side of the limited-queue chaos (the job is chaos/queue-job.ts): the queue `chaos-limited` has a global
// limit below what the workers could run together and a worker limit; during the chaos window the driver enqueues
// jobs onto it in bursts with DBOSClient.enqueue (fixed workflow IDs, so a retried enqueue is the same job), while
// workers are SIGKILLed and restarted. Checked afterwards, from the jobs' own step logs and the database:
//   - global: a job holds its slot from its first step start to its last step end (through a kill: its row stays
//     PENDING until its executor recovers it), and at no moment did more than QUEUE_GLOBAL jobs hold one;
//   - worker: in each worker process, no more than QUEUE_WORKER job steps ran at once (a step cut by a kill ends at
//     the process's exit);
//   - nothing lost: every enqueued job ended SUCCESS with its step's checkpoint;
//   - nothing doubled: a job's step ran again only after the process of its previous run had been killed (no two
//     processes ever ran one job, and no run that was not cut short by a kill was repeated).
import * as fs from 'node:fs';
import { Client } from 'pg';
import { DBOSClient } from 'dbos-native';
import { APP_NAME, QUEUE_GLOBAL, QUEUE_JOB_NAME, QUEUE_NAME, QUEUE_WORKER, queueJobID, queueLogOf } from './common';

const BURST = 25;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** A worker process as the check needs it. */
export interface QueueProc {
  name: string;
  stepLog: string;
  /** SIGKILLed (by the killer or at the end). */
  killed: boolean;
  /** When its exit was seen; undefined if it is still running. */
  exitedAt: number | undefined;
}

export class QueueChaos {
  /** Jobs whose enqueue committed. */
  readonly ids: string[] = [];
  failed: string[] = [];
  retries = 0;
  private client: DBOSClient | undefined;

  constructor(
    private readonly url: string,
    private readonly jobs: number,
    private readonly rand: () => number,
    private readonly deadline: number,
    private readonly report: (text: string) => void,
  ) {}

  private async get(): Promise<DBOSClient> {
    this.client ??= await DBOSClient.create({ systemDatabaseUrl: this.url, applicationName: APP_NAME });
    return this.client;
  }

  /** Retries `fn` until it succeeds (every call here is idempotent) or the run's deadline passes. */
  private async retry(what: string, fn: (c: DBOSClient) => Promise<unknown>): Promise<boolean> {
    for (let delay = 100; ; delay = Math.min(2000, delay * 2)) {
      try {
        await fn(await this.get());
        return true;
      } catch (e) {
        this.retries++;
        this.report(`${what}: ${(e as Error).message}`.replace(/chaos-job-\d+/g, 'chaos-job-NNNN'));
        if (Date.now() > this.deadline - 60_000) {
          this.failed.push(`${what}: ${(e as Error).message}`);
          return false;
        }
        await sleep(delay);
      }
    }
  }

  async register(): Promise<void> {
    const ok = await this.retry('registerQueue', (c) => c.registerQueue(QUEUE_NAME, { globalConcurrency: QUEUE_GLOBAL, workerConcurrency: QUEUE_WORKER }));
    if (!ok) throw new Error(`could not register the queue ${QUEUE_NAME}`);
  }

  /** Enqueues the jobs in bursts spread evenly from now to `until`; each sleeps 50–250 ms in its step. */
  async enqueueAll(until: number): Promise<void> {
    const bursts = Math.ceil(this.jobs / BURST);
    const gap = Math.max(0, (until - Date.now()) / bursts);
    for (let b = 0; b < bursts; b++) {
      const start = Date.now();
      for (let i = b * BURST; i < Math.min(this.jobs, (b + 1) * BURST); i++) {
        const id = queueJobID(i);
        const ms = 50 + Math.floor(this.rand() * 200);
        if (await this.retry('DBOSClient.enqueue', (c) => c.enqueue({ workflowName: QUEUE_JOB_NAME, queueName: QUEUE_NAME, workflowID: id }, ms))) this.ids.push(id);
      }
      await sleep(gap - (Date.now() - start));
    }
  }

  async destroy(): Promise<void> {
    await this.client?.destroy().catch(() => undefined);
    this.client = undefined;
  }
}

export interface QueueCheck {
  violations: string[];
  jobs: number;
  runs: number;
  reruns: number;
  maxGlobal: number;
  maxWorker: number;
}

interface Run {
  proc: QueueProc;
  start: number;
  end: number | undefined;
}

/** The most intervals open at once (an interval ending at t does not overlap one starting at t). */
function maxOverlap(spans: [number, number][]): number {
  const points = spans.flatMap(([s, e]): [number, number][] => [
    [s, 1],
    [e, -1],
  ]);
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (open += d));
  return max;
}

export async function checkQueue(url: string, ids: string[], procs: QueueProc[]): Promise<QueueCheck> {
  const r: QueueCheck = { violations: [], jobs: ids.length, runs: 0, reruns: 0, maxGlobal: 0, maxWorker: 0 };
  const v = (kind: string, msg: string) => {
    const n = r.violations.filter((x) => x.startsWith(kind)).length;
    if (n < 8) r.violations.push(`${kind}: ${msg}`);
    else if (n === 8) r.violations.push(`${kind}: (more not shown)`);
  };

  // Runs of each job's step, from every process's log.
  const runs = new Map<string, Run[]>();
  for (const proc of procs) {
    const file = queueLogOf(proc.stepLog);
    if (!fs.existsSync(file)) continue;
    const open = new Map<string, Run>();
    const mine: Run[] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const [id, kind, at] = line.split(' ');
      if (!id || !at || !Number.isFinite(Number(at))) continue; // a torn last line of a killed process
      if (kind === 'start') {
        const run: Run = { proc, start: Number(at), end: undefined };
        open.set(id, run);
        mine.push(run);
        (runs.get(id) ?? runs.set(id, []).get(id))?.push(run);
      } else if (kind === 'end') {
        const run = open.get(id);
        if (run) run.end = Number(at);
        open.delete(id);
      }
    }
    // Worker limit: a step cut by a kill occupied its slot until the process died.
    const until = proc.exitedAt ?? Date.now();
    const workerMax = maxOverlap(mine.map((m) => [m.start, m.end ?? until]));
    r.maxWorker = Math.max(r.maxWorker, workerMax);
    if (workerMax > QUEUE_WORKER) v('queue worker limit', `${proc.name} ran ${workerMax} job steps at once (limit ${QUEUE_WORKER})`);
  }

  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const status = new Map(
      (await db.query<{ workflow_uuid: string; status: string }>('SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[])', [ids])).rows.map((x) => [
        x.workflow_uuid,
        x.status,
      ]),
    );
    const outputs = new Map(
      (
        await db.query<{ workflow_uuid: string; output: string | null }>(
          `SELECT workflow_uuid, output FROM dbos.operation_outputs WHERE workflow_uuid = ANY($1::text[]) AND function_name = 'queueJobStep'`,
          [ids],
        )
      ).rows.map((x) => [x.workflow_uuid, x.output]),
    );
    const held: [number, number][] = [];
    for (const id of ids) {
      if (status.get(id) !== 'SUCCESS') v('queue lost', `${id} ended ${status.get(id) ?? 'MISSING'}`);
      if (!(outputs.get(id) ?? '').includes(`ran ${id}`)) v('queue lost', `${id}: no checkpoint of its step`);
      const mine = (runs.get(id) ?? []).sort((a, b) => a.start - b.start);
      r.runs += mine.length;
      r.reruns += Math.max(0, mine.length - 1);
      const last = mine[mine.length - 1];
      if (!last) {
        v('queue lost', `${id}: its step never ran`);
        continue;
      }
      if (last.end === undefined) v('queue lost', `${id}: its last step run (${last.proc.name}) never ended`);
      for (let i = 0; i + 1 < mine.length; i++) {
        const [a, b] = [mine[i]!, mine[i + 1]!];
        if (!a.proc.killed) v('queue doubled', `${id}: ran in ${a.proc.name} (not killed) and again in ${b.proc.name}`);
        else if ((a.proc.exitedAt ?? Infinity) > b.start) v('queue doubled', `${id}: ran in ${b.proc.name} at ${b.start} while ${a.proc.name} (running it) was alive`);
      }
      held.push([mine[0]!.start, last.end ?? last.proc.exitedAt ?? Date.now()]);
    }
    r.maxGlobal = maxOverlap(held);
    if (r.maxGlobal > QUEUE_GLOBAL) v('queue global limit', `${r.maxGlobal} jobs held a slot at once (limit ${QUEUE_GLOBAL})`);
  } finally {
    await db.end();
  }
  return r;
}
