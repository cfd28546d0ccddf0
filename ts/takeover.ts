// The self-healing fleet's loop: about once a second, ask the engine to take over the dbos-native
// executors that died for good (src/engine/fleet: liveness is an advisory lock each process holds on
// its listener connection; a dead executor's PENDING workflows of this application and version go back
// on their queues after a grace period). What moved is then claimed like any recovered or queued work:
// the internal queue by dispatchQueued here (and by every process's one-second poll), application
// queues by their lanes within their limits (woken here and, by NOTIFY, in the other processes).
import type { Executor } from './executor';
import { dbosLogger } from './logger';

/** How long an executor must look dead before it is taken over: rides out a listener reconnect (1 s). */
export const TAKEOVER_GRACE_MS = 10_000;
/** How often the fleet is looked at. A takeover comes within grace + about two of these after the session ends. */
const SCAN_MS = 1000;

/** Runs the takeover loop until the executor closes. */
export function startTakeover(exec: Executor, graceMs: number = TAKEOVER_GRACE_MS): void {
  void (async () => {
    while (!exec.isClosed) {
      await new Promise((r) => setTimeout(r, SCAN_MS).unref());
      if (exec.isClosed) return;
      try {
        for (const t of await exec.engine.takeOverDeadExecutors(graceMs)) {
          dbosLogger().info(`Took over ${t.workflowIds.length} workflows of dead executor ${t.executorId}`);
          if (t.workflowIds.length === 0) continue;
          for (const queue of t.queues) await exec.enqueuedOn(queue);
        }
      } catch (e) {
        // A shutdown ends the loop at its next turn; any other failure is retried at the next scan.
        if (!exec.isClosed) dbosLogger().warn(`Takeover of dead executors: ${(e as Error).message}`);
      }
    }
  })();
}
