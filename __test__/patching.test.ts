// DBOS.patch / deprecatePatch with enablePatching: a new execution records `DBOS.patch-<name>` and takes the
// patched branch; an execution that started before the patch (its checkpoint at that ID is another one)
// takes the old branch on re-execution; deprecatePatch writes nothing; without enablePatching, or outside
// workflow code, they reject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS, Error as DBOSErrors } from 'dbos-native';
import { freshDatabase, sleep, statusRow, steps } from './helpers/db';

let patchedCode = false;
let deprecated = false;

class Patched {
  @DBOS.step()
  static async work(): Promise<void> {}

  @DBOS.workflow()
  static async run(): Promise<string> {
    let patched = false;
    if (deprecated) patched = await DBOS.deprecatePatch('p1');
    else if (patchedCode) patched = await DBOS.patch('p1');
    await Patched.work();
    await DBOS.recv('go', 30);
    return patched ? 'new' : 'old';
  }
}

test('patch and deprecatePatch, new and old executions', async () => {
  const url = await freshDatabase('patching_test');
  DBOS.setConfig({ name: 'patch-app', systemDatabaseUrl: url, enablePatching: true });
  await DBOS.launch();
  try {
    assert.equal(DBOS.applicationVersion, 'PATCHING_ENABLED');
    await assert.rejects(DBOS.patch('p1'), /`DBOS.patch` must be called from a workflow/);

    // An execution of the old code, re-executed by the new code: the old branch.
    const old = await DBOS.startWorkflow(Patched, { workflowID: 'old-1' }).run();
    // The old execution must have recorded its step before it is stopped.
    while (!(await steps(url, 'old-1')).some((s) => s.function_name === 'work')) await sleep(10);
    await DBOS.cancelWorkflow(old.workflowID);
    await assert.rejects(old.getResult());
    patchedCode = true;
    const resumed = await DBOS.resumeWorkflow<string>('old-1');
    await DBOS.send('old-1', 'go', 'go');
    assert.equal(await resumed.getResult(), 'old');
    assert.deepEqual((await steps(url, 'old-1')).map((s) => s.function_name).slice(0, 1), ['work']);

    // A new execution records the marker and takes the new branch.
    const fresh = await DBOS.startWorkflow(Patched, { workflowID: 'new-1' }).run();
    await DBOS.send('new-1', 'go', 'go');
    assert.equal(await fresh.getResult(), 'new');
    assert.deepEqual((await steps(url, 'new-1')).map((s) => [s.function_id, s.function_name]).slice(0, 2), [
      [0, 'DBOS.patch-p1'],
      [1, 'work'],
    ]);

    // deprecatePatch: true, nothing written.
    deprecated = true;
    const dep = await DBOS.startWorkflow(Patched, { workflowID: 'dep-1' }).run();
    await DBOS.send('dep-1', 'go', 'go');
    assert.equal(await dep.getResult(), 'new');
    assert.deepEqual((await steps(url, 'dep-1')).map((s) => [s.function_id, s.function_name]).slice(0, 1), [[0, 'work']]);
    assert.equal((await statusRow(url, 'dep-1'))?.status, 'SUCCESS');
  } finally {
    await DBOS.shutdown();
  }
});

test('without enablePatching, patch rejects with a typed error', async () => {
  deprecated = false;
  patchedCode = true;
  const url = await freshDatabase('patching_off_test');
  DBOS.setConfig({ name: 'patch-app', systemDatabaseUrl: url });
  await DBOS.launch();
  try {
    const h = await DBOS.startWorkflow(Patched).run();
    await assert.rejects(h.getResult(), (e: unknown) => e instanceof DBOSErrors.DBOSInvalidWorkflowTransitionError && /Patching is not enabled/.test(e.message));
  } finally {
    await DBOS.shutdown();
  }
});
