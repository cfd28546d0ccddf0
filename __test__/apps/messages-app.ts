// A dbos-native app the messages tests run as a child process (and SIGKILL). Configured by env:
//   DBOS_SYSTEM_DATABASE_URL, DBOS__VMID (executor), LOG (events `<name> <epoch ms>` are appended here)
//   START=waiter WF_ID=<id> TOPICS=<a,b,...> TIMEOUT_S=<n>   starts `waiter` (one recv per topic)
//   HANG_AFTER=1                 the step after the recvs hangs (so the test can kill it there)
//   GET_EVENT_ID=<id> GET_EVENT_KEY=<k>   calls DBOS.getEvent outside a workflow, logs `got-event`
//                                and prints {"event": value, "types": {field: type}} on stdout
//   AWAIT=<id>                   prints that workflow's outcome as JSON, shuts down and exits 0
// Without AWAIT it runs until killed.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

const waiter = DBOS.registerWorkflow(
  async (topics: string[], timeoutSeconds: number): Promise<unknown[]> => {
    await DBOS.runStep(async () => log('before'), { name: 'before' });
    const got: unknown[] = [];
    for (const topic of topics) got.push(await DBOS.recv(topic, timeoutSeconds));
    await DBOS.runStep(
      async () => {
        log('after');
        if (process.env.HANG_AFTER === '1') await hangForever();
      },
      { name: 'after' },
    );
    return got;
  },
  { name: 'waiter' },
);

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'messages-app', applicationVersion: 'messages-v1' });
  await DBOS.launch();
  log('launched');
  if (process.env.START === 'waiter') {
    const topics = (process.env.TOPICS ?? 't').split(',');
    await DBOS.startWorkflow(waiter, { workflowID: process.env.WF_ID ?? 'waiter' })(topics, Number(process.env.TIMEOUT_S ?? '60'));
  }
  if (process.env.GET_EVENT_ID) {
    const id = process.env.GET_EVENT_ID;
    const key = process.env.GET_EVENT_KEY ?? 'k';
    void (async () => {
      log('getEvent-start');
      const value = await DBOS.getEvent(id, key, 30);
      log('got-event');
      // What arrived, with the type of each field (JSON alone would hide a Date or a BigInt).
      const types =
        value !== null && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, (v as object | null)?.constructor?.name ?? typeof v]))
          : typeof value;
      const json = JSON.stringify({ event: value, types }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      process.stdout.write(json + '\n');
    })();
  }
  if (process.env.AWAIT) {
    let out: Record<string, unknown>;
    try {
      out = { ok: true, value: await DBOS.retrieveWorkflow(process.env.AWAIT).getResult() };
    } catch (e) {
      out = { ok: false, name: (e as Error).constructor.name, message: (e as Error).message };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    await DBOS.shutdown();
    return;
  }
  await hangForever();
}

runMain('messages-app', main);
