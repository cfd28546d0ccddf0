// The step runner: a step in workflow code is checkpointed (written behind its workflow) and replayed
// from its checkpoint; its attempts run with the step's context, retries with backoff and timeout.
import { contextStorage, currentContext, recordedCheckpoint, takeFunctionID, workflowCode, type DBOSContext, type WorkflowState } from './context';
import { DBOSMaxStepRetriesError, DBOSStepTimeoutError, DBOSWorkflowCancelledError } from './error';
import type { Engine } from './native';
import type { StepConfig } from './registry';
import { appSerializationName, isPromiseLike, replayCheckpoint, roundTrip, serializeError, type MaybePromise } from './serialization';
import { timerSleep } from './durable-time';
import { beforeStep, recordBehind } from './write-behind';
import { traced } from './tracing';

/**
 * Runs a step: in workflow code it is checkpointed (and replayed from its checkpoint); in a step or
 * outside a workflow it is a plain call.
 */
export async function runStep<R>(engine: Engine, fn: () => Promise<R>, name: string, config: StepConfig): Promise<R> {
  const wf = workflowCode();
  if (!wf) return fn();
  const functionID = takeFunctionID(wf);
  const startedAt = Date.now();
  const cp = recordedCheckpoint(wf, functionID, name);
  if (cp) return replayCheckpoint(cp) as MaybePromise<R>;
  await beforeStep(engine, wf);
  const format = appSerializationName();
  let value: R;
  try {
    value = await traced('step', name, wf.workflowID, () => attempts(wf, functionID, name, fn, config));
  } catch (e) {
    recordBehind(engine, wf, functionID, name, startedAt, { error: await serializeError(e, format), serialization: format });
    throw e;
  }
  let stored: { stringified: string; deserialized: R };
  try {
    const trip = roundTrip(value, format, { what: `the return value of step ${name}`, path: [name, '<result>'] });
    stored = isPromiseLike(trip) ? await trip : trip;
  } catch (e) {
    recordBehind(engine, wf, functionID, name, startedAt, { error: await serializeError(e, format), serialization: format });
    throw e;
  }
  recordBehind(engine, wf, functionID, name, startedAt, { output: stored.stringified, serialization: format });
  // The caller sees what a replay would return (with throwing stubs for methods lost, as in the SDK).
  return stored.deserialized;
}

async function attempts<R>(
  wf: WorkflowState,
  stepID: number,
  name: string,
  fn: () => Promise<R>,
  config: StepConfig,
): Promise<R> {
  const retries = config.retriesAllowed === true;
  const maxAttempts = retries ? (config.maxAttempts ?? 3) : 1;
  let interval = (config.intervalSeconds ?? 1) * 1000;
  const backoff = config.backoffRate ?? 2;
  const errors: Error[] = [];
  const ctx = currentContext() ?? {};
  for (let attempt = 1; ; attempt++) {
    if (wf.cancel.signal.aborted) throw new DBOSWorkflowCancelledError(wf.workflowID);
    const timeoutCtl = config.timeoutMS !== undefined ? new AbortController() : undefined;
    const frame: DBOSContext = {
      ...ctx,
      step: {
        stepID,
        name,
        status: {
          stepID,
          currentAttempt: retries ? attempt : undefined,
          maxAttempts: retries ? maxAttempts : undefined,
          timeoutSignal: timeoutCtl?.signal,
          cancelSignal: wf.cancel.signal,
        },
      },
    };
    try {
      const run = contextStorage.run(frame, fn);
      return timeoutCtl ? await withTimeout(run, config.timeoutMS ?? 0, timeoutCtl, name) : await run;
    } catch (e) {
      if (!retries) throw e;
      errors.push(e instanceof Error ? e : new Error(String(e)));
      if (config.shouldRetry && !(await config.shouldRetry(e))) throw e;
      if (attempt >= maxAttempts) throw new DBOSMaxStepRetriesError(name, maxAttempts, errors);
      await timerSleep(interval, { signal: wf.cancel.signal, workflowID: wf.workflowID });
      interval = Math.min(interval * backoff, 3600 * 1000);
    }
  }
}

function withTimeout<R>(run: Promise<R>, ms: number, ctl: AbortController, name: string): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      ctl.abort();
      reject(new DBOSStepTimeoutError(name, ms));
    }, ms);
    run.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
