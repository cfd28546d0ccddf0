// Who is asking: DBOS.withAuthedContext sets the authenticated user and roles for the code in its callback;
// workflows started there record them on their row (authenticated_user, authenticated_roles), and the
// workflow's own code and steps read them back through DBOS.authenticatedUser/authenticatedRoles/assumedRole.
import { contextStorage, currentContext, type DBOSContext } from './context';
import { executor } from './lifecycle';
import type { NewWorkflow } from './native';

export interface AuthContext {
  user: string;
  roles: string[];
  assumedRole: string;
}

/** The caller's identity: set by withAuthedContext, else that of the workflow whose code is running. */
export function currentAuth(): AuthContext | undefined {
  const ctx = currentContext();
  return ctx?.auth ?? ctx?.workflow?.auth;
}

/** The identity a workflow started with `row` runs as (what the row records). */
export function authOfRow(row: Pick<NewWorkflow, 'authenticatedUser' | 'authenticatedRoles'>): AuthContext {
  const roles: unknown = row.authenticatedRoles ? JSON.parse(row.authenticatedRoles) : [];
  return { user: row.authenticatedUser ?? '', roles: Array.isArray(roles) ? roles.map(String) : [], assumedRole: '' };
}

export async function withAuthedContext<R>(authedUser: string, authedRoles: string[], callback: () => Promise<R>): Promise<R> {
  executor('auth');
  const ctx: DBOSContext = { ...(currentContext() ?? {}), auth: { user: authedUser, roles: authedRoles, assumedRole: '' } };
  return contextStorage.run(ctx, callback);
}

/** As in the SDK, the caller name is neither recorded nor used. */
export async function withNamedContext<R>(_callerName: string, callback: () => Promise<R>): Promise<R> {
  executor('tracing');
  return contextStorage.run({ ...(currentContext() ?? {}) }, callback);
}
