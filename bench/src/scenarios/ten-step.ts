// d3. A workflow of 10 trivial steps (each returns its argument + 1), start + getResult, with 1 caller and with
// 32 concurrent callers (and queued, in queues.ts). Nominal commits: the status insert, one checkpoint per step, the completion (12).
import type { BenchSdk, Workflow } from '../sdk';
import { workflowThroughput } from './common';

const STEPS = 10;
const COMMITS = STEPS + 2;

export function registerTenStep(sdk: BenchSdk, prefix: string): Workflow<[], unknown> {
  const step = sdk.registerStep(`${prefix}.step`, async (x: number): Promise<number> => x + 1);
  return sdk.registerWorkflow(`${prefix}.workflow`, async (): Promise<number> => {
    let x = 0;
    for (let i = 0; i < STEPS; i++) x = await step(x);
    return x;
  });
}

export const tenStepC1 = workflowThroughput({
  id: 'ten-step-c1',
  title: '10-step workflow start+getResult, concurrency 1',
  concurrency: 1,
  commitsPerOp: COMMITS,
  durationMs: 6000,
  register: (sdk) => registerTenStep(sdk, 'ten-step-c1'),
});

export const tenStepC32 = workflowThroughput({
  id: 'ten-step-c32',
  title: '10-step workflow start+getResult, concurrency 32',
  concurrency: 32,
  commitsPerOp: COMMITS,
  durationMs: 6000,
  register: (sdk) => registerTenStep(sdk, 'ten-step-c32'),
});
