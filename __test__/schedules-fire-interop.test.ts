// Schedules fired by several processes sharing one database: a dbos-native app and an official SDK 5.3.0 app fire
// each tick of a per-second schedule exactly once between them (same IDs, rows and inputs); a dbos-native process
// SIGKILLed mid-firing and restarted loses and doubles no tick of an automaticBackfill schedule (it backfills the
// ticks it missed while down), while a schedule without automaticBackfill skips them, as the SDK does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DBOSClient as OfficialClient } from '@dbos-inc/dbos-sdk';
import { countEvents, killApp, logEvents, spawnApp, waitFor, type App } from './helpers/child';
import { query, sleep } from './helpers/db';
import { appScratch } from './helpers/scratch';

const APP = 'schedapp';
let official: OfficialClient | undefined;
const scratch = appScratch('dbosn_schedules_fire_interop', {
  teardown: async () => {
    await official?.destroy();
  },
});

const nativeApp = path.join(__dirname, 'apps', 'sched-app.js');
const officialApp = path.join(__dirname, 'apps', 'sched-app-official.js');

/** The runs the apps logged: `fired|<sdk>|<workflowID>|<scheduled ISO>|<context JSON>`. */
function runsOf(log: string, name: string): { sdk: string; id: string; date: string; context: unknown }[] {
  return logEvents(log)
    .filter((e) => e.name.startsWith(`fired|`))
    .map((e) => {
      const [, sdk = '', id = '', date = '', context = 'null'] = e.name.split('|');
      return { sdk, id, date, context: JSON.parse(context) as unknown };
    })
    .filter((r) => r.id.startsWith(`sched-${name}-`));
}

/** The tick times (epoch ms) of a schedule's rows, ascending. */
async function ticks(name: string): Promise<number[]> {
  const rows = await query<{ workflow_uuid: string }>(scratch.url, `SELECT workflow_uuid FROM dbos.workflow_status WHERE schedule_name = $1 ORDER BY workflow_uuid`, [name]);
  return rows.map((r) => Date.parse(r.workflow_uuid.slice(`sched-${name}-`.length)));
}

function assertConsecutive(name: string, times: number[]): void {
  for (let i = 1; i < times.length; i++) {
    assert.equal(times[i]! - times[i - 1]!, 1000, `${name}: ticks ${new Date(times[i - 1]!).toISOString()} then ${new Date(times[i]!).toISOString()}`);
  }
}

describe('schedules shared by processes', () => {
  let native: App;
  test('a dbos-native and an official process fire each tick once between them', async () => {
    const log = scratch.file('fired.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
    // Ours first: its launch creates the database the official app then finds.
    native = spawnApp(nativeApp, env, 'native sched app');
    await waitFor('the native app launched', () => countEvents(log, 'ready') === 1, [native]);
    const theirs = spawnApp(officialApp, env, 'official sched app');
    await waitFor('the official app launched', () => countEvents(log, 'ready') === 2, [native, theirs]);

    // Written by the official client, in its format (context by its serializer).
    official = await OfficialClient.create({ systemDatabaseUrl: scratch.url, applicationName: APP });
    await official.createSchedule({ scheduleName: 'shared', workflowName: 'schedTick', schedule: '* * * * * *', context: { n: 1 }, options: { cronTimezone: 'UTC' } });
    await waitFor('five ticks ran', () => runsOf(log, 'shared').length >= 5, [native, theirs], 20_000);
    await official.pauseSchedule('shared');
    await sleep(2500);

    const times = await ticks('shared');
    assertConsecutive('shared', times);
    const runs = runsOf(log, 'shared');
    const ids = times.map((t) => `sched-shared-${new Date(t).toISOString()}`);
    await waitFor('every fired tick ran', () => runsOf(log, 'shared').length >= ids.length, [native, theirs]);
    // Each tick ran exactly once, with its date and the schedule's context, by one of the two.
    assert.deepEqual(runsOf(log, 'shared').map((r) => r.id).sort(), ids);
    for (const r of runs) assert.deepEqual({ date: r.date, context: r.context }, { date: r.id.slice('sched-shared-'.length), context: { n: 1 } });
    const rows = await query<{ n: string }>(
      scratch.url,
      `SELECT count(*) AS n FROM dbos.workflow_status WHERE schedule_name = 'shared' AND application_name = $1 AND application_version = 'sched-v1' AND status = 'SUCCESS'`,
      [APP],
    );
    assert.equal(Number(rows[0]?.n), ids.length, 'rows stamped as the SDK stamps them');
    await killApp(theirs);
  });

  test('a process killed mid-firing loses and doubles no tick of an automaticBackfill schedule', async () => {
    const log = scratch.file('fired.log');
    const env = { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log };
    assert.ok(official);
    await official.createSchedule({ scheduleName: 'kept', workflowName: 'schedTick', schedule: '* * * * * *', context: { n: 2 }, options: { automaticBackfill: true, cronTimezone: 'UTC' } });
    await official.createSchedule({ scheduleName: 'skipped', workflowName: 'schedTick', schedule: '* * * * * *', context: { n: 3 }, options: { cronTimezone: 'UTC' } });
    await waitFor('both fire', () => runsOf(log, 'kept').length >= 2 && runsOf(log, 'skipped').length >= 2, [native], 20_000);
    await killApp(native);
    const killedAt = Date.now();
    await sleep(3000);
    const restarted = spawnApp(nativeApp, env, 'restarted native sched app');
    await waitFor('the restarted app fired past the gap', async () => (await ticks('kept')).some((t) => t > killedAt + 4000), [restarted], 20_000);
    await official.pauseSchedule('kept');
    await official.pauseSchedule('skipped');
    await sleep(1500);

    const kept = await ticks('kept');
    assertConsecutive('kept', kept);
    assert.ok(kept[0]! < killedAt && kept[kept.length - 1]! > killedAt + 3000, 'its ticks span the downtime');
    await waitFor('every kept tick ran', () => new Set(runsOf(log, 'kept').map((r) => r.id)).size === kept.length, [restarted]);
    const skipped = await ticks('skipped');
    const gap = skipped.filter((t) => t > killedAt + 500 && t < killedAt + 2500);
    assert.deepEqual(gap, [], 'without automaticBackfill the ticks missed while down are skipped');
    const last = (await query<{ last_fired_at: string }>(scratch.url, `SELECT last_fired_at FROM dbos.workflow_schedules WHERE schedule_name = 'kept'`))[0];
    assert.equal(last?.last_fired_at, new Date(kept[kept.length - 1]!).toISOString());
  });
});
