// Schedules another process wrote into the table with a crontab or timezone that cannot be read never fire,
// as in the SDK, and each is reported once through the application's logger (the SDK's warning), not at every
// re-read of the table; the good schedule beside them fires as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, type DLogger } from 'dbos-native';
import { waitFor } from './helpers/child';
import { query } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';
import { DBOSJSON } from '../ts/superjson-format';

const APP = 'invalid-sched-app';
const warnings: string[] = [];
const logger: DLogger = {
  info: () => undefined,
  debug: () => undefined,
  warn: (entry) => warnings.push(String(entry)),
  error: () => undefined,
};

const fired: string[] = [];
DBOS.registerWorkflow(
  async (): Promise<void> => {
    fired.push(DBOS.workflowID ?? '');
  },
  { name: 'invalidSchedTick' },
);

const db = launchedDatabase('dbosn_schedules_invalid', { name: APP, applicationVersion: 'invalid-v1', logger });

/** Inserts a schedule row as another process (the SDK, SQL) would: no NOTIFY, found by the firing's poll. */
async function insert(name: string, schedule: string, timezone: string): Promise<void> {
  await query(
    db.url,
    `INSERT INTO dbos.workflow_schedules (schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, status, context,
       automatic_backfill, cron_timezone, application_name) VALUES ($1, $2, 'invalidSchedTick', '', $3, 'ACTIVE', $4, false, $5, $6)`,
    [`id-${name}`, name, schedule, DBOSJSON.stringify(null), timezone, APP],
  );
}

test('bad crontab and bad timezone rows: each warned about once, the good schedule beside them fires', async () => {
  await insert('bad-cron', 'not a crontab', 'UTC');
  await insert('bad-tz', '* * * * * *', 'Nowhere/Atlantis');
  await insert('good', '* * * * * *', 'UTC');
  // Three per-second ticks of the good schedule span several re-reads of the table (every second after launch).
  await waitFor('three firings of the good schedule', () => fired.filter((id) => id.startsWith('sched-good-')).length >= 3, [], 20_000);
  const about = (name: string) => warnings.filter((w) => w.includes(`"${name}"`));
  assert.equal(about('bad-cron').length, 1, `one warning for bad-cron: ${JSON.stringify(warnings)}`);
  assert.match(about('bad-cron')[0] ?? '', /^Dynamic scheduler: not running invalid schedule "bad-cron" \("not a crontab"\): ./);
  assert.equal(about('bad-tz').length, 1, `one warning for bad-tz: ${JSON.stringify(warnings)}`);
  assert.match(about('bad-tz')[0] ?? '', /Nowhere\/Atlantis/);
  assert.deepEqual(about('good'), []);
  const bad = await query(db.url, "SELECT workflow_uuid FROM dbos.workflow_status WHERE schedule_name IN ('bad-cron', 'bad-tz')");
  assert.deepEqual(bad, [], 'the invalid schedules never fire');
});
