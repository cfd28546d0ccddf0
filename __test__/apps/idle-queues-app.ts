// The process the queue idle-cost test measures: it launches, registers $QUEUES queues (default 35) with the
// default polling interval, logs `ready`, and then has nothing to do until it is killed.
// Configured by env: DBOS_SYSTEM_DATABASE_URL, LOG (events `<name> <epoch ms>`), QUEUES.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

runMain('idle-queues-app', async () => {
  DBOS.setConfig({ name: 'idle-queues-app', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL, logLevel: 'error' });
  await DBOS.launch();
  const n = Number(process.env.QUEUES ?? '35');
  for (let i = 0; i < n; i++) await DBOS.registerQueue(`idle-${i}`, { workerConcurrency: 4, globalConcurrency: 8 });
  appendFileSync(process.env.LOG ?? '/dev/null', `ready ${Date.now()}\n`);
  await hangForever();
});
