// The process the keep-alive test spawns: it launches and then has nothing to do. It never calls
// process.exit; main returns. Configured by env: DBOS_SYSTEM_DATABASE_URL, and
//   MODE=idle      launch, log `launched`, return (DBOS keeps the process up until shutdown).
//   MODE=shutdown  launch, log `launched`, shut down, return (the process then exits by itself).
// Each event is a line on stdout.
import { DBOS } from 'dbos-native';

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'idle-app', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL });
  await DBOS.launch();
  process.stdout.write('launched\n');
  if (process.env.MODE === 'shutdown') {
    await DBOS.shutdown();
    process.stdout.write('shut down\n');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`idle-app failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
