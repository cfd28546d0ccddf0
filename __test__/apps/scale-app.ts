// One of the scale-out test's app processes. Configured by env:
//   DBOS_SYSTEM_DATABASE_URL, DBOS__VMID (executor), INDEX=k (0..n-1), COUNTS=<n0,n1,...> (workflows per process),
//   LOG (events `<name> <epoch ms>` are appended here), POLL_MS (the waits' poll interval)
//   START=1   starts this process's COUNTS[k] waiters `w-<k>-<i>` at once (a relaunch recovers them instead):
//             even i wait in DBOS.recv('go'), odd i in DBOS.getEvent(`pub-<k>-<i/100>`, `w-<k>-<i>`);
//             each returns what it received, so the test can check the value.
// On SIGUSR2 it wakes the next process's waiters (k+1 mod n): DBOS.send(`w-<j>-<i>`,
// `m-<j>-<i>`, 'go') from plain code for the recv waiters, and publisher workflows `pub-<j>-<c>` that
// setEvent(`w-<j>-<i>`, `e-<j>-<i>`) for the getEvent waiters; then logs `sent`.
// Every execution of a waiter's body logs `run-<id>` (a replay after recovery logs it again), so the test
// can tell which process ran what. It runs until killed.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { runMain } from './app-main';

const log = (event: string): void => appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);

const index = Number(process.env.INDEX ?? '0');
const counts = (process.env.COUNTS ?? '10,10,10').split(',').map(Number);
const pollingIntervalMs = Number(process.env.POLL_MS ?? '10000');
/** Long enough never to expire during the test: every wait ends with a value or the test fails. */
const timeoutSeconds = 600;
/** getEvent waiters per publisher workflow. */
const CHUNK = 100;

export const waiter = DBOS.registerWorkflow(
  async (k: number, i: number): Promise<unknown> => {
    log(`run-w-${k}-${i}`);
    if (i % 2 === 0) return DBOS.recv<string>('go', { timeoutSeconds, pollingIntervalMs });
    return DBOS.getEvent<string>(`pub-${k}-${Math.floor(i / CHUNK)}`, `w-${k}-${i}`, { timeoutSeconds, pollingIntervalMs });
  },
  { name: 'waiter' },
);

export const publisher = DBOS.registerWorkflow(
  async (k: number, indices: number[]): Promise<number> => {
    for (const i of indices) await DBOS.setEvent(`w-${k}-${i}`, `e-${k}-${i}`);
    return indices.length;
  },
  { name: 'publisher' },
);

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

async function wakeNext(): Promise<void> {
  const j = (index + 1) % counts.length;
  const n = counts[j] ?? 0;
  const all = Array.from({ length: n }, (_, i) => i);
  const chunks = new Map<number, number[]>();
  for (const i of all.filter((x) => x % 2 === 1)) {
    const c = Math.floor(i / CHUNK);
    chunks.set(c, [...(chunks.get(c) ?? []), i]);
  }
  await Promise.all([
    pool(
      all.filter((i) => i % 2 === 0),
      50,
      (i) => DBOS.send(`w-${j}-${i}`, `m-${j}-${i}`, 'go'),
    ),
    pool([...chunks], 10, async ([c, indices]) =>
      (await DBOS.startWorkflow(publisher, { workflowID: `pub-${j}-${c}` })(j, indices)).getResult(),
    ),
  ]);
  log('sent');
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'scale-app', applicationVersion: 'scale-v1' });
  await DBOS.launch();
  log('launched');
  process.on('SIGUSR2', () => {
    wakeNext().catch((e: unknown) => {
      process.stderr.write(`scale-app wake failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    });
  });
  if (process.env.START === '1') {
    const n = counts[index] ?? 0;
    await Promise.all(Array.from({ length: n }, (_, i) => DBOS.startWorkflow(waiter, { workflowID: `w-${index}-${i}` })(index, i)));
    log('started');
  }
  log('ready');
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

runMain('scale-app', main);
