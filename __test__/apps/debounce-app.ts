// A dbos-native app for the debouncer's multi-process tests (its twin on the official SDK is debounce-app-official.ts;
// the two differ only in their import and `sdk`). It registers `debouncedJob(label, n)`, which appends
// `run:<sdk>:<label>:<n>` to $LOG, and `debounceParent(label)`, which debounces `debouncedJob` three times (key
// $KEY, period $PERIOD_MS) from workflow code, appends `bounced:<sdk>`, then sleeps a minute. App name $APP_NAME,
// executor $EXECUTOR_ID. Logs `ready` once launched; with MODE=parent it then starts `debounceParent` (ID $PARENT_ID).
import { appendFileSync } from 'node:fs';
import { DBOS, Debouncer } from 'dbos-native';
import { hangForever, runMain } from './app-main';

const sdk = 'native';
const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);

const job = DBOS.registerWorkflow(
  async (label: string, n: number): Promise<string> => {
    await DBOS.runStep(async () => log(`run:${sdk}:${label}:${n}`), { name: 'log' });
    return `${sdk}:${label}:${n}`;
  },
  { name: 'debouncedJob' },
);

const debouncer = new Debouncer({ workflow: job });

const parent = DBOS.registerWorkflow(
  async (label: string): Promise<void> => {
    for (const n of [1, 2, 3]) await debouncer.debounce(process.env.KEY ?? 'key', Number(process.env.PERIOD_MS ?? 3000), label, n);
    await DBOS.runStep(async () => log(`bounced:${sdk}`), { name: 'bounced' });
    await DBOS.sleep(60_000);
  },
  { name: 'debounceParent' },
);

runMain('debounce-app', async () => {
  DBOS.setConfig({
    name: process.env.APP_NAME ?? 'debounce-app',
    systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL,
    applicationVersion: `${process.env.APP_NAME ?? 'debounce-app'}-v1`,
    executorID: process.env.EXECUTOR_ID ?? `${sdk}-debouncer`,
    logLevel: 'error',
  });
  await DBOS.launch();
  log('ready');
  if (process.env.MODE === 'parent') await DBOS.startWorkflow(parent, { workflowID: process.env.PARENT_ID ?? 'parent' })('crash');
  await hangForever();
});
