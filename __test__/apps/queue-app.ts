// An app the queue crash tests run as a child process: with ENQUEUE=1 it enqueues six jobs onto the
// queue $QUEUE (IDs `<queue>-job-<i>`); each job logs its steps to $LOG (keyed by workflow ID). With
// HANG=1 it hangs in its middle step so the test can SIGKILL the process with jobs both running and
// still queued; with SLOW=1 the middle step takes 300 ms and logs its start and end.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

const job = DBOS.registerWorkflow(
  async (): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    await DBOS.runStep(async () => log(`start-${id}`), { name: 'start' });
    await DBOS.runStep(
      async () => {
        if (process.env.HANG === '1') await hangForever();
        if (process.env.SLOW === '1') {
          log(`mid-start-${id}`);
          await new Promise((resolve) => setTimeout(resolve, 300));
          log(`mid-end-${id}`);
        }
      },
      { name: 'middle' },
    );
    await DBOS.runStep(async () => log(`done-${id}`), { name: 'done' });
    return id;
  },
  { name: 'queuedJob' },
);

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'queue-app', applicationVersion: 'queue-v1' });
  await DBOS.launch();
  if (process.env.ENQUEUE === '1') {
    const queue = process.env.QUEUE ?? 'crashq';
    for (let i = 0; i < 6; i++) await DBOS.startWorkflow(job, { queueName: queue, workflowID: `${queue}-job-${i}` })();
  }
  log('ready');
  await hangForever();
}

runMain('queue-app', main);
