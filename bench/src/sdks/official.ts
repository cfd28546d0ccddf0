import { DBOS, DBOSClient } from '@dbos-inc/dbos-sdk';
import { makeSdk, type BenchSdk } from '../sdk';

export function createSdk(systemDatabaseUrl: string): BenchSdk {
  // Defaults everywhere (LISTEN/NOTIFY on, 10 ms notification coalescing); only the startup log is quieted.
  DBOS.setConfig({ name: 'bench-sdk', systemDatabaseUrl, logLevel: 'warn' });
  return makeSdk('sdk', systemDatabaseUrl, DBOS, DBOSClient);
}
