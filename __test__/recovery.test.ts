// Crash recovery with real processes: an app is SIGKILLed mid-workflow and a new process of the same
// executor finishes the work on launch, without re-running recorded steps and keeping durable deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { assertCheckpoints, query, sleep, statusRow, steps } from './helpers/db';
import { appScratch } from './helpers/scratch';

const app = path.join(__dirname, 'apps', 'crash-app.js');
const scratch = appScratch('dbosn_recovery');


interface Run {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

function runApp(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [app], {
    env: { ...process.env, DBOS_SYSTEM_DATABASE_URL: scratch.url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`crash-app stderr: ${err}\n`);
      resolve(code);
    }),
  );
  return { child, stdout: () => out, exited };
}

function events(log: string): { name: string; at: number }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, at] = line.split(' ');
      return { name: name ?? '', at: Number(at) };
    });
}

const count = (log: string, name: string) => events(log).filter((e) => e.name === name).length;

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function kill(run: Run): Promise<void> {
  run.child.kill('SIGKILL');
  assert.equal(await run.exited, null, 'the app was killed, not exited');
}

async function awaitOutcome(env: Record<string, string>, id: string): Promise<Record<string, unknown>> {
  const run = runApp({ ...env, AWAIT: id });
  const code = await run.exited;
  assert.equal(code, 0, 'the relaunched app exits cleanly');
  return JSON.parse(run.stdout().trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

test('SIGKILL mid-workflow: the next launch completes it without re-running the recorded step', async () => {
  const log = scratch.file('two.log');
  const id = 'crash-two-steps';
  const first = runApp({ START: 'twoSteps', WF_ID: id, HANG: 'B', LOG: log });
  await waitFor('stepB to start', () => count(log, 'B-start') === 1);
  // stepA's checkpoint is written behind the workflow: stepB may start before it commits.
  for (const end = Date.now() + 20_000; (await steps(scratch.url, id)).length < 1; await sleep(10)) {
    if (Date.now() > end) throw new Error("stepA's checkpoint was never recorded");
  }
  await kill(first);
  assert.equal((await statusRow(scratch.url, id))?.status, 'PENDING');
  assert.deepEqual(
    (await steps(scratch.url, id)).map((s) => s.function_name),
    ['stepA'],
  );

  const outcome = await awaitOutcome({ LOG: log }, id);
  assert.deepEqual(outcome, { ok: true, value: 'ab' });
  assert.equal(count(log, 'A'), 1, 'recorded stepA is replayed, not re-run');
  assert.equal(count(log, 'B-start'), 2, 'stepB had no checkpoint, so it runs again (at least once)');
  assert.equal(count(log, 'B-done'), 1);
  assert.equal(count(log, 'wf-done'), 1);
  const row = await statusRow(scratch.url, id);
  assert.equal(row?.status, 'SUCCESS');
  assert.equal(row?.recovery_attempts, '2');
  assert.equal(row?.queue_name, '_dbos_internal_queue');
  assert.equal(row?.owner_xid, null);
  await assertCheckpoints(scratch.url, id, ['stepA', 'stepB']);
});

test('durable sleep across SIGKILL: after recovery only the remainder is slept', async () => {
  const log = scratch.file('sleep.log');
  const id = 'crash-sleeper';
  const sleepMs = 4000;
  const first = runApp({ START: 'sleeper', WF_ID: id, SLEEP_MS: String(sleepMs), LOG: log });
  await waitFor('the sleep marker', () => count(log, 'before') === 1);
  for (let i = 0; i < 200 && !(await steps(scratch.url, id)).some((s) => s.function_name === 'DBOS.sleep'); i++) await sleep(20);
  await sleep(200);
  await kill(first);
  const marker = (await steps(scratch.url, id)).find((s) => s.function_name === 'DBOS.sleep');
  assert.ok(marker, 'the wake-up time was recorded before the kill');
  const wakeAt = Number(marker.output);
  const before = events(log).find((e) => e.name === 'before');
  assert.ok(before && wakeAt - before.at >= sleepMs - 50 && wakeAt - before.at < sleepMs + 500);

  await sleep(1000); // the process stays dead a while: that time counts against the sleep too
  const outcome = await awaitOutcome({ LOG: log }, id);
  assert.deepEqual(outcome, { ok: true, value: 'rested' });
  const afterEvent = events(log).find((e) => e.name === 'after');
  assert.ok(afterEvent, 'the step after the sleep ran');
  assert.ok(afterEvent.at >= wakeAt, 'it did not wake early');
  assert.ok(afterEvent.at - wakeAt < 2000, `it woke at the recorded time, not a full sleep after relaunch (${afterEvent.at - wakeAt} ms late)`);
  assert.equal(count(log, 'before'), 1);
  const sleeps = (await steps(scratch.url, id)).filter((s) => s.function_name === 'DBOS.sleep');
  assert.equal(sleeps.length, 1);
  assert.equal(Number(sleeps[0]?.output), wakeAt, 'the recorded deadline was reused');
});

test('a workflow that keeps crashing is dead-lettered after maxRecoveryAttempts', async () => {
  const log = scratch.file('doomed.log');
  const id = 'crash-doomed';
  const first = runApp({ START: 'doomed', WF_ID: id, LOG: log });
  await waitFor('first attempt', () => count(log, 'doomed-step') === 1);
  // Killed only once the step is recorded (before that, re-running it would be right).
  for (let i = 0; i < 500 && !(await steps(scratch.url, id)).some((s) => s.function_name === 'doomedStep'); i++) await sleep(20);
  await kill(first);
  // Second execution (recovery attempt 2 of 1 + maxRecoveryAttempts): replays the step, hangs again.
  const second = runApp({ LOG: log });
  await waitFor('second launch', () => count(log, 'launched') === 2);
  await sleep(300);
  assert.equal((await statusRow(scratch.url, id))?.recovery_attempts, '2');
  await kill(second);
  assert.equal(count(log, 'doomed-step'), 1, 'the recorded step was not re-run');

  const outcome = await awaitOutcome({ LOG: log }, id);
  assert.equal(outcome.ok, false);
  assert.equal(outcome.name, 'DBOSAwaitedWorkflowExceededMaxRecoveryAttempts');
  assert.equal(outcome.code, 30);
  const row = await statusRow(scratch.url, id);
  assert.equal(row?.status, 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
  assert.equal(row?.owner_xid, null);
  assert.equal(row?.queue_name, null);
  const n = await query<{ n: string }>(scratch.url, "SELECT count(*) AS n FROM dbos.workflow_status WHERE status = 'PENDING'");
  assert.equal(n[0]?.n, '0');
});
