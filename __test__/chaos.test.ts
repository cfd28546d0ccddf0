// The chaos script's short form (chaos/chaos.ts --short): worker processes SIGKILLed and restarted, Postgres
// restarted, thousands of messages; exits 0 only if no message was lost or duplicated, every balance, event and
// stream is exact, no recorded step ran again and nothing is left PENDING. It runs its own embedded Postgres
// (it has to restart it), so it ignores the test database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..', '..');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The script has its own time limit; this is the backstop (SIGINT: it cleans up, SIGKILL if that hangs).
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('chaos --short: kills, cancels and a Postgres restart lose, duplicate and re-run nothing', { timeout: 240_000 }, async () => {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [repo] });
  const build = await run(process.execPath, [tsc, '-p', path.join(repo, 'chaos', 'tsconfig.json')], process.env, 120_000);
  assert.equal(build.code, 0, `tsc -p chaos failed:\n${build.stdout}${build.stderr}`);

  const env = { ...process.env };
  delete env.DBOS_SYSTEM_DATABASE_URL;
  const started = Date.now();
  const r = await run(process.execPath, [path.join(repo, 'chaos', 'build', 'chaos.js'), '--short'], env, 200_000);
  const summary = r.stdout.trim().split('\n').pop() ?? '';
  const explain = `exit ${r.code} after ${Math.round((Date.now() - started) / 1000)} s\n${summary}\n--- stderr (tail):\n${r.stderr.split('\n').slice(-60).join('\n')}`;
  assert.equal(r.code, 0, explain);
  assert.match(summary, /^chaos: .* ok$/, explain);

  const fields = Object.fromEntries([...summary.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  for (const k of ['lost', 'stranded', 'duplicated', 'bad_balance', 'bad_event', 'bad_stream', 'bad_reruns', 'pending', 'not_success', 'crashes']) {
    assert.equal(fields[k], '0', `${k} in ${summary}`);
  }
  assert.equal(fields.consumed, fields.messages, summary);
  assert.ok(Number(fields.workflows) >= 100, summary);
  assert.ok(Number(fields.messages) >= 1000, summary);
  assert.ok(Number(fields.kills) >= 3, `the killer killed workers: ${summary}`);
  assert.ok(Number(fields.pg_restarts) >= 1, `Postgres was restarted: ${summary}`);
  assert.ok(Number(fields.cancels) >= 5, `workflows were cancelled and resumed while steps completed: ${summary}`);
});
