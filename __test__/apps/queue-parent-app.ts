// An app the queue feature tests run as a child process: a workflow that enqueues a child onto the queue
// `kidq` and then (with HANG=1) hangs in a step, so the test can SIGKILL the process with the parent
// PENDING and its child still ENQUEUED; relaunched (same executor, HANG unset) it recovers the parent,
// whose replayed enqueue must find the child it recorded rather than enqueue another. Configured by env:
//   DBOS_SYSTEM_DATABASE_URL, LOG (events `<name> <epoch ms>`), KIDQ_CONCURRENCY (the queue's global limit),
//   START=1  start the parent `queued-parent` (otherwise only recovery runs it).
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);

const kid = DBOS.registerWorkflow(
  async (n: number): Promise<string> => {
    await DBOS.runStep(async () => log(`kid-run-${DBOS.workflowID ?? ''}`), { name: 'kidStep' });
    return `kid ${n}`;
  },
  { name: 'kid' },
);

const parent = DBOS.registerWorkflow(
  async (): Promise<string> => {
    await DBOS.runStep(async () => log('before'), { name: 'before' });
    const child = await DBOS.startWorkflow(kid, { queueName: 'kidq' })(7);
    await DBOS.runStep(
      async () => {
        log(`enqueued-${child.workflowID}`);
        if (process.env.HANG === '1') await hangForever();
      },
      { name: 'hang' },
    );
    return `${child.workflowID}: ${await child.getResult()}`;
  },
  { name: 'queuedParent' },
);

runMain('queue-parent-app', async () => {
  DBOS.setConfig({ name: 'queue-parent-app', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL, executorID: 'qparent-exec', applicationVersion: 'qp-v1' });
  await DBOS.launch();
  await DBOS.registerQueue('kidq', { globalConcurrency: Number(process.env.KIDQ_CONCURRENCY ?? '1') });
  if (process.env.START === '1') await DBOS.startWorkflow(parent, { workflowID: 'queued-parent' })();
  log('ready');
  await hangForever();
});
