// rewindWorkflow (DBOS and DBOSClient) and DBOSClient.renameApplication: the arguments checked as the SDK checks
// them (its DBOSError messages) before the engine writes anything (src/engine/workflows/rewind.rs,
// src/engine/rename_app.rs).
import { DBOSError } from './error';
import type { WorkflowHandle } from './handles';
import { executor } from './lifecycle';
import type { Engine } from './native';
import { notifyEnqueued } from './queue-dispatch';
import { INTERNAL_QUEUE } from './recovery';
import { runStep } from './steps';
import { describe, requireString } from './validation';

/** The options of rewindWorkflow (the SDK's). */
export interface RewindWorkflowOptions {
  /** The first step whose history is dropped (default 0: the whole history). */
  startStep?: number;
  /** The version to stamp on the workflow before it replays (default: kept). */
  applicationVersion?: string;
  /** The queue to re-enqueue on (default: the internal queue). */
  queueName?: string;
  queuePartitionKey?: string;
}

/** Rows a rename moved, by table (the SDK's `ApplicationRowCounts`). */
export interface ApplicationRowCounts {
  queues: number;
  schedules: number;
  versions: number;
  workflows: number;
  steps: number;
}

/** The SDK's `DEFAULT_RENAME_BATCH_SIZE`. */
const DEFAULT_RENAME_BATCH_SIZE = 10_000;

function optionalString(what: string, v: unknown): string | null {
  return v === undefined || v === null ? null : requireString(what, v);
}

/**
 * Drops the terminal workflow's history from `startStep` on and ENQUEUEs it again under its own ID; returns the queue
 * it went on. The workflow must exist (DBOSNonExistentWorkflowError) and not be PENDING, ENQUEUED or DELAYED (DBOSError).
 */
export async function rewind(engine: Engine, workflowID: string, options: RewindWorkflowOptions | undefined): Promise<string> {
  const id = requireString('workflow ID', workflowID);
  const o: unknown = options ?? {};
  if (typeof o !== 'object' || o === null) throw new DBOSError(`Invalid rewindWorkflow options ${describe(options)}: it must be an object`);
  const opts = o as RewindWorkflowOptions;
  const startStep = opts.startStep ?? 0;
  if (typeof startStep !== 'number' || !Number.isInteger(startStep) || startStep > 2 ** 31 - 1) {
    throw new DBOSError(`Invalid startStep ${describe(startStep)}: it must be an integer`);
  }
  // Function IDs start at 0, so 0 is the whole history (the SDK's message).
  if (startStep < 0) throw new DBOSError(`startStep must be >= 0, got ${startStep}`);
  const queueName = optionalString('queueName', opts.queueName) ?? INTERNAL_QUEUE;
  await engine.rewindWorkflow({
    workflowId: id,
    startStep,
    queueName,
    applicationVersion: optionalString('applicationVersion', opts.applicationVersion),
    queuePartitionKey: optionalString('queuePartitionKey', opts.queuePartitionKey),
  });
  return queueName;
}

/** DBOS.rewindWorkflow: recorded as the step `DBOS.rewindWorkflow` in workflow code; the workflow runs here if this process serves its queue. */
export async function dbosRewindWorkflow<T>(workflowID: string, options?: RewindWorkflowOptions): Promise<WorkflowHandle<Awaited<T>>> {
  const exec = executor('rewindWorkflow');
  await runStep(exec.engine, async () => exec.enqueuedOn(await rewind(exec.engine, workflowID, options)), 'DBOS.rewindWorkflow', {});
  return exec.handleFor(workflowID) as WorkflowHandle<Awaited<T>>;
}

/** DBOSClient.rewindWorkflow: the rewind, then a NOTIFY so a process serving the queue runs it now. */
export async function clientRewindWorkflow(engine: Engine, workflowID: string, options?: RewindWorkflowOptions): Promise<void> {
  await notifyEnqueued(engine, await rewind(engine, workflowID, options));
}

/**
 * Gives `newName` the rows `oldName` owns and, with `adoptUnclaimedRows`, the rows no application owns. Run it while
 * the renamed application is stopped (its dequeues would race the move), as the SDK says.
 */
export async function renameApplication(
  engine: Engine,
  oldName: string | undefined,
  newName: string,
  options: { batchSize?: number | null; adoptUnclaimedRows?: boolean } | undefined,
): Promise<ApplicationRowCounts> {
  const o: unknown = options ?? {};
  if (typeof o !== 'object' || o === null) throw new DBOSError(`Invalid renameApplication options ${describe(options)}: it must be an object`);
  const { batchSize: size, adoptUnclaimedRows: adopt } = o as { batchSize?: unknown; adoptUnclaimedRows?: unknown };
  const old = oldName === undefined ? null : requireString("the application's previous name", oldName, true);
  const target = requireString('newName', newName, true);
  if (adopt !== undefined && typeof adopt !== 'boolean') throw new DBOSError(`Invalid adoptUnclaimedRows ${describe(adopt)}: it must be a boolean`);
  const batchSize = size === null ? null : (size ?? DEFAULT_RENAME_BATCH_SIZE);
  // The SDK's checks and messages, in its order; NaN and fractions fail here, before anything moves.
  if (old === '') throw new DBOSError("The application's previous name cannot be empty.");
  if (old === null && adopt !== true) throw new DBOSError('Nothing to re-own: name the application to rename, adopt unclaimed rows, or both.');
  if (old === target) throw new DBOSError(`Application '${target}' already holds that name; nothing to rename.`);
  if (batchSize !== null && (typeof batchSize !== 'number' || !Number.isSafeInteger(batchSize) || batchSize < 1)) {
    throw new DBOSError(`batchSize must be a positive integer, got ${typeof batchSize === 'number' ? batchSize : describe(batchSize)}`);
  }
  return engine.renameApplication({ oldName: old, newName: target, batchSize, adoptUnclaimedRows: adopt === true });
}
