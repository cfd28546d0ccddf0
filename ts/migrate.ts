// DBOS.migrate: create or migrate a system database without launching (e.g. with a privileged role, the
// application then launching with `runMigrations: false`). The engine's migrate-mode connect does the work.
import { DBOSError } from './error';
import { connectEngine } from './native';
import { requireString } from './validation';

export async function migrate(systemDatabaseUrl: string, options: { schemaName?: string; applicationRole?: string } = {}): Promise<void> {
  const url = requireString('systemDatabaseUrl', systemDatabaseUrl);
  if (options.applicationRole !== undefined) {
    // Granting is the SDK's; dbos-native's engine has no GRANT statements yet (say so rather than skip it).
    throw new DBOSError('DBOS.migrate: applicationRole is not supported by dbos-native yet; grant the role access to the schema yourself');
  }
  const engine = await connectEngine({
    url,
    schema: options.schemaName ?? 'dbos',
    poolSize: 1,
    schemaMode: 'migrate',
    listen: false,
    listenNotify: true,
    listenUrl: null,
    transactionPooling: false,
    appName: '',
    executorId: 'dbos-migrate',
    appVersion: '',
  });
  engine.close();
}
