// The memory test's app, run as a child (with --expose-gc) so that its RSS is only dbos-native's. Env:
//   DBOS_SYSTEM_DATABASE_URL, MESSAGES=<n>, WORKFLOWS=<n>, CONCURRENCY=<n>, SAMPLE_EVERY=<n>, LOG
// 1. Runs the workflow `summer` (ID `summer`), a loop of n DBOS.recv that sums the messages; message i
//    is on topic `b<floor(i / 1000)>` (the test feeds it). Logs `summer-started`.
// 2. Then runs WORKFLOWS short workflows (start + getResult, CONCURRENCY at a time; each one step).
// After a full GC, RSS and the JS heap in use are sampled every SAMPLE_EVERY messages and every
// SAMPLE_EVERY workflows. Prints {"sum", "recvMs", "recv": [[rss, heap], ...], "workflowsMs",
// "workflows": [[rss, heap], ...]} and exits 0.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { runMain } from './app-main';

const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);

const messages = Number(process.env.MESSAGES ?? '1000');
const workflows = Number(process.env.WORKFLOWS ?? '1000');
const concurrency = Number(process.env.CONCURRENCY ?? '50');
const every = Number(process.env.SAMPLE_EVERY ?? '1000');
export const TOPIC_SIZE = 1000;

const gc = (globalThis as { gc?: () => void }).gc;
/** [RSS, heap used] after a full GC. */
function sample(): [number, number] {
  gc?.();
  const m = process.memoryUsage();
  return [m.rss, m.heapUsed];
}

const recvSamples: [number, number][] = [];

const summer = DBOS.registerWorkflow(
  async (n: number): Promise<number> => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += (await DBOS.recv<number>(`b${Math.floor(i / TOPIC_SIZE)}`, 60)) ?? NaN;
      if ((i + 1) % every === 0) recvSamples.push(sample());
    }
    return sum;
  },
  { name: 'summer' },
);

const short = DBOS.registerWorkflow(
  async (i: number): Promise<number> => (await DBOS.runStep(async () => i * 2, { name: 'double' })) + 1,
  { name: 'short' },
);

async function main(): Promise<void> {
  if (!gc) throw new Error('run me with --expose-gc');
  DBOS.setConfig({ name: 'memory-app', applicationVersion: 'memory-v1' });
  await DBOS.launch();
  const t0 = Date.now();
  const handle = await DBOS.startWorkflow(summer, { workflowID: 'summer' })(messages);
  log('summer-started');
  const sum = await handle.getResult();
  const recvMs = Date.now() - t0;

  const workflowSamples: [number, number][] = [];
  const t1 = Date.now();
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < workflows) {
      const i = next++;
      const r = await (await DBOS.startWorkflow(short, { workflowID: `short-${i}` })(i)).getResult();
      if (r !== 2 * i + 1) throw new Error(`short-${i} returned ${r}`);
      if (++done % every === 0) workflowSamples.push(sample());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const workflowsMs = Date.now() - t1;
  process.stdout.write(JSON.stringify({ sum, recvMs, recv: recvSamples, workflowsMs, workflows: workflowSamples }) + '\n');
  await DBOS.shutdown();
}

runMain('memory-app', main);
