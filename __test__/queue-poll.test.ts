// The fallback poll's schedule (`nextPoll`): work no process wakes a lane for (rows the official SDK enqueues,
// or rows written by SQL) is found within one polling interval, and idle lanes with one interval poll together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextPoll, pollInterval } from '../ts/queue-lanes';

test('the next poll is within one interval, on a multiple of it', () => {
  for (const pollMs of [10, 250, 1000, 60_000]) {
    for (const now of [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_999, 1_700_000_000_500 + pollMs]) {
      const next = nextPoll(now, pollMs);
      assert.ok(next > now, `${pollMs} ms at ${now}: ${next} is after now`);
      assert.ok(next - now <= pollMs, `${pollMs} ms at ${now}: waits ${next - now} ms, more than one interval`);
      assert.equal(next % pollMs, 0, 'lanes with one interval are due at the same instant');
    }
  }
  // A poll that ends on the boundary it fired at waits a whole interval, not zero (no busy loop).
  assert.equal(nextPoll(1_700_000_001_000, 1000), 1_700_000_002_000);
});

test('stored intervals the SDK accepts are kept; ones that would spin or stall are bounded', () => {
  assert.equal(pollInterval(1000), 1000);
  assert.equal(pollInterval(0), 1000);
  assert.equal(pollInterval(-5), 1000);
  assert.equal(pollInterval(Number.NaN), 1000);
  assert.equal(pollInterval(1), 10);
  assert.equal(pollInterval(10_000_000), 120_000);
});
