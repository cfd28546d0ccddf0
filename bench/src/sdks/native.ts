import { DBOS, DBOSClient } from 'dbos-native';
import { makeSdk, type BenchSdk } from '../sdk';

export function createSdk(systemDatabaseUrl: string): BenchSdk {
  DBOS.setConfig({ name: 'bench-native', systemDatabaseUrl });
  return makeSdk('native', systemDatabaseUrl, DBOS, DBOSClient);
}
