// A dbos-native app process of the takeover tests (one application name and version, many executors).
// Configured by env:
//   DBOS_SYSTEM_DATABASE_URL, DBOS__VMID (executor), LOG (events `<name> <epoch ms>` are appended here)
//   WAITERS=<prefix>:<n>   starts n waiters `<prefix>-<i>` (odd i on queue 'tq'): each runs the step `effect`
//                          (1), waits in DBOS.recv('go'), runs `effect` (2) and returns the message
//   STEPPER=<id>:<n>       runs a stepper: n times `effect` (k) then DBOS.sleep(500 ms); logs `result:<json>`
//                          with what its handle returns (after a takeover: the new owner's outcome)
//   SEND_TO=<prefix>:<n>,...  on SIGUSR2, sends 'go' to every such waiter, then logs `sent`
// Every step execution inserts (workflow, step, executor) into takeover_effects, which the test
// created, so the test counts side effects across processes. It runs until killed.
import { appendFileSync } from 'node:fs';
import { Pool } from 'pg';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
const executor = process.env.DBOS__VMID ?? 'local';
const effects = new Pool({ connectionString: process.env.DBOS_SYSTEM_DATABASE_URL, max: 4, application_name: 'takeover_effects' });

const effect = DBOS.registerStep(
  async (id: string, step: number): Promise<void> => {
    await effects.query('INSERT INTO takeover_effects (workflow_id, step, executor) VALUES ($1, $2, $3)', [id, step, executor]);
  },
  { name: 'effect' },
);

export const waiter = DBOS.registerWorkflow(
  async (): Promise<string | null> => {
    const id = DBOS.workflowID ?? '';
    await effect(id, 1);
    const message = await DBOS.recv<string>('go', 600);
    await effect(id, 2);
    return message;
  },
  { name: 'tkWaiter' },
);

export const stepper = DBOS.registerWorkflow(
  async (n: number): Promise<number> => {
    const id = DBOS.workflowID ?? '';
    for (let k = 0; k < n; k++) {
      await effect(id, k);
      await DBOS.sleep(500);
    }
    return n;
  },
  { name: 'tkStepper' },
);

/** `<prefix>:<n>` as the IDs `<prefix>-0` .. `<prefix>-<n-1>`. */
function ids(spec: string): string[] {
  const [prefix, n] = spec.split(':');
  return Array.from({ length: Number(n) }, (_, i) => `${prefix}-${i}`);
}

async function sendAll(): Promise<void> {
  const all = (process.env.SEND_TO ?? '').split(',').filter((s) => s).flatMap(ids);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < all.length) await DBOS.send(all[next++] as string, 'go', 'go');
  };
  await Promise.all(Array.from({ length: 50 }, lane));
  log('sent');
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'takeover-app', applicationVersion: 'tk-v1' });
  await DBOS.launch();
  await DBOS.registerQueue('tq', { onConflict: 'always_update' });
  log('launched');
  process.on('SIGUSR2', () => {
    sendAll().catch((e: unknown) => {
      process.stderr.write(`takeover-app send failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    });
  });
  if (process.env.WAITERS) {
    await Promise.all(
      ids(process.env.WAITERS).map((id, i) => DBOS.startWorkflow(waiter, { workflowID: id, queueName: i % 2 === 1 ? 'tq' : undefined })()),
    );
    log('started');
  }
  if (process.env.STEPPER) {
    const [id, n] = process.env.STEPPER.split(':');
    const handle = await DBOS.startWorkflow(stepper, { workflowID: id })(Number(n));
    log('started');
    log(`result:${JSON.stringify(await handle.getResult())}`);
  }
  await hangForever();
}

runMain('takeover-app', main);
