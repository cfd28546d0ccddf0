// An official SDK worker for the queue interop test (its twin on dbos-native is queue-worker.ts;
// the two differ only in their import). It registers `interopJob` and serves every queue of the application
// `qinterop`; each job's one step sleeps its argument (ms) and appends `start:official:<id> <ms>` and `end:official:<id> <ms>`
// to $LOG (its executor ID is $EXECUTOR_ID, default `<sdk>-worker`; $LOG_LEVEL=warn shows its contention backoff
// on stderr). Logs `ready` once launched, then runs until killed.
import { appendFileSync } from 'node:fs';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { hangForever, runMain } from './app-main';

const sdk = 'official';
const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);

DBOS.registerWorkflow(
  async (ms: number): Promise<string> => {
    const id = DBOS.workflowID ?? '';
    await DBOS.runStep(
      async () => {
        log(`start:${sdk}:${id}`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        log(`end:${sdk}:${id}`);
      },
      { name: 'work' },
    );
    return sdk;
  },
  { name: 'interopJob' },
);

runMain('queue-worker-official', async () => {
  DBOS.setConfig({ name: 'qinterop', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL, applicationVersion: 'qinterop-v1', executorID: process.env.EXECUTOR_ID ?? `${sdk}-worker`, logLevel: process.env.LOG_LEVEL ?? 'error' });
  await DBOS.launch();
  log('ready');
  await hangForever();
});
