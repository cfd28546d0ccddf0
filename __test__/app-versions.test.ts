// listApplicationVersions / getLatestApplicationVersion / setLatestApplicationVersion on DBOS and DBOSClient:
// on one database, each answers as the official SDK's client does (scope by application plus unclaimed rows,
// latest first, claiming an unclaimed version on promotion, refusing another application's, no version at all).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { DBOS, DBOSClient, Error as E } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

let url = '';
const clients: { ours: DBOSClient; theirs: OfficialClient }[] = [];

async function pair(applicationName?: string): Promise<{ ours: DBOSClient; theirs: OfficialClient }> {
  const p = { ours: await DBOSClient.create({ systemDatabaseUrl: url, applicationName }), theirs: await OfficialClient.create({ systemDatabaseUrl: url, applicationName }) };
  clients.push(p);
  return p;
}

before(async () => {
  url = await freshDatabase('dbosn_app_versions');
  DBOS.setConfig({ name: 'ver-app', systemDatabaseUrl: url, applicationVersion: 'v1' });
  await DBOS.launch();
  await query(
    url,
    `INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp, created_at, application_name)
     VALUES ('id-0', 'v0', 1000, 1000, NULL), ('id-o', 'ov1', 2000, 2000, 'other-app')`,
  );
});

after(async () => {
  for (const c of clients) {
    await c.ours.destroy();
    await c.theirs.destroy();
  }
  await DBOS.shutdown();
});

test('listings and the latest match the official client’s, for an application and for none', async () => {
  for (const app of ['ver-app', 'other-app', undefined]) {
    const { ours, theirs } = await pair(app);
    assert.deepEqual(await ours.listApplicationVersions(), await theirs.listApplicationVersions(), String(app));
    assert.deepEqual(await ours.getLatestApplicationVersion(), await theirs.getLatestApplicationVersion(), String(app));
  }
  const { theirs } = await pair('ver-app');
  assert.deepEqual(await DBOS.listApplicationVersions(), await theirs.listApplicationVersions());
  assert.deepEqual((await DBOS.listApplicationVersions()).map((v) => v.versionName), ['v1', 'v0']);
  assert.equal((await DBOS.getLatestApplicationVersion()).versionName, 'v1');
});

test('promotion claims an unclaimed version and refuses another application’s, as the SDK', async () => {
  await DBOS.setLatestApplicationVersion('v0');
  const latest = await DBOS.getLatestApplicationVersion();
  assert.deepEqual([latest.versionName, latest.applicationName], ['v0', 'ver-app']);
  const { ours, theirs } = await pair('ver-app');
  const theirError = await theirs.setLatestApplicationVersion('ov1').then(
    () => assert.fail('the SDK promoted another application’s version'),
    (e: Error) => e.message,
  );
  const before = await query(url, 'SELECT * FROM dbos.application_versions ORDER BY version_id');
  for (const call of [() => DBOS.setLatestApplicationVersion('ov1'), () => DBOS.setLatestApplicationVersion(3 as unknown as string), () => ours.setLatestApplicationVersion('v1', 'x' as unknown as object)]) {
    await assert.rejects(call(), (e: unknown) => e instanceof E.DBOSError);
  }
  await assert.rejects(ours.setLatestApplicationVersion('ov1'), { message: theirError });
  assert.deepEqual(await query(url, 'SELECT * FROM dbos.application_versions ORDER BY version_id'), before);
  // Acting as the owner, it is allowed; an unknown name changes nothing.
  await ours.setLatestApplicationVersion('ov1', { applicationName: 'other-app' });
  await ours.setLatestApplicationVersion('nope');
  assert.equal((await (await pair('other-app')).ours.getLatestApplicationVersion()).versionName, 'ov1');
});

test('no version at all: DBOSInitializationError, as the SDK', async () => {
  const { ours, theirs } = await pair('unknown-app');
  await query(url, `UPDATE dbos.application_versions SET application_name = 'ver-app' WHERE application_name IS NULL`);
  await assert.rejects(theirs.getLatestApplicationVersion(), { message: 'No application versions found' });
  await assert.rejects(ours.getLatestApplicationVersion(), (e: unknown) => e instanceof E.DBOSInitializationError && e.message === 'No application versions found');
  assert.deepEqual(await ours.listApplicationVersions(), []);
});
