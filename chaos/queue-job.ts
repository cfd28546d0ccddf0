// The worker side of the limited-queue chaos (chaos/queue-check.ts is the driver's): the queued job, a workflow
// whose one step logs its start and end (to CHAOS_QUEUE_LOG) around a short sleep, so the driver can measure how
// many ran at once, in the whole run and in each process, and that none ran twice except after a kill.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { QUEUE_JOB_NAME } from './common';

const queueLog = process.env.CHAOS_QUEUE_LOG ?? '/dev/null';

const jobStep = DBOS.registerStep(
  async (workflowID: string, ms: number): Promise<string> => {
    appendFileSync(queueLog, `${workflowID} start ${Date.now()}\n`);
    await new Promise((r) => setTimeout(r, ms));
    appendFileSync(queueLog, `${workflowID} end ${Date.now()}\n`);
    return `ran ${workflowID}`;
  },
  { name: 'queueJobStep' },
);

DBOS.registerWorkflow(async (ms: number): Promise<string> => jobStep(DBOS.workflowID ?? '', ms), { name: QUEUE_JOB_NAME });
