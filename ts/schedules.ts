// Schedules in `dbos.workflow_schedules`, shared by DBOS and DBOSClient: the SDK 5.3.0 checks (crontab and
// timezone through the engine's parser, with the SDK's error classes and messages), the row the SDK writes
// (context in the caller's serializer), and the SDK's `WorkflowSchedule` read back. DBOS's own checks (launch,
// registered workflow, step recording) are in schedules-dbos.ts.
import { randomUUID } from 'node:crypto';
import { DBOSError } from './error';
import { cronNextTimes, type Engine } from './native';
import { deserializeValue, isPromiseLike, serializeValue, type SerializerOptions } from './serialization';
import { describe, requireString } from './validation';
import type * as Binding from '../native/binding';

/**
 * A function a schedule runs: a registered workflow taking the scheduled time and the schedule's context. The SDK
 * types the context `any`; here it is a parameter (`never`: a workflow taking any context).
 */
export type ScheduledWorkflowFn<C = unknown> = (scheduledDate: Date, context: C) => Promise<void>;

export interface ScheduleOptions {
  automaticBackfill?: boolean;
  cronTimezone?: string;
  queueName?: string;
}

export interface WorkflowSchedule {
  scheduleId: string;
  scheduleName: string;
  workflowName: string;
  workflowClassName: string;
  schedule: string;
  status: string;
  context: unknown;
  lastFiredAt: string | null;
  automaticBackfill: boolean;
  cronTimezone: string | null;
  queueName: string | null;
  applicationName?: string;
}

/** `listSchedules` filters: each a value or a list of values. */
export interface ScheduleFilters {
  applicationName?: string | string[];
  status?: string | string[];
  workflowName?: string | string[];
  scheduleNamePrefix?: string | string[];
}

/** `updateSchedule`: a present key is written (`context` even when undefined); null clears a nullable field. */
export interface ScheduleUpdates {
  schedule?: string;
  context?: unknown;
  automaticBackfill?: boolean;
  cronTimezone?: string | null;
  queueName?: string | null;
}

/** One schedule to write, once its workflow is resolved (by function on DBOS, by name on the client). */
export interface ScheduleDefinition {
  scheduleName: unknown;
  workflowName: string;
  workflowClassName: string;
  schedule: unknown;
  context: unknown;
  automaticBackfill: unknown;
  cronTimezone: unknown;
  queueName: unknown;
  applicationName: string | undefined;
}

/** Who writes and reads: the engine, the application acting (undefined: none) and the serializer of `context`. */
export interface ScheduleOwner {
  engine: Engine;
  appName: string | undefined;
  serializerOpts: SerializerOptions;
}

export type ScheduleRecord = Binding.JsScheduleRecord;

/** The schedule as the SDK's system database returns it (context still serialized): what a workflow step records. */
export interface StoredSchedule extends Omit<WorkflowSchedule, 'context'> {
  context: string;
}

/** The host's IANA zone, which the SDK fires a schedule without `cronTimezone` in. */
export function hostTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * The SDK's `validateCrontab` then `validateTimezone` (a falsy zone is the host's), through the parser that fires
 * the schedule. The SDK throws `TypeError` for a non-string or illegal characters and `Error` for the rest.
 */
export async function validateCron(schedule: unknown, timezone: unknown): Promise<void> {
  if (typeof schedule !== 'string') throw new TypeError('pattern must be a string!');
  if (timezone !== undefined && timezone !== null && typeof timezone !== 'string') {
    throw new DBOSError(`Invalid cronTimezone ${describe(timezone)}: it must be an IANA timezone name`);
  }
  try {
    await cronNextTimes(schedule, timezone || hostTimezone(), 0, 0);
  } catch (e) {
    // The engine carries the SDK's message verbatim (INVALID_ARGUMENT); only the class needs restoring.
    const message = e instanceof Error ? e.message : String(e);
    throw message === 'pattern includes illegal characters!' ? new TypeError(message) : new Error(message);
  }
}

function optionalString(what: string, v: unknown): string | null {
  return v === undefined || v === null ? null : requireString(what, v, true);
}

export function requireObject(what: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be an object`);
  return v as Record<string, unknown>;
}

/** Optional fields of an option bag: absent (undefined) or a bag. */
export function optionalObject(what: string, v: unknown): Record<string, unknown> {
  return v === undefined ? {} : requireObject(what, v);
}

function optionalBoolean(what: string, v: unknown): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a boolean`);
  return v;
}

async function stringify(by: ScheduleOwner, context: unknown): Promise<string> {
  const text = serializeValue(context, null, { ...by.serializerOpts, what: 'the schedule context' });
  return isPromiseLike(text) ? await text : text;
}

/** The checks of createSchedule / applySchedules (in the SDK's order), then the ACTIVE, never-fired row. */
export async function scheduleRecord(by: ScheduleOwner, def: ScheduleDefinition): Promise<ScheduleRecord> {
  const scheduleName = requireString('scheduleName', def.scheduleName, true);
  const automaticBackfill = optionalBoolean('automaticBackfill', def.automaticBackfill) ?? false;
  const cronTimezone = optionalString('cronTimezone', def.cronTimezone);
  const queueName = optionalString('queueName', def.queueName);
  if (def.applicationName !== undefined) requireString('applicationName', def.applicationName, true);
  await validateCron(def.schedule, cronTimezone);
  return {
    scheduleId: randomUUID(),
    scheduleName,
    workflowName: def.workflowName,
    workflowClassName: def.workflowClassName,
    schedule: def.schedule as string,
    status: 'ACTIVE',
    context: await stringify(by, def.context),
    lastFiredAt: null,
    automaticBackfill,
    cronTimezone,
    queueName,
    applicationName: def.applicationName ?? null,
  };
}

/** Inserts the schedule; an existing name is the SDK's plain `Error`, another application's a `DBOSError`. */
export async function insertSchedule(by: ScheduleOwner, record: ScheduleRecord): Promise<void> {
  try {
    await by.engine.createSchedule(record);
  } catch (e) {
    // The engine reports both refusals as INVALID_ARGUMENT; the SDK throws this one as a plain Error.
    const exists = `Schedule '${record.scheduleName}' already exists`;
    if (e instanceof DBOSError && e.message === exists) throw new Error(exists);
    throw e;
  }
}

/** As the SDK's system database returns a row. */
export function storedSchedule(r: ScheduleRecord): StoredSchedule {
  return {
    scheduleId: r.scheduleId,
    scheduleName: r.scheduleName,
    workflowName: r.workflowName,
    workflowClassName: r.workflowClassName ?? '',
    schedule: r.schedule,
    status: r.status,
    context: r.context,
    lastFiredAt: r.lastFiredAt ?? null,
    automaticBackfill: r.automaticBackfill,
    cronTimezone: r.cronTimezone ?? null,
    queueName: r.queueName ?? null,
    applicationName: r.applicationName ?? undefined,
  };
}

/** The public form: `context` read with the caller's serializer. */
export async function toWorkflowSchedule(by: ScheduleOwner, s: StoredSchedule): Promise<WorkflowSchedule> {
  const parsed = deserializeValue(s.context, null, by.serializerOpts);
  return { ...s, context: isPromiseLike(parsed) ? await parsed : parsed };
}

function nameList(what: string, v: unknown): string[] {
  // As the SDK: an unset or empty value does not filter.
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => requireString(what, x, true));
  throw new DBOSError(`Invalid ${what} filter ${describe(v)}: it must be a string or an array of strings`);
}

/** The engine's filter: `applicationName` defaults to the caller's application (none set: every one). */
export function scheduleFilter(by: ScheduleOwner, filters: unknown): Binding.JsScheduleFilter {
  const f = optionalObject('listSchedules filters', filters) as ScheduleFilters;
  return {
    apps: nameList('applicationName', f.applicationName ?? by.appName),
    statuses: nameList('status', f.status),
    workflowNames: nameList('workflowName', f.workflowName),
    namePrefixes: nameList('scheduleNamePrefix', f.scheduleNamePrefix),
  };
}

/** The checked updates as the engine writes them (`set*`: write that nullable column). */
export async function scheduleUpdate(by: ScheduleOwner, updates: unknown): Promise<Binding.JsScheduleUpdate> {
  const u = requireObject('schedule updates', updates);
  const automaticBackfill = optionalBoolean('automaticBackfill', u.automaticBackfill);
  const cronTimezone = optionalString('cronTimezone', u.cronTimezone);
  const queueName = optionalString('queueName', u.queueName);
  if (u.schedule !== undefined || cronTimezone) {
    // The SDK checks each only when given; a zone alone is checked against any valid crontab.
    await validateCron(u.schedule === undefined ? '* * * * *' : u.schedule, cronTimezone);
  }
  return {
    schedule: u.schedule === undefined ? null : (u.schedule as string),
    context: 'context' in u ? await stringify(by, u.context) : null,
    automaticBackfill: automaticBackfill ?? null,
    setCronTimezone: u.cronTimezone !== undefined,
    cronTimezone,
    setQueueName: u.queueName !== undefined,
    queueName,
  };
}

/** A schedule name argument (get, delete, pause, resume, update). */
export function requireScheduleName(name: unknown): string {
  return requireString('schedule name', name, true);
}
