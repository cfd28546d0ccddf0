// DBOS.setAlertHandler: alerts are sent by DBOS Conductor, which dbos-native does not connect to, so a
// registered handler is never called (as with the SDK launched without Conductor). The SDK's checks apply.
import { DBOSError } from './error';
import { isInitialized } from './lifecycle';

export type AlertHandler = (name: string, message: string, metadata: Record<string, string>) => Promise<void>;

let alertHandler: AlertHandler | undefined;

export function setAlertHandler(handler: AlertHandler): void {
  if (isInitialized()) throw new DBOSError('Cannot set alert handler after DBOS.launch()');
  if (alertHandler) throw new DBOSError('Alert handler is already registered. Only one handler is allowed.');
  alertHandler = handler;
}
