// DBOS.registerLifecycleCallback: objects (event receivers, integrations) told when DBOS launches and shuts
// down, and asked to list their endpoints by DBOS.logRegisteredEndpoints. As in the SDK: `initialize` runs
// at the end of launch (after recovery started; a failure fails the launch), `destroy` at shutdown (a
// failure is logged as a warning and does not stop the others).
import { dbosLogger } from './logger';
import { isInitialized } from './lifecycle';

export interface DBOSLifecycleCallback {
  /** Called during DBOS.launch. */
  initialize?(): Promise<void>;
  /** Called at DBOS.shutdown, to close connections and free resources. */
  destroy?(): Promise<void>;
  /** Called by DBOS.logRegisteredEndpoints: log a list of this receiver's registrations. */
  logRegisteredEndpoints?(): void;
}

const listeners: DBOSLifecycleCallback[] = [];

export function registerLifecycleCallback(lcl: DBOSLifecycleCallback): void {
  if (!listeners.includes(lcl)) listeners.push(lcl);
}

export async function initializeLifecycleCallbacks(): Promise<void> {
  for (const lcl of listeners) await lcl.initialize?.();
}

export async function destroyLifecycleCallbacks(): Promise<void> {
  for (const lcl of listeners) {
    try {
      await lcl.destroy?.();
    } catch (e) {
      dbosLogger().warn(`Error destroying lifecycle listener: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Only while launched, as in the SDK. */
export function logRegisteredEndpoints(): void {
  if (!isInitialized()) return;
  for (const lcl of listeners) lcl.logRegisteredEndpoints?.();
}
