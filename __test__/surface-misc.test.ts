// Small members of the SDK surface that need no database: StatusString, DBOS.setAlertHandler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as sdk from '@dbos-inc/dbos-sdk';
import { DBOS, StatusString, Error as DBOSErrors } from 'dbos-native';

test('StatusString: the SDK values', () => {
  assert.deepEqual({ ...StatusString }, { ...sdk.StatusString });
});

test('setAlertHandler: accepted once before launch (alerts only come from Conductor), refused twice', () => {
  DBOS.setAlertHandler(async () => {});
  assert.throws(() => DBOS.setAlertHandler(async () => {}), (e: unknown) => e instanceof DBOSErrors.DBOSError && /already registered/.test(e.message));
});
