// Introspection and management of single workflows, shared by DBOS and DBOSClient: each call checks its
// arguments (a rejection, the database untouched) before the engine's one statement.
import { DBOSError } from './error';
import type { Engine } from './native';
import { deserializeError, deserializeValue, withFallback, type SerializerOptions } from './serialization';
import { describe, requireString } from './validation';

/** One recorded operation of a workflow (the SDK's `StepInfo`). */
export interface StepInfo {
  readonly functionID: number;
  readonly name: string;
  readonly output: unknown;
  readonly error: Error | null;
  readonly childWorkflowID: string | null;
  readonly startedAtEpochMs?: number;
  readonly completedAtEpochMs?: number;
}

export interface ListWorkflowStepsOptions {
  limit?: number;
  offset?: number;
}

/** Who reads: the engine and the serializer that reads payloads. */
export interface Reader {
  engine: Engine;
  serializerOpts?: SerializerOptions;
}

/** limit / offset of a step listing: unset is none; 0 is kept (the SDK sends `LIMIT 0` as given). */
function pageBound(what: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new DBOSError(`Invalid ${what} ${describe(v)}: it must be a non-negative integer`);
  }
  return v;
}

/**
 * The workflow's recorded operations (steps, children, sleeps, messages, events...) in function order, or
 * undefined if there is no such workflow. Unreadable payloads come back as the SDK shows them: the stored
 * text for an output, an `Error` carrying the text for an error.
 */
export async function listWorkflowSteps(
  by: Reader,
  workflowID: string,
  options: ListWorkflowStepsOptions | undefined,
  loadOutput = true,
): Promise<StepInfo[] | undefined> {
  const id = requireString('workflow ID', workflowID);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new DBOSError(`Invalid listWorkflowSteps options ${describe(options)}: it must be an object`);
  }
  const page = { limit: pageBound('limit', options?.limit), offset: pageBound('offset', options?.offset), loadOutput };
  const rows = await by.engine.listWorkflowSteps(id, page);
  if (!rows) return undefined;
  return Promise.all(
    rows.map(async (r): Promise<StepInfo> => {
      const ser = r.serialization;
      const output = r.output ? await withFallback(() => deserializeValue(r.output, ser, by.serializerOpts), () => r.output) : null;
      const error = r.error ? await withFallback(() => deserializeError(r.error, ser, by.serializerOpts), () => new Error(r.error ?? '')) : null;
      return {
        functionID: r.functionId,
        name: r.name,
        output,
        error,
        childWorkflowID: r.childWorkflowId,
        // As the SDK: a 0 or missing time is left out.
        startedAtEpochMs: r.startedAtEpochMs ? r.startedAtEpochMs : undefined,
        completedAtEpochMs: r.completedAtEpochMs ? r.completedAtEpochMs : undefined,
      };
    }),
  );
}
