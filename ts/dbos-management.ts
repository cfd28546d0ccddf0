// The launched DBOS's workflow management (cancel, resume, priority, delay, listing): each checked before it
// touches the database, and recorded like a step when called from workflow code, so a replay does not repeat it.
import { randomUUID } from 'node:crypto';
import { currentContext, workflowCode } from './context';
import type { WorkflowHandle } from './handles';
import {
  deleteWorkflows as deleteMany,
  forkWorkflow as forkOne,
  listWorkflowSteps as listSteps,
  type ForkWorkflowOptions,
  type ListWorkflowStepsOptions,
  type StepInfo,
} from './introspection';
import { waitAll as waitForAll, waitFirst as waitForFirst, type WaitAllOptions, type WaitFirstOptions, type Waiter } from './wait-many';
import { executor } from './lifecycle';
import * as versions from './app-versions';
import type { VersionInfo, VersionOwner } from './app-versions';
import { checkNewPriority, delayEndEpochMS, requireID, resumeArgs, type SetWorkflowDelayOptions } from './management';
import { runStep } from './steps';
import { requireWorkflowIDs } from './validation';
import { appLister, listQueuedWorkflows as listQueued, listWorkflows as list, type GetWorkflowsInput } from './workflow-list';
import type { WorkflowStatus } from './workflow-status';

async function recorded(name: string, fn: () => Promise<void>): Promise<void> {
  if (!workflowCode()) return fn();
  return runStep(executor(name).engine, fn, name, {});
}

export async function cancelWorkflows(workflowIDs: string[], children: boolean): Promise<void> {
  const exec = executor('DBOS.cancelWorkflow');
  requireWorkflowIDs(workflowIDs);
  await recorded('DBOS.cancelWorkflow', () => exec.cancel(workflowIDs, children));
}

export async function resumeWorkflows(workflowIDs: string[], options: { queueName?: string } | undefined): Promise<WorkflowHandle<unknown>[]> {
  const exec = executor('DBOS.resumeWorkflow');
  const queueName = resumeArgs(workflowIDs, options);
  // Unknown IDs: none resumed, an error.
  await recorded('DBOS.resumeWorkflow', async () => {
    await exec.engine.resumeWorkflows(workflowIDs, queueName);
    await exec.enqueuedOn(queueName);
  });
  return workflowIDs.map((id) => exec.handleFor(id));
}

export async function setWorkflowPriority(workflowID: string, priority: number): Promise<void> {
  const exec = executor('setWorkflowPriority');
  const [id, p] = [requireID(workflowID), checkNewPriority(priority)];
  await recorded('DBOS.setWorkflowPriority', async () => void (await exec.engine.setWorkflowPriority(id, p)));
}

export async function setWorkflowDelay(workflowID: string, options: number | SetWorkflowDelayOptions): Promise<void> {
  const exec = executor('setWorkflowDelay');
  const [id, until] = [requireID(workflowID), delayEndEpochMS(options)];
  await recorded('DBOS.setWorkflowDelay', async () => void (await exec.engine.setWorkflowDelay(id, until)));
  // Our dispatcher moves the row when it comes due rather than at its next once-a-second sweep.
  exec.delayChanged(until);
}

export async function listWorkflows(input: GetWorkflowsInput): Promise<WorkflowStatus[]> {
  const by = appLister('listWorkflows');
  return runStep(by.engine, () => list(by, input), 'DBOS.listWorkflows', {});
}

/** Workflows waiting on or running for a queue (sets `queuesOnly` and `loadOutput: false` on `input`). */
export async function listQueuedWorkflows(input: GetWorkflowsInput): Promise<WorkflowStatus[]> {
  const by = appLister('listQueuedWorkflows');
  return runStep(by.engine, () => listQueued(by, input), 'DBOS.listQueuedWorkflows', {});
}

export async function listWorkflowSteps(workflowID: string, options?: ListWorkflowStepsOptions): Promise<StepInfo[] | undefined> {
  const exec = executor('listWorkflowSteps');
  return runStep(exec.engine, () => listSteps({ engine: exec.engine }, workflowID, options), 'DBOS.listWorkflowSteps', {});
}

/** The fork's ID: the option, else a pending withNextWorkflowID (used up), else a fresh UUID (as the SDK). */
function forkID(options: ForkWorkflowOptions | undefined): string {
  if (options?.newWorkflowID !== undefined) return options.newWorkflowID;
  const next = currentContext()?.nextWorkflowID;
  const id = next?.id;
  if (next && id !== undefined) next.id = undefined;
  return id ?? randomUUID();
}

export async function forkWorkflow<T>(workflowID: string, startStep: number, options?: ForkWorkflowOptions): Promise<WorkflowHandle<Awaited<T>>> {
  const exec = executor('forkWorkflow');
  const fork = async () => {
    const newWorkflowID = forkID(options);
    const queueName = await forkOne(exec.engine, workflowID, startStep, options, { newWorkflowID, owner: exec.appName });
    await exec.enqueuedOn(queueName);
    return newWorkflowID;
  };
  const id = await runStep(exec.engine, fork, 'DBOS.forkWorkflow', {});
  return exec.handleFor(id) as WorkflowHandle<Awaited<T>>;
}

export async function deleteWorkflow(workflowID: string, deleteChildren = false): Promise<void> {
  return deleteWorkflows([workflowID], deleteChildren);
}

export async function deleteWorkflows(workflowIDs: string[], deleteChildren = false): Promise<void> {
  const exec = executor('deleteWorkflows');
  await recorded('DBOS.deleteWorkflow', () => deleteMany(exec.engine, workflowIDs, deleteChildren));
}

function appWaiter(what: string): Waiter {
  const exec = executor(what);
  return { engine: exec.engine, localEnd: (id) => exec.localEnd(id) };
}

export async function waitFirst(handles: WorkflowHandle<unknown>[], options?: WaitFirstOptions): Promise<WorkflowHandle<unknown>> {
  const by = appWaiter('waitFirst');
  return waitForFirst(by, handles, options, (fn) => runStep(by.engine, fn, 'DBOS.waitFirst', {}));
}

export async function waitAll<R>(handles: WorkflowHandle<R>[], options?: WaitAllOptions): Promise<WorkflowHandle<R>[]> {
  const by = appWaiter('waitAll');
  return waitForAll(by, handles, options, (fn) => runStep(by.engine, fn, 'DBOS.waitAll', {}));
}

function appVersions(what: string): VersionOwner {
  const exec = executor(what);
  return { engine: exec.engine, appName: exec.appName };
}

export async function listApplicationVersions(): Promise<VersionInfo[]> {
  return versions.listApplicationVersions(appVersions('listApplicationVersions'));
}

export async function getLatestApplicationVersion(): Promise<VersionInfo> {
  return versions.getLatestApplicationVersion(appVersions('getLatestApplicationVersion'));
}

export async function setLatestApplicationVersion(versionName: string, options?: { applicationName?: string }): Promise<void> {
  return versions.setLatestApplicationVersion(appVersions('setLatestApplicationVersion'), versionName, options);
}
