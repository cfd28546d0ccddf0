// An app on the official @dbos-inc/dbos-sdk 5.3.0 that the interop tests run as a child process (its
// DBOS singleton is separate from ours anyway, but a process of its own gives it its own executor, as
// in a real deployment). Configured by env:
//   DBOS_SYSTEM_DATABASE_URL, LOG (events `<name> <epoch ms>` are appended here)
//   RECEIVER_ID    runs officialReceiver: recv('typed'), then recv() without a topic
//   PUBLISHER_ID   runs officialPublisher: setEvent('typed', typedValue()), waits for 'release', setEvent('late')
//   SENDER_ID, SEND_TO, EVENT_FROM   runs officialSender: DBOS.send(SEND_TO, typedValue(), 'from-official'),
//                  then returns DBOS.getEvent(EVENT_FROM, 'native-typed')
// It exits 0 once all of them are done.
import { appendFileSync } from 'node:fs';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { typedValue } from '../helpers/typed';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

const officialReceiver = DBOS.registerWorkflow(
  async (timeoutSeconds: number) => [await DBOS.recv('typed', timeoutSeconds), await DBOS.recv(undefined, timeoutSeconds)],
  { name: 'officialReceiver' },
);

const officialPublisher = DBOS.registerWorkflow(
  async (timeoutSeconds: number) => {
    await DBOS.setEvent('typed', typedValue());
    await DBOS.recv('release', timeoutSeconds);
    await DBOS.setEvent('late', 'after release');
    return 'published';
  },
  { name: 'officialPublisher' },
);

const officialSender = DBOS.registerWorkflow(
  async (dest: string, eventFrom: string, timeoutSeconds: number) => {
    await DBOS.send(dest, typedValue(), 'from-official');
    return DBOS.getEvent(eventFrom, 'native-typed', timeoutSeconds);
  },
  { name: 'officialSender' },
);

async function main(): Promise<void> {
  DBOS.setConfig({
    name: 'official-app',
    systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL,
    executorID: 'official-executor',
    applicationVersion: 'official-v1',
    logLevel: 'error',
  });
  await DBOS.launch();
  log('launched');
  const work: Promise<unknown>[] = [];
  const timeout = 20;
  if (process.env.RECEIVER_ID) {
    work.push((await DBOS.startWorkflow(officialReceiver, { workflowID: process.env.RECEIVER_ID })(timeout)).getResult());
  }
  if (process.env.PUBLISHER_ID) {
    work.push((await DBOS.startWorkflow(officialPublisher, { workflowID: process.env.PUBLISHER_ID })(timeout)).getResult());
  }
  if (process.env.SENDER_ID && process.env.SEND_TO && process.env.EVENT_FROM) {
    const h = await DBOS.startWorkflow(officialSender, { workflowID: process.env.SENDER_ID })(process.env.SEND_TO, process.env.EVENT_FROM, timeout);
    work.push(h.getResult());
  }
  log('started');
  await Promise.all(work);
  log('done');
  await DBOS.shutdown();
  process.stdout.write(JSON.stringify({ ok: true }) + '\n');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`official-app failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
