// DBOS.withAuthedContext: the user and roles are visible inside the callback, recorded on the rows of the
// workflows started there (and their children), and read back by the workflow's code and steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DBOS } from 'dbos-native';
import { query } from './helpers/db';
import { launchedDatabase } from './helpers/scratch';

class Authed {
  @DBOS.step()
  static async whoInStep(): Promise<string> {
    return `${DBOS.authenticatedUser}:${DBOS.authenticatedRoles.join(',')}`;
  }

  @DBOS.workflow()
  static async child(): Promise<string> {
    return DBOS.authenticatedUser;
  }

  @DBOS.workflow()
  static async who(): Promise<string[]> {
    const child = await DBOS.startWorkflow(Authed, { workflowID: `${DBOS.workflowID}-child` }).child();
    return [DBOS.authenticatedUser, await Authed.whoInStep(), await child.getResult(), DBOS.assumedRole];
  }
}

const db = launchedDatabase('auth_context_test', { name: 'auth-app' });

test('outside any authed context: no user, no roles', () => {
  assert.equal(DBOS.authenticatedUser, '');
  assert.deepEqual(DBOS.authenticatedRoles, []);
  assert.equal(DBOS.assumedRole, '');
});

test('withAuthedContext: seen inside, recorded on the started workflow and its child, read back in its steps', async () => {
  const id = 'authed-1';
  const result = await DBOS.withAuthedContext('alice', ['admin', 'ops'], async () => {
    assert.equal(DBOS.authenticatedUser, 'alice');
    assert.deepEqual(DBOS.authenticatedRoles, ['admin', 'ops']);
    return DBOS.withNextWorkflowID(id, () => Authed.who());
  });
  assert.deepEqual(result, ['alice', 'alice:admin,ops', 'alice', '']);
  assert.equal(DBOS.authenticatedUser, '', 'the context ends with the callback');
  const rows = await query<{ workflow_uuid: string; authenticated_user: string; authenticated_roles: string }>(
    db.url,
    'SELECT workflow_uuid, authenticated_user, authenticated_roles FROM dbos.workflow_status WHERE workflow_uuid LIKE $1 ORDER BY workflow_uuid',
    [`${id}%`],
  );
  assert.deepEqual(
    rows.map((r) => [r.workflow_uuid, r.authenticated_user, JSON.parse(r.authenticated_roles)]),
    [
      [id, 'alice', ['admin', 'ops']],
      [`${id}-child`, 'alice', ['admin', 'ops']],
    ],
  );
});

test('explicit start params win over the authed context', async () => {
  const handle = await DBOS.withAuthedContext('alice', ['admin'], () => DBOS.startWorkflow(Authed, { authenticatedUser: 'bob', authenticatedRoles: [] }).child());
  assert.equal(await handle.getResult(), 'bob');
});

test('withAuthedContext and withNamedContext before launch reject (not throw)', async () => {
  await DBOS.shutdown();
  let p: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    p = DBOS.withAuthedContext('u', [], async () => 1);
  });
  await assert.rejects(p as Promise<unknown>, /must be called before running auth/);
  await assert.rejects(DBOS.withNamedContext('c', async () => 1), /must be called before running tracing/);
});
