// DBOSClient's debounce members (the SDK marks them internal, for DebouncerClient, but they are public on its
// class): the bounce, and the enqueue of a fresh debounced workflow. See debouncer.ts for the design.
import { checkReuse, enqueueRow, type ClientEnqueueOptions } from './client-enqueue';
import type { DebounceParams, DebounceResult } from './debouncer';
import { DBOSError } from './error';
import type { Engine } from './native';
import { enqueueTogether } from './together';
import { debounceColumns, insertOnQueue } from './queue-dispatch';
import type { SerializerOptions } from './serialization';
import { requireString } from './validation';

/** Workflow code a bounce is checkpointed for. */
export interface BounceStep {
  workflowId: string;
  token: string;
  functionId: number;
  startedAt: number;
}

export interface DebounceClientContext {
  engine: Engine;
  clientAppName: string | undefined;
  serializerOpts: SerializerOptions;
}

/** Enqueues a DELAYED debounced row (its delay capped at the deadline) and returns its workflow ID. */
export async function enqueueDebounced(
  c: DebounceClientContext,
  options: ClientEnqueueOptions,
  debounceDeadlineEpochMS: number | undefined,
  args: readonly unknown[],
): Promise<string> {
  if (debounceDeadlineEpochMS !== undefined && (typeof debounceDeadlineEpochMS !== 'number' || !Number.isFinite(debounceDeadlineEpochMS))) {
    throw new DBOSError(`Invalid debounceDeadlineEpochMS ${String(debounceDeadlineEpochMS)}: it must be epoch milliseconds`);
  }
  if (!Array.isArray(args)) throw new DBOSError('Invalid args: enqueueDebounced takes the workflow arguments as an array');
  const base = await enqueueRow(options, args, undefined, { serializerOpts: c.serializerOpts, appName: c.clientAppName ?? null });
  const row = { ...base, ...debounceColumns(base.delayUntilEpochMs, { isDebounced: true, debounceDeadlineEpochMS }) };
  const inserted = await insertOnQueue(c.engine, row, false, () => enqueueTogether(c.engine, row));
  if ('duplicated' in inserted) throw inserted.duplicated;
  if ('existing' in inserted) return inserted.existing;
  // The engine notifies the queue's dispatchers once the row is committed.
  if (!inserted.outcome.shouldExecute) checkReuse(row, inserted.outcome, undefined);
  return row.workflowId;
}

/** Extends the debounced DELAYED workflow holding the key, or reports its holder (nothing is recorded). */
export async function debounceDelayedWorkflow(engine: Engine, params: DebounceParams): Promise<DebounceResult> {
  const p = params as Partial<DebounceParams> | undefined;
  for (const key of ['workflowName', 'queueName', 'deduplicationID'] as const) requireString(key, p?.[key]);
  if (typeof p?.workflowClassName !== 'string') throw new DBOSError('Invalid workflowClassName: it must be a string (empty for none)');
  const delay = p.delayUntilEpochMS;
  if (typeof delay !== 'number' || !Number.isFinite(delay)) {
    throw new DBOSError(`Invalid delayUntilEpochMS ${String(delay)}: it must be epoch milliseconds`);
  }
  return nativeBounce(engine, { ...params, delayUntilEpochMS: Math.round(delay) }, null);
}

/** The engine's bounce, in the SDK's field names; `step`: the workflow code it is recorded for (null: none). */
export async function nativeBounce(engine: Engine, p: DebounceParams, step: BounceStep | null): Promise<DebounceResult> {
  const r = await engine.debounceDelayedWorkflow(
    {
      workflowName: p.workflowName,
      workflowClassName: p.workflowClassName,
      queueName: p.queueName,
      deduplicationId: p.deduplicationID,
      delayUntilEpochMs: p.delayUntilEpochMS,
      input: p.input ?? null,
      serialization: p.serialization ?? null,
      applicationName: p.applicationName ?? null,
    },
    step,
  );
  return {
    bouncedWorkflowID: r.bouncedWorkflowId,
    holderWorkflowID: r.holderWorkflowId,
    holderIsDebounced: r.holderIsDebounced,
    holderWorkflowName: r.holderWorkflowName,
    holderWorkflowClassName: r.holderWorkflowClassName,
    holderApplicationName: r.holderApplicationName,
  };
}
