// Debouncer and DebouncerClient (SDK 5.3.0): many calls with one key within a period start the workflow once, with
// the latest call's arguments. The stored design is the SDK's, so its processes and ours share debounces: the
// debounced workflow is a DELAYED row on a queue whose deduplication ID is `<class>.<name>-<key>` and whose
// `is_debounced` is set; a later call with the key extends that row's delay (never past `debounce_deadline_epoch_ms`)
// and replaces its inputs (the engine's `debounceDelayedWorkflow`); once its delay ends the dispatcher moves it to
// ENQUEUED and frees the key, so the next call starts a fresh workflow.
import { currentContext, recordedCheckpoint, takeFunctionID } from './context';
import { DBOS, type StartWorkflowParams } from './dbos';
import type { DBOSClient } from './client';
import type { ClientEnqueueOptions } from './client-enqueue';
import { nativeBounce } from './debouncer-client';
import { DBOSError, DBOSInvalidWorkflowTransitionError, DBOSQueueDuplicatedError, PortableWorkflowError } from './error';
import type { WorkflowHandle } from './handles';
import { executor } from './lifecycle';
import { valueFormat } from './messages';
import type { Engine } from './native';
import { INTERNAL_QUEUE } from './recovery';
import { findWorkflow, registrationOf, type WorkflowSerializationFormat } from './registry';
import { deserializeValue, serializationNameFor, serializeArgs, type DBOSSerializer } from './serialization';
import { settled } from './write-behind';

/** The SDK's `DebounceParams` (`DBOSClient.debounceDelayedWorkflow`). */
export interface DebounceParams {
  workflowName: string;
  workflowClassName: string;
  queueName: string;
  deduplicationID: string;
  delayUntilEpochMS: number;
  input: string | null;
  serialization: string | null;
  applicationName?: string;
}

/** The SDK's `DebounceResult`: the workflow extended, else who holds the key (if anyone). */
export interface DebounceResult {
  bouncedWorkflowID: string | null;
  holderWorkflowID: string | null;
  holderIsDebounced: boolean;
  holderWorkflowName: string | null;
  holderWorkflowClassName: string | null;
  holderApplicationName: string | null;
}

interface DebouncerConfig<Args extends unknown[], Return> {
  workflow: (...args: Args) => Promise<Return>;
  startWorkflowParams?: StartWorkflowParams;
  debounceTimeoutMs?: number;
  /** The application this debounce acts for. Defaults to the caller's own. */
  applicationName?: string;
}

interface DebouncerClientConfig {
  workflowName: string;
  workflowClassName?: string;
  startWorkflowParams?: StartWorkflowParams;
  debounceTimeoutMs?: number;
  serializationType?: WorkflowSerializationFormat;
  /** The application this debounce acts for. Defaults to the client's own. */
  applicationName?: string;
}

/** The start options a debounce owns (its key is the deduplication ID, its period the delay): refused, as the SDK does. */
function rejectConflictingOptions(params: StartWorkflowParams | undefined, rejectApplicationName: boolean): void {
  const o = params?.enqueueOptions;
  if (rejectApplicationName && o?.applicationName !== undefined) {
    throw new DBOSError(
      "Cannot debounce a workflow with an applicationName set: the debouncer's own applicationName option names the target application.",
    );
  }
  if (o?.deduplicationID !== undefined) {
    throw new DBOSError('Cannot debounce a workflow with a deduplicationID set: the debounce key is used as the workflow deduplication ID.');
  }
  if (o?.delaySeconds !== undefined) {
    throw new DBOSError('Cannot debounce a workflow with a delay set: the debounce period controls the delay.');
  }
  if (o?.priority !== undefined) {
    throw new DBOSError('Cannot debounce a workflow with a priority set: priority is not supported for debounced workflows.');
  }
  if (o?.queuePartitionKey !== undefined) {
    throw new DBOSError('Cannot debounce a workflow with a queue partition key set: partition keys are not supported for debounced workflows.');
  }
  if (params?.duplicationPolicy === 'return-existing') {
    throw new DBOSError("Cannot debounce a workflow with duplicationPolicy 'return-existing': a debounce owns the deduplication behavior.");
  }
  if ((params as { workflowIDReusePolicy?: unknown } | undefined)?.workflowIDReusePolicy === 'reject') {
    throw new DBOSError("Cannot debounce a workflow with workflowIDReusePolicy 'reject': a debounce owns how its workflow is started.");
  }
}

/** The SDK's check (a plain `Error` there; a DBOSError with its message here). NaN and non-numbers are refused too. */
function checkPeriod(debouncePeriodMs: unknown): number {
  if (typeof debouncePeriodMs !== 'number' || !(debouncePeriodMs > 0) || !Number.isFinite(debouncePeriodMs)) {
    throw new DBOSError(`debouncePeriodMs must be positive, not ${String(debouncePeriodMs)}`);
  }
  return debouncePeriodMs;
}

/** As the SDK, 0 means no timeout (and a negative one starts the workflow at once); a non-number is refused. */
function checkTimeout(debounceTimeoutMs: unknown): number | undefined {
  if (debounceTimeoutMs === undefined) return undefined;
  if (typeof debounceTimeoutMs !== 'number' || !Number.isFinite(debounceTimeoutMs)) {
    throw new DBOSError(`debounceTimeoutMs must be a finite number of milliseconds, not ${String(debounceTimeoutMs)}`);
  }
  return debounceTimeoutMs;
}

/** A deduplication refusal, also in its portable-serialization replay form (which keeps only the type name). */
function isQueueDeduplicated(e: unknown): boolean {
  return e instanceof DBOSQueueDuplicatedError || (e instanceof PortableWorkflowError && e.name === 'DBOSQueueDuplicatedError');
}

type Action = 'return' | 'enqueue' | 'raise' | 'retry';

/**
 * What a bounce means (the SDK's rules): an extended workflow is returned; a free key gets a fresh workflow; a key
 * held by a non-debounced workflow, a different workflow, or another application's is a conflict; a same-workflow
 * debounced holder that just left DELAYED is retried.
 */
function classify(r: DebounceResult, workflowName: string, workflowClassName: string, targetApp: string | undefined): Action {
  if (r.bouncedWorkflowID !== null) return 'return';
  if (r.holderWorkflowID === null) return 'enqueue';
  if (!r.holderIsDebounced) return 'raise';
  if (r.holderWorkflowName !== workflowName || (r.holderWorkflowClassName ?? '') !== workflowClassName) return 'raise';
  // Another application's holder never leaves DELAYED on our account: retrying would spin.
  const holderApp = r.holderApplicationName ?? null;
  if (targetApp !== undefined && holderApp !== null && holderApp !== targetApp) return 'raise';
  return 'retry';
}

/** The bounce (as DBOSClient.debounceDelayedWorkflow); from workflow code recorded as the SDK's transactional step. */
async function bounce(engine: Engine, p: DebounceParams): Promise<DebounceResult> {
  const ctx = currentContext();
  const wf = ctx?.step ? undefined : ctx?.workflow;
  if (!wf) return nativeBounce(engine, p, null);
  const functionID = takeFunctionID(wf);
  const recorded = recordedCheckpoint(wf, functionID, 'DBOS.debounceDelayedWorkflow');
  if (recorded) return (await deserializeValue(recorded.output ?? null, recorded.serialization ?? null)) as DebounceResult;
  await settled(engine, wf);
  const step = { workflowId: wf.workflowID, token: wf.token, functionId: functionID, startedAt: Date.now() };
  return nativeBounce(engine, p, step);
}

export class Debouncer<Args extends unknown[], Return> {
  private readonly cfg: {
    workflowName: string;
    workflowClassName: string;
    startWorkflowParams?: StartWorkflowParams;
    debounceTimeoutMs?: number;
    applicationName?: string;
  };

  constructor(params: DebouncerConfig<Args, Return>) {
    const reg = registrationOf(params.workflow);
    this.cfg = {
      workflowName: reg?.name ?? params.workflow.name,
      workflowClassName: reg?.className ?? '',
      startWorkflowParams: params.startWorkflowParams,
      debounceTimeoutMs: params.debounceTimeoutMs,
      applicationName: params.applicationName,
    };
  }

  async debounce(debounceKey: string, debouncePeriodMs: number, ...args: Args): Promise<WorkflowHandle<Return>> {
    const period = checkPeriod(debouncePeriodMs);
    const exec = executor('debounce');
    // Refused before anything is written (the SDK would bounce, then fail at its retrieveWorkflow or start).
    if (currentContext()?.step) throw new DBOSInvalidWorkflowTransitionError('Invalid call to `debounce` inside a `step`');
    const cfg = this.cfg;
    const timeoutMs = checkTimeout(cfg.debounceTimeoutMs);
    rejectConflictingOptions(cfg.startWorkflowParams, true);
    const queueName = cfg.startWorkflowParams?.queueName ?? INTERNAL_QUEUE;
    const deduplicationID = `${cfg.workflowClassName}.${cfg.workflowName}-${debounceKey}`;
    // Taken once (a pending withNextWorkflowID is used up here): re-applied on every enqueue attempt, unused when
    // the call coalesces onto an existing workflow.
    const next = currentContext()?.nextWorkflowID;
    let pinnedID = cfg.startWorkflowParams?.workflowID;
    if (pinnedID === undefined && next?.id !== undefined) {
      pinnedID = next.id;
      next.id = undefined;
    }
    const reg = findWorkflow(cfg.workflowClassName, cfg.workflowName);
    if (!reg) throw new DBOSError(`Invalid workflow name provided to debouncer: ${cfg.workflowName}`);
    // The bounced inputs are written exactly as the workflow's enqueue writes them.
    const format = serializationNameFor(reg.config.serialization);
    const targetApp = cfg.applicationName ?? exec.appName;
    for (;;) {
      const input = await serializeArgs(args, format);
      const result = await bounce(exec.engine, {
        workflowName: cfg.workflowName,
        workflowClassName: cfg.workflowClassName,
        queueName,
        deduplicationID,
        delayUntilEpochMS: Math.round(Date.now() + period),
        input,
        serialization: format,
        applicationName: targetApp,
      });
      const action = classify(result, cfg.workflowName, cfg.workflowClassName, targetApp);
      if (action === 'return') return DBOS.retrieveWorkflow<Return>(result.bouncedWorkflowID ?? '') as WorkflowHandle<Return>;
      if (action === 'raise') throw new DBOSQueueDuplicatedError(pinnedID ?? '', queueName, deduplicationID);
      if (action === 'retry') continue;
      const sp = cfg.startWorkflowParams;
      const enqueueOptions = {
        applicationVersion: sp?.enqueueOptions?.applicationVersion,
        deduplicationID,
        delaySeconds: period / 1000,
        debounceDeadlineEpochMS: timeoutMs ? Date.now() + timeoutMs : undefined,
        isDebounced: true,
        applicationName: cfg.applicationName,
      };
      try {
        // A null timeout detaches an inherited workflow deadline, which could pass before a long debounce ends.
        const handle = await exec.startWorkflow(reg, undefined, args, {
          workflowID: pinnedID,
          queueName,
          timeoutMS: sp?.timeoutMS ?? null,
          workflowAttributes: sp?.workflowAttributes,
          authenticatedUser: sp?.authenticatedUser,
          authenticatedRoles: sp?.authenticatedRoles,
          enqueueOptions,
        });
        return handle as WorkflowHandle<Return>;
      } catch (e) {
        // Another debounce took the key between our bounce and our enqueue: bounce that workflow instead.
        if (!isQueueDeduplicated(e)) throw e;
      }
    }
  }
}

/**
 * What DebouncerClient uses of its client: our DBOSClient, or any with the same members (the SDK's type-checks too,
 * its class being nominal to ours).
 */
export interface DebouncingClient {
  readonly applicationName: string | undefined;
  readonly serializer: DBOSSerializer;
  debounceDelayedWorkflow(params: DebounceParams): Promise<DebounceResult>;
  enqueueDebounced(options: ClientEnqueueOptions, debounceDeadlineEpochMS: number | undefined, args: unknown[]): Promise<string>;
  retrieveWorkflow<T = unknown>(workflowID: string): WorkflowHandle<Awaited<T>>;
}

// Generic only so that `client` keeps the type it was given (our DBOSClient by default, as the SDK types it).
export class DebouncerClient<C extends DebouncingClient = DBOSClient> {
  private readonly cfg: {
    workflowName: string;
    workflowClassName: string;
    startWorkflowParams?: StartWorkflowParams;
    debounceTimeoutMs?: number;
    applicationName?: string;
  };
  private readonly serializationType: WorkflowSerializationFormat;

  constructor(
    readonly client: C,
    params: DebouncerClientConfig,
  ) {
    this.cfg = {
      workflowName: params.workflowName,
      workflowClassName: params.workflowClassName || '',
      startWorkflowParams: params.startWorkflowParams,
      debounceTimeoutMs: params.debounceTimeoutMs,
      applicationName: params.applicationName,
    };
    this.serializationType = params.serializationType;
  }

  async debounce(debounceKey: string, debouncePeriodMs: number, ...args: unknown[]): Promise<WorkflowHandle<unknown>> {
    const period = checkPeriod(debouncePeriodMs);
    const cfg = this.cfg;
    const timeoutMs = checkTimeout(cfg.debounceTimeoutMs);
    rejectConflictingOptions(cfg.startWorkflowParams, false);
    const sp = cfg.startWorkflowParams;
    const queueName = sp?.queueName ?? INTERNAL_QUEUE;
    const deduplicationID = `${cfg.workflowClassName}.${cfg.workflowName}-${debounceKey}`;
    // The debouncer's target, then the workflow options', then the client's own application.
    const targetApp = cfg.applicationName ?? sp?.enqueueOptions?.applicationName ?? this.client.applicationName;
    for (;;) {
      const opts = { serializer: this.client.serializer };
      const format = valueFormat(this.serializationType, undefined, opts);
      const input = await serializeArgs(args, format, undefined, opts);
      const result = await this.client.debounceDelayedWorkflow({
        workflowName: cfg.workflowName,
        workflowClassName: cfg.workflowClassName,
        queueName,
        deduplicationID,
        delayUntilEpochMS: Math.round(Date.now() + period),
        input,
        serialization: format,
        applicationName: targetApp,
      });
      const action = classify(result, cfg.workflowName, cfg.workflowClassName, targetApp);
      if (action === 'return') return this.client.retrieveWorkflow(result.bouncedWorkflowID ?? '');
      if (action === 'raise') throw new DBOSQueueDuplicatedError(sp?.workflowID ?? '', queueName, deduplicationID);
      if (action === 'retry') continue;
      try {
        const workflowID = await this.client.enqueueDebounced(
          {
            workflowName: cfg.workflowName,
            workflowClassName: cfg.workflowClassName || undefined,
            queueName,
            workflowID: sp?.workflowID,
            workflowTimeoutMS: sp?.timeoutMS ?? undefined,
            appVersion: sp?.enqueueOptions?.applicationVersion,
            attributes: sp?.workflowAttributes,
            authenticatedUser: sp?.authenticatedUser,
            authenticatedRoles: sp?.authenticatedRoles,
            deduplicationID,
            delaySeconds: period / 1000,
            serializationType: this.serializationType,
            applicationName: targetApp,
          },
          timeoutMs ? Date.now() + timeoutMs : undefined,
          args,
        );
        return this.client.retrieveWorkflow(workflowID);
      } catch (e) {
        if (!isQueueDeduplicated(e)) throw e;
      }
    }
  }
}
