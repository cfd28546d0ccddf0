// DBOS.patch / DBOS.deprecatePatch (with `enablePatching`): a workflow asks whether it runs the patched code.
// A patch is a checkpoint named `DBOS.patch-<name>` at the current function ID, as the SDK writes it: a new
// execution records it and takes the patched branch; a recovered execution that has a different checkpoint
// there started before the patch, so it takes the old branch and the ID stays for that checkpoint.
// deprecatePatch writes nothing: it steps over a patch marker an earlier execution recorded.
import { takeFunctionID, workflowCode } from './context';
import { DBOSInvalidWorkflowTransitionError } from './error';
import { currentConfig, executor } from './lifecycle';
import { record } from './write-behind';

export async function checkPatch(patchName: string, deprecated: boolean): Promise<boolean> {
  const what = deprecated ? 'DBOS.deprecatePatch' : 'DBOS.patch';
  const wf = workflowCode();
  if (!wf) throw new DBOSInvalidWorkflowTransitionError(`\`${what}\` must be called from a workflow, and not within a step`);
  if (!currentConfig()?.enablePatching) {
    throw new DBOSInvalidWorkflowTransitionError('Patching is not enabled.  See `enablePatching` in `DBOSConfig`');
  }
  const name = `DBOS.patch-${patchName}`;
  // Synchronously (see context.ts): the ID is taken only if a marker is, or will be, there.
  const functionID = wf.nextFunctionID;
  const recorded = wf.recorded?.get(functionID);
  if (deprecated || recorded) {
    if (recorded?.name === name) takeFunctionID(wf);
    return deprecated || recorded?.name === name;
  }
  takeFunctionID(wf);
  const now = Date.now();
  await record(executor(what).engine, wf, functionID, name, now, {}, true, now);
  return true;
}
