// Recovery: what a workflow claimed from the internal queue (recovered after a crash, or resumed) runs
// as: its registered function, the configured instance it ran on, its stored inputs and its recorded
// checkpoints. Rows that cannot run are dead-lettered, failed, or left for a process that can run them.
import { authOfRow } from './auth-context';
import type { WorkflowState } from './context';
import { DBOSError } from './error';
import type { ClaimedWorkflow, Engine } from './native';
import { findInstance, findWorkflow, type WorkflowRegistration } from './registry';
import { appSerializationName, deserializeArgs, isPromiseLike, serializeError } from './serialization';

export const INTERNAL_QUEUE = '_dbos_internal_queue';
const DEFAULT_MAX_RECOVERY_ATTEMPTS = 100;

export interface RecoveredRun {
  reg: WorkflowRegistration;
  thisArg: unknown;
  args: unknown[];
  state: WorkflowState;
}

/**
 * The run a claimed workflow resumes as, or undefined when it is not to run here: its code is not
 * registered (warned; another process may run it), it exceeded its recovery attempts (dead-lettered),
 * or its inputs cannot be read (recorded as its error).
 */
export async function recoveredRun(engine: Engine, c: ClaimedWorkflow): Promise<RecoveredRun | undefined> {
  const reg = findWorkflow(c.className, c.name);
  if (!reg) {
    process.emitWarning(
      `dbos-native: cannot recover workflow ${c.workflowId}: no workflow named ${c.className ? c.className + '.' : ''}${c.name} is registered`,
    );
    return undefined;
  }
  // A workflow of a configured instance runs on the instance of that name, as it did before the crash.
  const thisArg = c.configName ? findInstance(c.className, c.configName) : reg.defaultThis;
  if (thisArg === undefined && c.configName) {
    process.emitWarning(
      `dbos-native: cannot recover workflow ${c.workflowId}: configured class instance '${c.className ?? ''}/${c.configName}' is not registered; did you change your code?`,
    );
    return undefined;
  }
  const max = reg.config.maxRecoveryAttempts || DEFAULT_MAX_RECOVERY_ATTEMPTS;
  if (c.recoveryAttempts > max + 1) {
    await engine.deadLetter(c.workflowId, max + 1);
    return undefined;
  }
  const serialization = c.serialization ?? appSerializationName();
  let args: unknown[];
  try {
    if (c.inputs === null || c.inputs === undefined) throw new DBOSError(`Workflow ${c.workflowId} has no stored inputs`);
    const parsed = deserializeArgs(c.inputs, serialization);
    args = isPromiseLike(parsed) ? await parsed : parsed;
    if (reg.config.inputSchema) args = reg.config.inputSchema.parse(args) as unknown[];
  } catch (e) {
    await engine.completeWorkflow({
      workflowId: c.workflowId,
      token: c.token,
      status: 'ERROR',
      output: null,
      error: await serializeError(e, serialization),
    });
    return undefined;
  }
  // A queue claim reads its rows' checkpoints with it; recovery's claims leave them to be loaded here.
  const checkpoints = c.checkpoints ?? (await engine.loadCheckpoints(c.workflowId));
  const state: WorkflowState = {
    workflowID: c.workflowId,
    workflowName: reg.name,
    token: c.token,
    nextFunctionID: 0,
    recorded: new Map(checkpoints.map((cp) => [cp.functionId, cp])),
    serialization,
    deadlineEpochMS: c.deadlineEpochMs ?? undefined,
    cancel: new AbortController(),
    auth: authOfRow(c),
  };
  return { reg, thisArg, args, state };
}
