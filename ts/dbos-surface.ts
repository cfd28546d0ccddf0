// The statics of the SDK surface beyond workflows, messages and queues, which DBOS inherits (DBOS extends
// this class: `DBOS.logger` etc. resolve here, at runtime and in the types). Each is a delegation to the
// module that implements it; kept out of dbos.ts, which holds the core API.
import { setAlertHandler, type AlertHandler } from './alerts';
import { currentAuth, withAuthedContext, withNamedContext } from './auth-context';
import { logRegisteredEndpoints, registerLifecycleCallback, type DBOSLifecycleCallback } from './lifecycle-callbacks';
import { dbosLogger, type DLogger } from './logger';
import { checkPatch } from './patching';
import { migrate } from './migrate';
// --- schedules (firing)
import { dbosBackfillSchedule, dbosTriggerSchedule } from './schedule-fire';
import type { WorkflowHandle } from './handles';

export class DBOSSurface {
  /** The logger for application code: to `DBOSConfig.logger` or the console, with the caller's workflow and step. */
  static get logger(): DLogger {
    return dbosLogger();
  }

  /** The authenticated user of the current context ('' if none). */
  static get authenticatedUser(): string {
    return currentAuth()?.user ?? '';
  }

  static get authenticatedRoles(): string[] {
    return currentAuth()?.roles ?? [];
  }

  static get assumedRole(): string {
    return currentAuth()?.assumedRole ?? '';
  }

  /** Runs `callback` as `authedUser` with `authedRoles`; workflows started in it record them. */
  static withAuthedContext<R>(authedUser: string, authedRoles: string[], callback: () => Promise<R>): Promise<R> {
    return withAuthedContext(authedUser, authedRoles, callback);
  }

  /** Runs `callback`; the caller name is neither recorded nor used (as in the SDK). */
  static withNamedContext<R>(callerName: string, callback: () => Promise<R>): Promise<R> {
    return withNamedContext(callerName, callback);
  }

  static setAlertHandler(handler: AlertHandler): void {
    setAlertHandler(handler);
  }

  static registerLifecycleCallback(lcl: DBOSLifecycleCallback): void {
    registerLifecycleCallback(lcl);
  }

  static logRegisteredEndpoints(): void {
    logRegisteredEndpoints();
  }

  /** Creates or migrates the system database at `systemDatabaseUrl` without launching. */
  static migrate(systemDatabaseUrl: string, options?: { schemaName?: string; applicationRole?: string }): Promise<void> {
    return migrate(systemDatabaseUrl, options);
  }

  /** In workflow code, with `enablePatching`: true if this execution runs the patched code (see patching.ts). */
  static patch(patchName: string): Promise<boolean> {
    return checkPatch(patchName, false);
  }

  /** As `patch`, once no execution can be unpatched: always true, and writes nothing. */
  static deprecatePatch(patchName: string): Promise<boolean> {
    return checkPatch(patchName, true);
  }

  // --- schedules (firing)
  /** Enqueues the schedule's workflow now, as `sched-<name>-trigger-<now ISO>`. Refused inside a workflow. */
  static triggerSchedule(name: string): Promise<WorkflowHandle<unknown>> {
    return dbosTriggerSchedule(name);
  }

  /** Enqueues every tick strictly between `start` and `end` (IDs as when fired). Refused inside a workflow. */
  static backfillSchedule(name: string, start: Date, end: Date): Promise<WorkflowHandle<unknown>[]> {
    return dbosBackfillSchedule(name, start, end);
  }
}
