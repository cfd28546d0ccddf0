// A dbos-native worker for the queue interop test (its twin on the official SDK is queue-worker-official.ts;
// the two differ only in their import). It registers `interopJob` and serves every queue of the application
// `qinterop`; each job's one step sleeps its argument (ms) and appends `start:native:<id> <ms>` and `end:native:<id> <ms>`
// to $LOG (its executor ID is $EXECUTOR_ID, default `<sdk>-worker`). Logs `ready` once launched, then runs until killed.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

const sdk = 'native';
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

runMain('queue-worker', async () => {
  DBOS.setConfig({ name: 'qinterop', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL, applicationVersion: 'qinterop-v1', executorID: process.env.EXECUTOR_ID ?? `${sdk}-worker`, logLevel: 'error' });
  await DBOS.launch();
  log('ready');
  await hangForever();
});
