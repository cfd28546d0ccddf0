// The process the embedded-optional test spawns, to see what DBOS.launch loads. Configured by env:
//   MODE=url      launch with DBOS_SYSTEM_DATABASE_URL, shut down, then print (one JSON line on stdout) the modules of
//                 require.cache whose path mentions the embedded Postgres (ours or the npm package's).
//   MODE=missing  launch with no URL (data in DBOS_EMBEDDED_PG_DIR) and print the error it rejects with, as JSON.
import { DBOS, Error as DBOSErrors, getDBOSErrorCode } from 'dbos-native';

async function main(): Promise<void> {
  if (process.env.MODE === 'url') {
    DBOS.setConfig({ name: 'optional-pg-app', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL });
    await DBOS.launch();
    await DBOS.shutdown();
    const loaded = Object.keys(require.cache).filter((p) => /embedded/i.test(p));
    process.stdout.write(JSON.stringify({ loaded }) + '\n');
    return;
  }
  delete process.env.DBOS_SYSTEM_DATABASE_URL;
  DBOS.setConfig({ name: 'optional-pg-app' });
  try {
    await DBOS.launch();
    process.stdout.write(JSON.stringify({ launched: true }) + '\n');
    await DBOS.shutdown();
  } catch (e) {
    const err = e as Error;
    const initError = e instanceof DBOSErrors.DBOSInitializationError;
    const out = { className: err.constructor.name, initError, code: getDBOSErrorCode(e), message: err.message };
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`optional-pg-app failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
