// The statics of the SDK surface beyond workflows, messages and queues, which DBOS inherits (DBOS extends
// this class: `DBOS.logger` etc. resolve here, at runtime and in the types). Each is a delegation to the
// module that implements it; kept out of dbos.ts, which holds the core API.
import { setAlertHandler, type AlertHandler } from './alerts';
import { currentAuth, withAuthedContext, withNamedContext } from './auth-context';
import { logRegisteredEndpoints, registerLifecycleCallback, type DBOSLifecycleCallback } from './lifecycle-callbacks';
import { dbosLogger, type DLogger } from './logger';
import { checkPatch } from './patching';
import { migrate } from './migrate';
// --- schedules (CRUD)
import * as schedules from './schedules-dbos';
import type { ScheduleFilters, ScheduleUpdates, WorkflowSchedule } from './schedules';
// --- rest
import { dbosRewindWorkflow, type RewindWorkflowOptions } from './rewind';
import type { WorkflowHandle } from './handles';
import { activeSpan, currentTracer, type DBOSSpan, type Tracer } from './tracing';
import * as info from './class-info';
import type { FunctionName } from './registry';
// --- schedules (firing)
import { dbosBackfillSchedule, dbosTriggerSchedule } from './schedule-fire';

export class DBOSSurface {
  // --- schedules (CRUD): schedules-dbos.ts
  static createSchedule<C>(options: schedules.CreateScheduleInput<C>): Promise<void> {
    return schedules.createSchedule(options);
  }
  static applySchedules(scheduleList: schedules.ApplyScheduleInput[]): Promise<void> {
    return schedules.applySchedules(scheduleList);
  }
  static listSchedules(filters?: ScheduleFilters): Promise<WorkflowSchedule[]> {
    return schedules.listSchedules(filters);
  }
  static getSchedule(name: string): Promise<WorkflowSchedule | null> {
    return schedules.getSchedule(name);
  }
  static deleteSchedule(name: string): Promise<void> {
    return schedules.deleteSchedule(name);
  }
  static pauseSchedule(name: string): Promise<void> {
    return schedules.pauseSchedule(name);
  }
  static resumeSchedule(name: string): Promise<void> {
    return schedules.resumeSchedule(name);
  }
  static updateSchedule(name: string, updates: ScheduleUpdates): Promise<void> {
    return schedules.updateSchedule(name, updates);
  }

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

  // --- rest (rewind, tracing, class names, associated info)
  /** Drops a terminal workflow's history from `options.startStep` (default 0) on and re-enqueues it under its own ID. */
  static rewindWorkflow<T>(workflowID: string, options?: RewindWorkflowOptions): Promise<WorkflowHandle<Awaited<T>>> {
    return dbosRewindWorkflow<T>(workflowID, options);
  }

  /** The tracer for application spans (undefined before launch); its spans are stubs unless tracing is enabled. */
  static get tracer(): Tracer | undefined {
    return currentTracer();
  }

  /** The active OpenTelemetry span, when tracing is enabled and the application has `@opentelemetry/api`. */
  static get span(): DBOSSpan | undefined {
    return activeSpan();
  }

  /** Class decorator: the class's workflows and steps are registered under `name` instead of the class's own. */
  static className(name: string): <T extends abstract new (...args: never[]) => object>(ctor: T) => void {
    return info.classNameDecorator(name);
  }

  static associateClassWithInfo(external: info.ExternalKey, cls: object | string): object {
    return info.associateClassWithInfo(external, cls);
  }

  static associateFunctionWithInfo<This, Args extends unknown[], Return>(external: info.ExternalKey, func: (this: This, ...args: Args) => Promise<Return>, target: FunctionName): { registration: info.MethodRegistrationBase; regInfo: object } {
    return info.associateFunctionWithInfo(external, func, target);
  }

  static getAssociatedInfo(external: info.ExternalKey, cls?: object | string, funcName?: string): readonly info.ExternalRegistration[] {
    return info.getAssociatedInfo(external, cls, funcName);
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
