// Firing schedules: the launched process's firing loop, and triggerSchedule / backfillSchedule (DBOS and client).
// The engine keeps the timers (which schedules, which tick, when; re-read on our NOTIFY and on the SDK's poll) and
// writes the rows; this module does what only JS can: the inputs `[scheduledDate, context]`, written by the
// application serializer exactly as the SDK writes them, and running what was fired (the dispatcher).
import { workflowCode } from './context';
import { DBOSError } from './error';
import type { WorkflowHandle } from './handles';
import { executor } from './lifecycle';
import { dbosLogger } from './logger';
import type { Engine } from './native';
import { appSerializationName, deserializeValue, serializeArgs, type SerializerOptions } from './serialization';
import { notifyEnqueued } from './queue-dispatch';
import { requireString } from './validation';

type ScheduleTick = Awaited<ReturnType<Engine['triggerScheduleTick']>>;

/** The SDK re-reads the schedules every 30 s by default (`schedulerPollingIntervalMs`). */
const DEFAULT_POLL_MS = 30_000;
/** The SDK re-reads every second during the first minute after launch. */
const FAST_POLL_FOR_MS = 60_000;
/** Ticks handed over and written at once (a long catch-up goes in slices of this size). */
const SLICE = 500;
/** After an unexpected error, wait this long before asking the engine again. */
const RETRY_MS = 1000;

/** Where a schedule without a timezone fires: the host's local one, as in the SDK. */
function hostTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** What the firing loop needs of the launched executor. */
export interface FiringHost {
  readonly engine: Engine;
  readonly isClosed: boolean;
  /** Runs (or wakes the dispatcher of) rows just put on `queueName`. */
  enqueuedOn(queueName: string | null): Promise<void>;
}

/**
 * Writes the ticks' rows (an ID already there is left alone) with their inputs; with `recordFired`, moves each
 * schedule's `last_fired_at` forward. A tick whose context cannot be read is skipped with a warning, as the SDK
 * skips it. Returns the IDs created and the queues they went on.
 */
async function fire(engine: Engine, ticks: ScheduleTick[], recordFired: boolean, opts?: SerializerOptions): Promise<{ created: string[]; queues: Set<string> }> {
  const serialization = appSerializationName(opts);
  const runs = [];
  for (const tick of ticks) {
    try {
      const context = await deserializeValue(tick.context, null, opts);
      const inputs = await serializeArgs([new Date(tick.scheduledAtMs), context], null, undefined, opts);
      runs.push({ tick, inputs, serialization });
    } catch (e) {
      dbosLogger().warn(`Dynamic scheduler: error firing workflow for schedule "${tick.scheduleName}": ${(e as Error).message}`);
    }
  }
  const created = runs.length > 0 ? await engine.fireScheduled(runs, recordFired) : [];
  const createdSet = new Set(created);
  const queues = new Set(runs.filter((r) => createdSet.has(r.tick.workflowId)).map((r) => r.tick.queueName));
  return { created, queues };
}

/** Fires until the engine closes (launch starts one per process; see lifecycle.ts). */
export function startScheduleFiring(host: FiringHost, pollingIntervalMs: number | undefined): void {
  const poll = typeof pollingIntervalMs === 'number' && Number.isFinite(pollingIntervalMs) && pollingIntervalMs > 0 ? pollingIntervalMs : DEFAULT_POLL_MS;
  const options = { pollIntervalMs: Math.min(Math.ceil(poll), 2 ** 31), fastPollForMs: FAST_POLL_FOR_MS, defaultTimezone: hostTimezone(), maxTicks: SLICE };
  void (async () => {
    while (!host.isClosed) {
      try {
        const { ticks, invalid } = await host.engine.nextScheduleTicks(options);
        // The engine reports each once per arming (not at every re-read), as the SDK warns once per loop it starts.
        for (const s of invalid) dbosLogger().warn(`Dynamic scheduler: not running invalid schedule "${s.scheduleName}" ("${s.schedule}"): ${s.message}`);
        const { queues } = await fire(host.engine, ticks, true);
        for (const q of queues) await host.enqueuedOn(q);
      } catch (e) {
        // Shutdown closes the engine, which ends the wait; anything else is logged and the loop goes on.
        if (host.isClosed) return;
        dbosLogger().warn(`Dynamic scheduler: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      }
    }
  })();
}

/** Fires `ticks` in slices; returns their IDs (those already there included), in tick order. */
async function fireAll(engine: Engine, ticks: ScheduleTick[], opts: SerializerOptions | undefined, after: (queues: Set<string>) => Promise<void>): Promise<string[]> {
  for (let i = 0; i < ticks.length; i += SLICE) {
    const { queues } = await fire(engine, ticks.slice(i, i + SLICE), false, opts);
    await after(queues);
  }
  return ticks.map((t) => t.workflowId);
}

/** Who fires on demand: an engine, its serializer, and what to do about queues just enqueued onto. */
export interface FiringCaller {
  engine: Engine;
  serializerOpts?: SerializerOptions;
  enqueuedOn(queues: Set<string>): Promise<void>;
}

/** `triggerSchedule`: fires now, as `sched-<name>-trigger-<now ISO>`. */
export async function triggerSchedule(by: FiringCaller, name: string): Promise<string> {
  requireString('schedule name', name);
  const tick = await by.engine.triggerScheduleTick(name);
  const [id] = await fireAll(by.engine, [tick], by.serializerOpts, (q) => by.enqueuedOn(q));
  return id;
}

function timeOf(what: string, d: unknown): number {
  if (!(d instanceof Date)) throw new DBOSError(`backfillSchedule: ${what} must be a Date`);
  return d.getTime();
}

/** `backfillSchedule`: every tick strictly after `start` and strictly before `end`, with the ticks' own IDs. */
export async function backfillSchedule(by: FiringCaller, name: string, start: Date, end: Date): Promise<string[]> {
  requireString('schedule name', name);
  const [from, to] = [timeOf('start', start), timeOf('end', end)];
  // An invalid Date fires nothing, as in the SDK (its loop never starts); the name is still checked.
  const valid = !Number.isNaN(from) && !Number.isNaN(to);
  const ticks = await by.engine.backfillScheduleTicks(name, valid ? from : 0, valid ? to : 0, hostTimezone());
  return fireAll(by.engine, ticks, by.serializerOpts, (q) => by.enqueuedOn(q));
}

// ---- DBOS statics (refused inside a workflow, as the SDK refuses them)

function launched(what: string): FiringCaller & { handle(id: string): WorkflowHandle<unknown> } {
  const exec = executor(what);
  if (workflowCode()) throw new DBOSError(`${what} cannot be called from within a workflow`);
  return {
    engine: exec.engine,
    enqueuedOn: async (queues) => {
      for (const q of queues) await exec.enqueuedOn(q);
    },
    handle: (id) => exec.handleFor(id),
  };
}

export async function dbosTriggerSchedule(name: string): Promise<WorkflowHandle<unknown>> {
  const by = launched('triggerSchedule');
  return by.handle(await triggerSchedule(by, name));
}

export async function dbosBackfillSchedule(name: string, start: Date, end: Date): Promise<WorkflowHandle<unknown>[]> {
  const by = launched('backfillSchedule');
  return (await backfillSchedule(by, name, start, end)).map((id) => by.handle(id));
}

/** A client's firing: the app processes serving the queues are told (NOTIFY), rather than waiting for their poll. */
export function clientFiring(engine: Engine, serializerOpts: SerializerOptions): FiringCaller {
  return {
    engine,
    serializerOpts,
    enqueuedOn: async (queues) => {
      for (const q of queues) await notifyEnqueued(engine, q);
    },
  };
}
