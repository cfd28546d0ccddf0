// DBOSClient's schedule calls (SDK 5.3.0): the workflow named by name and class (nothing checked against a
// registry), owned by `applicationName` or the client's application, the context in the client's serializer.
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
  type ScheduleDefinition,
  type ScheduleFilters,
  type ScheduleOptions,
  type ScheduleOwner,
  type ScheduleUpdates,
  type WorkflowSchedule,
} from './schedules';
import { DBOSError } from './error';
import { requireString } from './validation';

export interface ClientCreateScheduleInput {
  scheduleName: string;
  workflowName: string;
  workflowClassName?: string;
  schedule: string;
  context?: unknown;
  options?: ScheduleOptions;
  /** The owner (default: the client's application; neither: an unclaimed schedule every application runs). */
  applicationName?: string;
}

export interface ClientApplyScheduleInput {
  scheduleName: string;
  workflowName: string;
  workflowClassName?: string;
  schedule: string;
  context?: unknown;
  automaticBackfill?: boolean;
  cronTimezone?: string;
  queueName?: string;
  applicationName?: string;
}

/** The definition of one schedule given by workflow name. */
function definition(by: ScheduleOwner, o: Record<string, unknown>, opts: Record<string, unknown>): ScheduleDefinition {
  const className = o.workflowClassName;
  return {
    scheduleName: o.scheduleName,
    workflowName: requireString('workflowName', o.workflowName),
    workflowClassName: className === undefined ? '' : requireString('workflowClassName', className, true),
    schedule: o.schedule,
    context: o.context,
    automaticBackfill: opts.automaticBackfill,
    cronTimezone: opts.cronTimezone,
    queueName: opts.queueName,
    applicationName: o.applicationName === undefined ? by.appName : requireString('applicationName', o.applicationName, true),
  };
}

export async function createSchedule(by: ScheduleOwner, input: ClientCreateScheduleInput): Promise<void> {
  const o = requireObject('createSchedule options', input);
  const record = await scheduleRecord(by, definition(by, o, optionalObject('schedule options', o.options)));
  await insertSchedule(by, record);
}

export async function applySchedules(by: ScheduleOwner, schedules: ClientApplyScheduleInput[]): Promise<void> {
  if (!Array.isArray(schedules)) throw new DBOSError('Invalid applySchedules argument: it must be an array of schedules');
  const records = [];
  for (const s of schedules as unknown[]) {
    const o = requireObject('schedule', s);
    records.push(await scheduleRecord(by, definition(by, o, o)));
  }
  await by.engine.applySchedules(records);
}

export async function listSchedules(by: ScheduleOwner, filters?: ScheduleFilters): Promise<WorkflowSchedule[]> {
  const rows = await by.engine.listSchedules(scheduleFilter(by, filters));
  return Promise.all(rows.map((r) => toWorkflowSchedule(by, storedSchedule(r))));
}

export async function getSchedule(by: ScheduleOwner, name: string): Promise<WorkflowSchedule | null> {
  const row = await by.engine.getSchedule(requireScheduleName(name));
  return row ? toWorkflowSchedule(by, storedSchedule(row)) : null;
}

export async function deleteSchedule(by: ScheduleOwner, name: string): Promise<void> {
  await by.engine.deleteSchedule(requireScheduleName(name));
}

export async function setScheduleStatus(by: ScheduleOwner, name: string, status: 'ACTIVE' | 'PAUSED'): Promise<void> {
  await by.engine.setScheduleStatus(requireScheduleName(name), status);
}

export async function updateSchedule(by: ScheduleOwner, name: string, updates: ScheduleUpdates): Promise<void> {
  const scheduleName = requireScheduleName(name);
  await by.engine.updateSchedule(scheduleName, await scheduleUpdate(by, updates));
}
