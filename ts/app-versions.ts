// Application versions, shared by DBOS and DBOSClient: listed and promoted as the SDK does, scoped to the caller's
// application (plus unclaimed versions; a caller with no application sees all).
import { DBOSError, DBOSInitializationError } from './error';
import type { Engine } from './native';
import { describe, requireString } from './validation';

/** A registered application version (the SDK's `VersionInfo`). */
export interface VersionInfo {
  versionId: string;
  versionName: string;
  versionTimestamp: number;
  createdAt: number;
  applicationName?: string;
}

/** Who asks: the engine and the application it acts for ('' or undefined: none). */
export interface VersionOwner {
  engine: Engine;
  appName: string | undefined;
}

function scope(by: VersionOwner): string[] {
  return by.appName ? [by.appName] : [];
}

function toInfo(r: Awaited<ReturnType<Engine['listApplicationVersions']>>[number]): VersionInfo {
  return {
    versionId: r.versionId,
    versionName: r.versionName,
    versionTimestamp: r.versionTimestamp,
    createdAt: r.createdAt,
    applicationName: r.applicationName ?? undefined,
  };
}

/** The caller's versions and unclaimed ones, latest first. */
export async function listApplicationVersions(by: VersionOwner): Promise<VersionInfo[]> {
  return (await by.engine.listApplicationVersions(scope(by), null)).map(toInfo);
}

/** The latest of them; `DBOSInitializationError` if there is none (the SDK's). */
export async function getLatestApplicationVersion(by: VersionOwner): Promise<VersionInfo> {
  const [latest] = await by.engine.listApplicationVersions(scope(by), 1);
  if (!latest) throw new DBOSInitializationError('No application versions found');
  return toInfo(latest);
}

/** Makes `versionName` the latest, acting as `options.applicationName` or the caller's application. */
export async function setLatestApplicationVersion(by: VersionOwner, versionName: string, options: { applicationName?: string } | undefined): Promise<void> {
  const name = requireString('versionName', versionName);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new DBOSError(`Invalid setLatestApplicationVersion options ${describe(options)}: it must be an object`);
  }
  const owner = options?.applicationName ?? by.appName;
  if (owner !== undefined && owner !== null) requireString('applicationName', owner, true);
  await by.engine.setLatestApplicationVersion(name, owner ? owner : null);
}
