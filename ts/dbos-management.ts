// The launched DBOS's workflow management (cancel, resume, priority, delay, listing): each checked before it
// touches the database, and recorded like a step when called from workflow code, so a replay does not repeat it.
import { workflowCode } from './context';
import type { WorkflowHandle } from './handles';
import { listWorkflowSteps as listSteps, type ListWorkflowStepsOptions, type StepInfo } from './introspection';
import { executor } from './lifecycle';
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
  await recorded('DBOS.resumeWorkflow', () => exec.resume(workflowIDs, queueName));
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
