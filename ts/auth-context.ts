// Who is asking: DBOS.withAuthedContext sets the authenticated user and roles for the code in its callback;
// workflows started there record them on their row (authenticated_user, authenticated_roles), and the
// workflow's own code and steps read them back through DBOS.authenticatedUser/authenticatedRoles/assumedRole.
import { contextStorage, currentContext, type DBOSContext } from './context';
import { executor } from './lifecycle';

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

/** What a status row records of who started the workflow (roles as their stored JSON text). */
export interface RecordedAuth {
  authenticatedUser?: string | null;
  authenticatedRoles?: string | null;
  assumedRole?: string | null;
}

/**
 * The identity a workflow runs as: what its row records, whether it starts now or runs later from the
 * row (dequeued, recovered). Roles another process stored unreadably read as none rather than failing the run.
 */
export function authOfRow(row: RecordedAuth): AuthContext {
  let roles: unknown = [];
  try {
    if (row.authenticatedRoles) roles = JSON.parse(row.authenticatedRoles);
  } catch {
    roles = [];
  }
  return {
    user: row.authenticatedUser ?? '',
    roles: Array.isArray(roles) ? roles.map(String) : [],
    assumedRole: row.assumedRole ?? '',
  };
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
