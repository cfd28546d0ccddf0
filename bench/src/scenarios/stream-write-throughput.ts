// e1. Stream write throughput: values/s written with DBOS.writeStream from workflow code (each write is
// checkpointed), by one workflow, then by 8 concurrent workflows (each on its own stream). The workflows time
// themselves: from just before their first write until the last is durable (a setEvent after it has returned;
// start and getResult not included).
import { now, rateMetric, withTimeout, type Metric, type Scenario } from '../scenario';

const SINGLE_MAX = 2000;
const CONCURRENT = 8;
/** Per workflow, in the concurrent run. */
const CONCURRENT_MAX = 1000;
const DURATION_MS = 5000;
const WARMUP_VALUES = 20;
const KEY = 'values';

interface Written {
  n: number;
  t0: number;
  t1: number;
}

export const streamWriteThroughput: Scenario = {
  id: 'stream-write-throughput',
  title: 'DBOS.writeStream from workflow code: values written',
  note: `one workflow up to ${SINGLE_MAX} values, then ${CONCURRENT} concurrent workflows up to ${CONCURRENT_MAX} each, each run capped at ${DURATION_MS / 1000} s; timed inside the workflows (first write until a setEvent after the last returned)`,
  timeCapMs: 2 * DURATION_MS + 20_000,
  prepare(sdk) {
    // `until` is a performance.now() deadline of this process (the workflow runs here too).
    const wf = sdk.registerWorkflow('stream-write-throughput.writer', async (max: number, until: number): Promise<Written> => {
      const t0 = now();
      let n = 0;
      while (n < max && now() < until) {
        await sdk.writeStream(KEY, n);
        n++;
      }
      // Timed until the values are durable: an SDK may return from writeStream before its write commits
      // (dbos-native writes them behind the workflow), but a setEvent commits only after them.
      await sdk.setEvent('written', n);
      const t1 = now();
      await sdk.closeStream(KEY);
      return { n, t0, t1 };
    });
    return async (ctx) => {
      const run = async (workflows: number, max: number): Promise<Written[]> => {
        const until = Math.min(ctx.deadline, now() + DURATION_MS);
        const handles = await Promise.all(Array.from({ length: workflows }, () => sdk.start(wf, undefined, max, until)));
        const results = await Promise.all(handles.map((h) => withTimeout(h.getResult(), DURATION_MS + 30_000, 'stream writer')));
        ctx.countOps(results.reduce((s, r) => s + r.n, 0));
        return results;
      };
      const rate = (name: string, rs: Written[]): Metric => {
        const n = rs.reduce((s, r) => s + r.n, 0);
        return rateMetric(name, n, Math.max(...rs.map((r) => r.t1)) - Math.min(...rs.map((r) => r.t0)));
      };
      await run(1, WARMUP_VALUES);
      const single = await run(1, SINGLE_MAX);
      const many = await run(CONCURRENT, CONCURRENT_MAX);
      return [rate('1 workflow', single), rate(`${CONCURRENT} workflows`, many)];
    };
  },
};
