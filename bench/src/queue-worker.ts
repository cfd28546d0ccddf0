// A queue worker process for the queue-latency-4proc scenario: one SDK's DBOS ($BENCH_QW_SDK: native or sdk) on
// the bench's database as application version QW_VERSION, serving every queue; its one workflow prints
// `start <i> <Date.now()>` as the first line of its body (the scenario, another process on the same host, compares
// that with its own clock). With $BENCH_QW_QUEUE set it registers that queue with globalConcurrency 4 after launch.
// Prints `ready` once launched; exits when its stdin closes (the scenario ends, or the bench process dies).
import { type DBOSStatics } from './sdk';

export const QW_VERSION = 'bench-qw-v1';
export const QW_WORKFLOW = 'queue-latency-4proc.started';
export const QW_GLOBAL_CONCURRENCY = 4;

interface WorkerDBOS extends Pick<DBOSStatics, 'launch' | 'registerWorkflow'> {
  setConfig(config: { name: string; systemDatabaseUrl: string; applicationVersion: string; executorID: string; logLevel: string }): void;
  registerQueue(name: string, options?: { globalConcurrency?: number }): Promise<unknown>;
}

async function main(): Promise<void> {
  const sdk = process.env.BENCH_QW_SDK;
  const url = process.env.BENCH_QW_DB_URL ?? '';
  const dbos: WorkerDBOS = sdk === 'native' ? (await import('dbos-native')).DBOS : (await import('@dbos-inc/dbos-sdk')).DBOS;
  dbos.registerWorkflow(
    async (i: number): Promise<void> => {
      process.stdout.write(`start ${i} ${Date.now()}\n`);
    },
    { name: QW_WORKFLOW },
  );
  dbos.setConfig({ name: 'bench-qw', systemDatabaseUrl: url, applicationVersion: QW_VERSION, executorID: process.env.BENCH_QW_EXECUTOR ?? 'qw', logLevel: 'warn' });
  await dbos.launch();
  const queue = process.env.BENCH_QW_QUEUE;
  if (queue) await dbos.registerQueue(queue, { globalConcurrency: QW_GLOBAL_CONCURRENCY });
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('close', () => process.exit(0));
}

// The scenario imports the constants above; only `node queue-worker.js` runs a worker.
if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`queue worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
