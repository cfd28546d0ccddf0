// The launched DBOS's schedule calls (SDK 5.3.0): each needs launch, names its workflow by the registered function
// (instance methods refused), writes as this application, and from workflow code is recorded as the SDK's step
// `DBOS.<call>` (applySchedules is refused there). The checks and rows are shared with the client (schedules.ts).
import { currentContext } from './context';
import { DBOSError } from './error';
import { executor } from './lifecycle';
import { registrationOf } from './registry';
import {
  insertSchedule,
  optionalObject,
  requireObject,
  requireScheduleName,
  scheduleFilter,
  scheduleRecord,
  scheduleUpdate,
  storedSchedule,
  toWorkflowSchedule,
  type ScheduledWorkflowFn,
  type ScheduleFilters,
  type ScheduleOptions,
  type ScheduleOwner,
  type ScheduleUpdates,
  type WorkflowSchedule,
} from './schedules';
import { runStep } from './steps';

export interface CreateScheduleInput<C> {
  scheduleName: string;
  workflowFn: ScheduledWorkflowFn<C>;
  schedule: string;
  context?: C;
  options?: ScheduleOptions;
}

export interface ApplyScheduleInput {
  scheduleName: string;
  workflowFn: ScheduledWorkflowFn<never>;
  schedule: string;
  context?: unknown;
  automaticBackfill?: boolean;
  cronTimezone?: string;
  queueName?: string;
}

function appOwner(what: string): ScheduleOwner {
  const exec = executor(what);
  // The configured serializer writes and reads the context (serializerOpts without one).
  return { engine: exec.engine, appName: exec.appName, serializerOpts: {} };
}

const unregisteredWarned = new Set<string>();

/** The registered workflow's names; a method of instances cannot run on a schedule (the SDK's message). */
function scheduledWorkflow(fn: unknown): { workflowName: string; workflowClassName: string } {
  const reg = registrationOf(fn);
  if (reg?.kind === 'workflow' && reg.isInstance) {
    throw new DBOSError(`Cannot schedule instance method "${reg.name}". Only static methods and free functions can be used in schedules.`);
  }
  if (reg?.kind === 'workflow') return { workflowName: reg.name, workflowClassName: reg.className };
  if (typeof fn !== 'function') throw new DBOSError(`Invalid workflowFn ${String(fn)}: expected a registered workflow function`);
  // The SDK accepts a function registered nowhere here and stores its JS name (a process of another build
  // may run it), so we do too; a process with no such workflow never fires it, hence the warning.
  if (!unregisteredWarned.has(fn.name)) {
    unregisteredWarned.add(fn.name);
    process.emitWarning(`dbos-native: scheduling '${fn.name}', which is not a registered workflow in this process; only a process that registers it will run it`);
  }
  return { workflowName: fn.name, workflowClassName: '' };
}

/** `fn` as the step `DBOS.<call>` in workflow code (a plain call elsewhere); void calls record null, as the SDK. */
function recorded(owner: ScheduleOwner, call: string, fn: () => Promise<void>): Promise<null> {
  return runStep(owner.engine, async () => (await fn(), null), `DBOS.${call}`, {});
}

export async function createSchedule<C>(input: CreateScheduleInput<C>): Promise<void> {
  const by = appOwner('createSchedule');
  const o = requireObject('createSchedule options', input);
  const opts = optionalObject('schedule options', o.options);
  const record = await scheduleRecord(by, {
    ...scheduledWorkflow(o.workflowFn),
    scheduleName: o.scheduleName,
    schedule: o.schedule,
    context: o.context,
    automaticBackfill: opts.automaticBackfill,
    cronTimezone: opts.cronTimezone,
    queueName: opts.queueName,
    applicationName: by.appName,
  });
  await recorded(by, 'createSchedule', () => insertSchedule(by, record));
}

/** Upserts every schedule in one transaction (keeping ID, status and last firing); schedules not listed stay. */
export async function applySchedules(schedules: ApplyScheduleInput[]): Promise<void> {
  const by = appOwner('applySchedules');
  if (currentContext()?.workflow) throw new DBOSError('applySchedules cannot be called from within a workflow');
  if (!Array.isArray(schedules)) throw new DBOSError('Invalid applySchedules argument: it must be an array of schedules');
  const records = [];
  for (const s of schedules as unknown[]) {
    const o = requireObject('schedule', s);
    records.push(
      await scheduleRecord(by, {
        ...scheduledWorkflow(o.workflowFn),
        scheduleName: o.scheduleName,
        schedule: o.schedule,
        context: o.context,
        automaticBackfill: o.automaticBackfill,
        cronTimezone: o.cronTimezone,
        queueName: o.queueName,
        applicationName: by.appName,
      }),
    );
  }
  await by.engine.applySchedules(records);
}

/** This application's schedules and unclaimed ones (or those of `applicationName`), by name. */
export async function listSchedules(filters?: ScheduleFilters): Promise<WorkflowSchedule[]> {
  const by = appOwner('listSchedules');
  const filter = scheduleFilter(by, filters);
  const rows = await runStep(by.engine, async () => (await by.engine.listSchedules(filter)).map(storedSchedule), 'DBOS.listSchedules', {});
  return Promise.all(rows.map((s) => toWorkflowSchedule(by, s)));
}

export async function getSchedule(name: string): Promise<WorkflowSchedule | null> {
  const by = appOwner('getSchedule');
  const scheduleName = requireScheduleName(name);
  const row = await runStep(
    by.engine,
    async () => {
      const r = await by.engine.getSchedule(scheduleName);
      return r ? storedSchedule(r) : null;
    },
    'DBOS.getSchedule',
    {},
  );
  return row ? toWorkflowSchedule(by, row) : null;
}

/** Deletes the schedule (none: nothing happens, as in the SDK). */
export async function deleteSchedule(name: string): Promise<void> {
  const by = appOwner('deleteSchedule');
  const scheduleName = requireScheduleName(name);
  await recorded(by, 'deleteSchedule', () => by.engine.deleteSchedule(scheduleName));
}

export async function pauseSchedule(name: string): Promise<void> {
  const by = appOwner('pauseSchedule');
  const scheduleName = requireScheduleName(name);
  await recorded(by, 'pauseSchedule', () => by.engine.setScheduleStatus(scheduleName, 'PAUSED'));
}

export async function resumeSchedule(name: string): Promise<void> {
  const by = appOwner('resumeSchedule');
  const scheduleName = requireScheduleName(name);
  await recorded(by, 'resumeSchedule', () => by.engine.setScheduleStatus(scheduleName, 'ACTIVE'));
}

/** Writes the keys present in `updates`; a missing schedule is a `DBOSError`. */
export async function updateSchedule(name: string, updates: ScheduleUpdates): Promise<void> {
  const by = appOwner('updateSchedule');
  const scheduleName = requireScheduleName(name);
  const update = await scheduleUpdate(by, updates);
  await recorded(by, 'updateSchedule', () => by.engine.updateSchedule(scheduleName, update));
}
