// An official SDK app for the schedule firing tests (its twin on dbos-native is sched-app.ts; the two
// differ only in their import). It registers the workflow `schedTick(scheduledDate, context)`, which appends
// `fired|<sdk>|<workflowID>|<scheduledDate ISO, or 'not-a-date'>|<context as JSON>` to $LOG, and fires the schedules of
// the application `schedapp` (executor $EXECUTOR_ID). Logs `ready` once launched, then runs until killed.
import { appendFileSync } from 'node:fs';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { hangForever, runMain } from './app-main';

const sdk = 'official';
const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);

DBOS.registerWorkflow(
  async (scheduledDate: Date, context: unknown): Promise<void> => {
    const when = scheduledDate instanceof Date ? scheduledDate.toISOString() : 'not-a-date';
    log(`fired|${sdk}|${DBOS.workflowID ?? ''}|${when}|${JSON.stringify(context)}`);
  },
  { name: 'schedTick' },
);

runMain('sched-app', async () => {
  DBOS.setConfig({
    name: 'schedapp',
    systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL,
    applicationVersion: 'sched-v1',
    executorID: process.env.EXECUTOR_ID ?? `${sdk}-sched`,
    logLevel: 'error',
  });
  await DBOS.launch();
  log('ready');
  await hangForever();
});
