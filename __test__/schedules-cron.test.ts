// The crontab parser and next-time search (engine `schedules`) against the official SDK's own
// `scheduler/crontab.js`, run here in node: for many expressions, timezones (with DST) and start
// instants, the next firing times must be the SDK's, and the SDK's rejections must be ours, with
// its message. No database is needed: this is pure computation across the addon boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';

type Binding = typeof import('../native/binding');
interface SdkMatcher {
  nextWakeupTime(date: Date | number): Date;
}
interface SdkCrontab {
  TimeMatcher: new (pattern: string, timezone?: string) => SdkMatcher;
  validateCrontab(pattern: string): void;
  validateTimezone(timezone: string): void;
}

const repo = path.join(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require(path.join(repo, 'native', 'binding.js')) as Binding;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require(path.join(repo, 'node_modules', '@dbos-inc', 'dbos-sdk', 'dist', 'src', 'scheduler', 'crontab.js')) as SdkCrontab;

const COUNT = 6;
const HORIZON_MS = 366 * 100 * 86_400_000;

function sdkTimes(expr: string, tz: string, after: number): number[] {
  const m = new sdk.TimeMatcher(expr, tz);
  const out: number[] = [];
  let at = after;
  while (out.length < COUNT) {
    const next = m.nextWakeupTime(at).getTime();
    // Beyond the horizon the SDK returns a non-matching instant: "never" on our side.
    if (next >= at + HORIZON_MS) break;
    out.push(next);
    at = next;
  }
  return out;
}

const EXPRESSIONS = [
  '* * * * * *', '*/7 * * * * *', '5,10-12 */15 * * * *', '0 0 * * *', '30 2 * * *', '30 1 * * *', '0 0 12 * * *',
  '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', ' @Daily ', '0   0  *  *  *',
  '0 0 1 jan,Jul *', '0 0 * * mon-fri', '0 0 * * Sunday', '0 0 * * 7', '0 0 * * 5-7', '0 0 * * fri-mon', '0 22-2 * * *',
  '0 0 0 25-5 * *', '0 0 0 * 11-2 *', '0 0 0 * 11-2/2 *', '0 */5 22-2/2 * * *', '0 0 L * *', '0 0 L-3 * *', '0 0 L-30 * *',
  '0 0 15W * *', '0 0 1W * *', '0 0 31W * *', '0 0 LW * *', '0 0 lw * *', '0 0 * * 5L', '0 0 * * 7L', '0 0 * * 1#1',
  '0 0 * * 0#5', '0 0 * * 7#2', '0 0 ? * 2', '0 0 13 * fri', '0 0 13 * ?', '0 0 29 2 *', '0 0 30 1,2 *', '0 0 L 2 *',
  '0 0 1,15,L * *', '0 9 * * 1#2,5L', '0 0 * * * *', '* * * * *', '15 10 * * * ', '0 0 31 * *', '59 59 23 31 12 *',
  '0 0 LW 2 *', '0 0 1-31/10 * *', '*/30 0 2 * * *', '0 0 24-2 * * *', '0 0 30W 2 *', '0 0 0-59/61 * * *', '0 0 0 * * 1#5',
  '* * * * * ?', '30-2 * * * *', '0 0 0 * JAN-MAR *', '0 0 0 * june *', '0 30 1-3 * * *',
];
const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'America/Sao_Paulo', 'asia/tokyo'];
const STARTS = [
  Date.UTC(2026, 0, 1), Date.UTC(2026, 2, 8, 6, 59, 59, 500), Date.UTC(2026, 9, 25, 0, 30), Date.UTC(2026, 10, 1, 5, 29, 59),
  Date.UTC(2024, 1, 28, 23, 59, 59), Date.UTC(2026, 3, 5, 15, 17, 3, 999),
];

test('next times match the SDK for every expression, timezone and start', async () => {
  let compared = 0;
  for (const expr of EXPRESSIONS) {
    for (const tz of ZONES) {
      for (const start of STARTS) {
        const ours = await binding.cronNextTimes(expr, tz, start, COUNT);
        assert.deepEqual(ours.map((t) => new Date(t).toISOString()), sdkTimes(expr, tz, start).map((t) => new Date(t).toISOString()), `${JSON.stringify(expr)} in ${tz} after ${new Date(start).toISOString()}`);
        compared++;
      }
    }
  }
  assert.equal(compared, EXPRESSIONS.length * ZONES.length * STARTS.length);
});

test('DST: a skipped local time never fires, a repeated one fires twice', async () => {
  const spring = await binding.cronNextTimes('30 2 * * *', 'America/New_York', Date.UTC(2026, 2, 8, 5), 1);
  assert.equal(new Date(spring[0]).toISOString(), '2026-03-09T06:30:00.000Z');
  const fall = await binding.cronNextTimes('30 1 * * *', 'America/New_York', Date.UTC(2026, 10, 1, 4), 2);
  assert.deepEqual(fall.map((t) => new Date(t).toISOString()), ['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z']);
});

const INVALID = [
  '', '   ', '* * * *', '* * * * * * *', '60 * * * * *', '* 60 * * * *', '* * 24 * * *', '0 0 0 32 * *', '0 0 0 0 * *',
  '0 0 0 * 13 *', '0 0 0 * 0 *', '0 0 0 * * 8', '* * * * * L', '0 0 L-0 * *', '0 0 L-31 * *', '0 0 0W * *', '0 0 32W * *',
  '0 0 1-15W * *', '0 0 W * *', '0 0 * * 1#6', '0 0 * * 1#0', '0 0 * * 8L', '0 0 5L * *', '0 0 1#2 * *', '0 0 30 2 *',
  '0 0 31 4,6 *', '*/0 * * * *', '5/10 * * * *', '1,,2 * * * *', '* * * ? *', '? * * * *', '@reboot', '* * * * *\n',
  '0 0 * * MON#2x', '0 0 * jan-foo *', '1-60 * * * *', '100-200 * * * * *', '0 0 30-2 * * *', '0 0 * * 1-2W', '** * * * *',
  '0 0 1-L * *', '0 0 L-5W * *', '* * * * 99999999999999999999', '0 0 * * ?,1', '-1 * * * *', '1- * * * *',
];

test('the SDK rejects what we reject, with the same message', async () => {
  for (const expr of INVALID) {
    let sdkMessage = '';
    try {
      sdk.validateCrontab(expr);
    } catch (e) {
      sdkMessage = (e as Error).message;
    }
    assert.notEqual(sdkMessage, '', `the SDK accepts ${JSON.stringify(expr)}: move it to EXPRESSIONS`);
    await assert.rejects(binding.cronNextTimes(expr, 'UTC', 0, 1), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT', JSON.stringify(expr));
      assert.equal(e.message, sdkMessage, JSON.stringify(expr));
      return true;
    }, `we accept ${JSON.stringify(expr)}`);
  }
});

test('an unknown timezone is rejected with the SDK message', async () => {
  for (const tz of ['Mars/Olympus', 'New York']) {
    assert.throws(() => sdk.validateTimezone(tz), { message: `Invalid timezone: '${tz}'` });
    await assert.rejects(binding.cronNextTimes('* * * * *', tz, 0, 1), { code: 'INVALID_ARGUMENT', message: `Invalid timezone: '${tz}'` });
  }
});
