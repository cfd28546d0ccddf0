// Child processes for the multi-process tests: spawn a compiled app under __test__/build, read the
// events it appends to its log file, wait for conditions, and kill whatever is still running (call
// killAll() in an `after` hook so a failing test never leaves a process behind to hang the runner).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { sleep } from './db';

export interface App {
  name: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code, or null if a signal ended it. */
  exited: Promise<number | null>;
  /** True once the process has exited. */
  done: () => boolean;
}

const running = new Set<App>();

export interface SpawnOptions {
  /** Node flags, before the script (e.g. --expose-gc). */
  nodeArgs?: string[];
  /** The script's arguments. */
  args?: string[];
  cwd?: string;
}

/** Runs `node [nodeArgs...] script [args...]` with `env` added to ours. */
export function spawnApp(script: string, env: Record<string, string>, name = script, opts: SpawnOptions = {}): App {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let finished = false;
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const app: App = {
    name,
    child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        finished = true;
        running.delete(app);
        if (code !== 0 && code !== null) process.stderr.write(`${name} exited with ${code}; stderr: ${err}\n`);
        resolve(code);
      }),
    ),
    done: () => finished,
  };
  running.add(app);
  return app;
}

/** SIGKILLs the app and checks that the signal, not the app, ended it. */
export async function killApp(app: App): Promise<void> {
  if (app.done()) throw new Error(`${app.name} had already exited: ${app.stderr()}`);
  app.child.kill('SIGKILL');
  const code = await app.exited;
  if (code !== null) throw new Error(`${app.name} exited with ${code} instead of being killed`);
}

/** For `after` hooks: kills every child still running. */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const app of left) app.child.kill('SIGKILL');
  await Promise.all(left.map((a) => a.exited));
}

/** The last stdout line of an app that exited cleanly, parsed as JSON. */
export async function finalOutput(app: App): Promise<Record<string, unknown>> {
  const code = await app.exited;
  if (code !== 0) throw new Error(`${app.name} exited with ${code}: ${app.stderr()}`);
  return JSON.parse(app.stdout().trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

export interface LogEvent {
  name: string;
  at: number;
}

/** Lines `<name> <epoch ms>` appended by an app. */
export function logEvents(file: string): LogEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, at] = line.split(' ');
      return { name: name ?? '', at: Number(at) };
    });
}

/** A step run by a queue worker (apps/queue-worker*.ts): its `start:<sdk>:<id>` and `end:<sdk>:<id>` events. */
export interface StepSpan {
  id: string;
  sdk: string;
  start: number;
  /** Infinity while (or if) the step never ended. */
  end: number;
}

/** The step runs the queue workers logged, one per start event (a step run twice shows twice). */
export function stepSpans(file: string): StepSpan[] {
  const events = logEvents(file);
  return events
    .filter((e) => e.name.startsWith('start:'))
    .map((e) => {
      const [, sdk = '', id = ''] = e.name.split(':');
      const end = events.find((f) => f.name === `end:${sdk}:${id}`)?.at ?? Infinity;
      return { id, sdk, start: e.at, end };
    });
}

export function countEvents(file: string, name: string): number {
  return logEvents(file).filter((e) => e.name === name).length;
}

/**
 * Polls `cond` until it holds. Fails after `timeoutMs`, or at once if one of `watch` exits (with its
 * stderr, so a crashed app explains itself instead of a timeout). A throwing `cond` counts as not yet
 * (the database may not exist before the app's launch creates it); the last error is reported.
 */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, watch: App[] = [], timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      lastError = e;
    }
    const dead = watch.find((a) => a.done());
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}: ${dead.stderr()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    await sleep(25);
  }
}
