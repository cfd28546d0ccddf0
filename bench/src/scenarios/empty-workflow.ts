// d2. Empty workflow throughput: start a workflow that does nothing, await its result, repeat; with 1 caller and
// with 32 concurrent callers.
import { boundedLoop, now, rateMetric, type Scenario } from '../scenario';
import { workflowThroughput } from './common';

const MAX_OPS = 50_000;
const WARMUP = 20;
const DURATION_MS = 8000;
/** Nominal commits of an empty workflow: the status row's insert and its completion. */
const COMMITS = 2;

export const emptyWorkflow: Scenario = {
  id: 'empty-workflow-c1',
  title: 'empty workflow start+getResult, concurrency 1',
  timeCapMs: 20_000,
  prepare(sdk) {
    const wf = sdk.registerWorkflow('empty-workflow-c1.empty', async (): Promise<number> => 0);
    return async (ctx) => {
      const once = async (): Promise<void> => {
        const handle = await sdk.start(wf, undefined);
        await handle.getResult();
      };
      ctx.countOps(await boundedLoop(WARMUP, ctx.deadline, once));
      const t0 = now();
      const ops = await boundedLoop(MAX_OPS, Math.min(ctx.deadline, t0 + DURATION_MS), once);
      const elapsed = now() - t0;
      ctx.countOps(ops);
      return [{ ...rateMetric('throughput', ops, elapsed), commitLimit: { commitsPerOp: COMMITS, clients: 1 } }];
    };
  },
};

export const emptyWorkflowC32: Scenario = workflowThroughput({
  id: 'empty-workflow-c32',
  title: 'empty workflow start+getResult, concurrency 32',
  concurrency: 32,
  commitsPerOp: COMMITS,
  durationMs: 6000,
  register: (sdk) => sdk.registerWorkflow('empty-workflow-c32.empty', async (): Promise<number> => 0),
});
