// Process-exit cleanup for the servers this process started: on 'exit', a synchronous fast-shutdown request; on
// SIGINT/SIGTERM/SIGHUP that the application does not handle itself, a stop and then death by the same signal. The
// hooks are installed with the first server and removed with the last, so an idle process keeps Node's defaults.

import type { ChildProcess } from 'node:child_process';
import { hasExited } from './proc';

export interface Stoppable {
  child: ChildProcess;
  stop(): Promise<void>;
}

const servers = new Set<Stoppable>();
const signalNames = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooksInstalled = false;

export function watchServer(server: Stoppable): void {
  servers.add(server);
  installProcessHooks();
}

export function forgetServer(server: Stoppable): void {
  servers.delete(server);
  if (servers.size === 0) removeProcessHooks();
}

function onProcessExit(): void {
  // Synchronous only: ask every server we started (and did not stop) for a fast shutdown.
  for (const s of servers) if (!hasExited(s.child)) s.child.kill('SIGINT');
}

function onSignal(signal: NodeJS.Signals): void {
  // If the application handles this signal itself, it decides when to exit (and should stop() us first; the
  // 'exit' hook is the backstop). Otherwise we stand in for Node's default: stop our servers, then die of it.
  if (process.listenerCount(signal) > 1) return;
  removeProcessHooks();
  void Promise.allSettled([...servers].map((s) => s.stop())).finally(() => process.kill(process.pid, signal));
}

function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onProcessExit);
  if (process.platform !== 'win32') for (const s of signalNames) process.on(s, onSignal);
}

function removeProcessHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.removeListener('exit', onProcessExit);
  for (const s of signalNames) process.removeListener(s, onSignal);
}
