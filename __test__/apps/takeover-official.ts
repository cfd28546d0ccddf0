// An official @dbos-inc/dbos-sdk 5.3.0 process of the takeover tests: the same application name and
// version as takeover-app, the same waiter workflow, its own executor. Env: DBOS_SYSTEM_DATABASE_URL,
// EXECUTOR, LOG, WAITERS=<prefix>:<n> (started at launch, each waits in DBOS.recv('go') for 10 minutes).
// dbos-native processes must never take its workflows over, alive or killed. It runs until killed.
import { appendFileSync } from 'node:fs';
import { Pool } from 'pg';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { hangForever, runMain } from './app-main';

const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
const executor = process.env.EXECUTOR ?? 'official';
const effects = new Pool({ connectionString: process.env.DBOS_SYSTEM_DATABASE_URL, max: 2, application_name: 'takeover_effects' });

const effect = DBOS.registerStep(
  async (id: string, step: number): Promise<void> => {
    await effects.query('INSERT INTO takeover_effects (workflow_id, step, executor) VALUES ($1, $2, $3)', [id, step, executor]);
  },
  { name: 'effect' },
);

const waiter = DBOS.registerWorkflow(
  async (): Promise<string | null> => {
    const id = DBOS.workflowID ?? '';
    await effect(id, 1);
    const message = await DBOS.recv<string>('go', 600);
    await effect(id, 2);
    return message;
  },
  { name: 'tkWaiter' },
);

async function main(): Promise<void> {
  DBOS.setConfig({
    name: 'takeover-app',
    systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL,
    executorID: executor,
    applicationVersion: 'tk-v1',
    logLevel: 'error',
  });
  await DBOS.launch();
  const [prefix, n] = (process.env.WAITERS ?? 'o:0').split(':');
  for (let i = 0; i < Number(n); i++) await DBOS.startWorkflow(waiter, { workflowID: `${prefix}-${i}` })();
  log('started');
  await hangForever();
}

runMain('takeover-official', main);
