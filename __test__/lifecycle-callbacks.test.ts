// DBOS.registerLifecycleCallback: initialize at launch, destroy at shutdown (a failing destroy is logged and
// the others still run), logRegisteredEndpoints only while launched; registering the same object twice
// calls it once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, type DLogger } from 'dbos-native';
import { freshDatabase } from './helpers/db';

test('lifecycle callbacks run at launch, on logRegisteredEndpoints and at shutdown', async () => {
  const calls: string[] = [];
  const receiver = {
    initialize: async () => void calls.push('init'),
    destroy: async () => void calls.push('destroy'),
    logRegisteredEndpoints: () => void calls.push('endpoints'),
  };
  const failing = { destroy: async () => Promise.reject(new Error('cannot close')) };
  const last = { destroy: async () => void calls.push('destroy-last') };
  DBOS.registerLifecycleCallback(receiver);
  DBOS.registerLifecycleCallback(receiver);
  DBOS.registerLifecycleCallback(failing);
  DBOS.registerLifecycleCallback(last);
  const warnings: unknown[] = [];
  const logger: DLogger = { info: () => {}, debug: () => {}, error: () => {}, warn: (e) => void warnings.push(e) };

  DBOS.logRegisteredEndpoints();
  assert.deepEqual(calls, [], 'not launched: no endpoints logged');
  DBOS.setConfig({ name: 'lifecycle-app', systemDatabaseUrl: await freshDatabase('lifecycle_callbacks_test'), logger });
  await DBOS.launch();
  assert.deepEqual(calls, ['init']);
  DBOS.logRegisteredEndpoints();
  assert.deepEqual(calls, ['init', 'endpoints']);
  await DBOS.shutdown();
  assert.deepEqual(calls, ['init', 'endpoints', 'destroy', 'destroy-last']);
  assert.deepEqual(warnings, ['Error destroying lifecycle listener: cannot close']);
});
