// Workflows that wait in each way a workflow can (recv, getEvent, readStream, sleep), shared by the
// shutdown tests and the app they spawn: the hub receives 'go', then publishes an event and a stream.
import { DBOS } from 'dbos-native';

export const hub = DBOS.registerWorkflow(
  async () => {
    const m = await DBOS.recv<string>('go', 60);
    await DBOS.setEvent('ev', `${m}!`);
    await DBOS.writeStream('s', `${m}!`);
    await DBOS.closeStream('s');
    return `${m}!`;
  },
  { name: 'hub' },
);

export const eventWaiter = DBOS.registerWorkflow(async (id: string) => DBOS.getEvent<string>(id, 'ev', 60), { name: 'eventWaiter' });

export const streamWaiter = DBOS.registerWorkflow(
  async (id: string) => {
    const got: unknown[] = [];
    for await (const v of DBOS.readStream(id, 's')) got.push(v);
    return got;
  },
  { name: 'streamWaiter' },
);

export const sleeper = DBOS.registerWorkflow(
  async (ms: number) => {
    await DBOS.sleep(ms);
    return 'slept';
  },
  { name: 'sleeper' },
);
