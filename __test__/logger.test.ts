// DBOS.logger: entries reach the application's logger (DBOSConfig.logger) as the SDK hands them over
// (strings as they are, other values as DBOSJSON text, errors with their stack), with the workflow and step
// they were logged from; without one, the console at `logLevel`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, type ContextualMetadata, type DLogger, type StackTrace } from 'dbos-native';
import { freshDatabase } from './helpers/db';

interface Entry {
  level: string;
  entry: unknown;
  meta?: ContextualMetadata & StackTrace;
}
const entries: Entry[] = [];
const appLogger: DLogger = {
  info: (entry, meta) => entries.push({ level: 'info', entry, meta }),
  debug: (entry, meta) => entries.push({ level: 'debug', entry, meta }),
  warn: (entry, meta) => entries.push({ level: 'warn', entry, meta }),
  error: (entry, meta) => entries.push({ level: 'error', entry, meta }),
};

class Logged {
  @DBOS.step()
  static async inStep(): Promise<void> {
    DBOS.logger.warn({ n: 1 });
  }

  @DBOS.workflow()
  static async run(): Promise<void> {
    DBOS.logger.info('in workflow');
    await Logged.inStep();
    DBOS.logger.error(new Error('boom'));
  }
}

after(() => DBOS.shutdown());

test('without an application logger, the console at logLevel', async () => {
  const seen: unknown[][] = [];
  const saved = { log: console.log, error: console.error };
  console.log = (...a: unknown[]) => void seen.push(['log', ...a]);
  console.error = (...a: unknown[]) => void seen.push(['error', ...a]);
  const cfg = { name: 'logger-app', logLevel: 'error' };
  try {
    DBOS.setConfig(cfg);
    DBOS.logger.info('filtered');
    DBOS.logger.error('kept');
  } finally {
    Object.assign(console, saved);
  }
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].slice(0, 3), ['error', 'kept', '\n']);
});

test('entries go to the configured logger, unfiltered by logLevel, with the workflow and step', async () => {
  const url = await freshDatabase('logger_test');
  DBOS.setConfig({ name: 'logger-app', systemDatabaseUrl: url, logger: appLogger, logLevel: 'error', addContextMetadata: true });
  await DBOS.launch();
  DBOS.logger.debug('outside');
  const handle = await DBOS.startWorkflow(Logged).run();
  await handle.getResult();
  const id = handle.workflowID;
  assert.deepEqual(
    entries.map((e) => [e.level, e.entry, e.meta?.includeContextMetadata, e.meta?.dbos]),
    [
      ['debug', 'outside', true, undefined],
      ['info', 'in workflow', true, { workflowID: id, workflowName: 'run' }],
      ['warn', '{"json":{"n":1},"__dbos_serializer":"superjson"}', true, { workflowID: id, workflowName: 'run', stepID: 0, stepName: 'inStep' }],
      ['error', 'boom', true, { workflowID: id, workflowName: 'run' }],
    ],
  );
  const err = entries[3].meta;
  assert.ok(err?.error instanceof Error);
  assert.match(err?.stack ?? '', /Error: boom/);
});
