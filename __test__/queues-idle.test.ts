// Cheap when idle: a process with 35 registered idle queues spends almost no CPU, in itself or in its
// Postgres backends, and its RSS does not grow. Measured over 60 s after a warm-up (QUEUES_IDLE_SECONDS=600
// runs the 10 minutes by hand), from /proc: utime + stime of the process and of every backend
// connected to its database, and VmRSS sampled every 5 s.
//
// The bound: an idle poll should be one cheap statement for all the process's queues (or none, when woken
// by NOTIFY), about once a second. That is well under 1 ms of CPU a second on either side; the bound is
// 0.5% of the wall time on each side (300 ms over 60 s), which leaves room for the listener's keep-alive,
// timers and the shared machine's noise, and still fails an idle loop that polls each queue by itself.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { countEvents, spawnApp, waitFor } from './helpers/child';
import { query, sleep } from './helpers/db';
import { appScratch } from './helpers/scratch';

const SECONDS = Number(process.env.QUEUES_IDLE_SECONDS ?? '60');
/** QUEUES_IDLE_COUNT=0 measures the baseline of a launched process with no queue. */
const QUEUES = Number(process.env.QUEUES_IDLE_COUNT ?? '35');
const WARMUP_MS = 5000;
const SAMPLE_MS = 5000;
/** Of the wall time, on each side (the process; its backends together). */
const CPU_SHARE = 0.005;
/** RSS may wander by allocator noise, not grow with time. */
const RSS_SLACK_KB = 8 * 1024;

const scratch = appScratch('dbosn_queues_idle');
const app = path.join(__dirname, 'apps', 'idle-queues-app.js');
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (ms) of a process, or undefined once it is gone. */
function cpuMs(pid: number): number | undefined {
  try {
    // Fields after the parenthesized command: state is field 3; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

/** CPU time (ms) of each backend connected to the app's database, except the one asking. */
async function backends(): Promise<Map<number, number>> {
  const rows = await query<{ pid: number }>(scratch.url, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = cpuMs(pid);
    if (ms !== undefined) out.set(pid, ms);
  }
  return out;
}

describe('idle queues', () => {
  // Idle lanes share one check per interval for all queues (a claim only where rows wait): measured at about
  // 100 ms of process CPU and 100 ms of backend CPU per 30 s with 35 queues, against 80 and 60 with none.
  test(`${QUEUES} idle queues cost almost no CPU and no memory growth over ${SECONDS} s`, { timeout: (SECONDS + 60) * 1000 }, async (t) => {
    const log = scratch.file('idle.log');
    const proc = spawnApp(app, { DBOS_SYSTEM_DATABASE_URL: scratch.url, LOG: log, QUEUES: String(QUEUES) }, 'idle-queues-app');
    await waitFor('the queues registered', () => countEvents(log, 'ready') === 1, [proc], 30_000);
    const pid = proc.child.pid ?? 0;
    await sleep(WARMUP_MS);

    const cpu0 = cpuMs(pid) ?? 0;
    const back0 = await backends();
    const rss: number[] = [rssKb(pid)];
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(SAMPLE_MS, end - Date.now()));
      assert.ok(!proc.done(), `the app exited: ${proc.stderr()}`);
      rss.push(rssKb(pid));
    }
    const processMs = (cpuMs(pid) ?? 0) - cpu0;
    const back1 = await backends();
    // A backend that appeared during the window counts from zero; one that left took its time with it (reported).
    let backendMs = 0;
    for (const [bpid, ms] of back1) backendMs += ms - (back0.get(bpid) ?? 0);
    const gone = [...back0.keys()].filter((b) => !back1.has(b)).length;
    const budget = SECONDS * 1000 * CPU_SHARE;
    const third = Math.max(1, Math.floor(rss.length / 3));
    const firstRss = Math.max(...rss.slice(0, third));
    const lastRss = Math.max(...rss.slice(-third));
    t.diagnostic(
      `over ${SECONDS} s: process CPU ${processMs} ms, backends CPU ${backendMs} ms (${back1.size} backends, ${gone} gone), ` +
        `budget ${budget} ms each; RSS ${rss[0]} → ${rss[rss.length - 1]} kB (max first third ${firstRss}, last third ${lastRss})`,
    );
    assert.ok(processMs <= budget, `the process spent ${processMs} ms of CPU in ${SECONDS} s idle (bound ${budget} ms)`);
    assert.ok(backendMs <= budget, `its Postgres backends spent ${backendMs} ms of CPU in ${SECONDS} s idle (bound ${budget} ms)`);
    assert.equal(gone, 0, 'no backend left during the window (its CPU time would be uncounted)');
    assert.ok(lastRss <= firstRss + RSS_SLACK_KB, `RSS grew from ${firstRss} kB to ${lastRss} kB`);
  });
});
