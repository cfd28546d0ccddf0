// An app for authed-recovery.test.ts: its workflow reports who it runs as (in its own code, in a step,
// and in a child it starts), so a run from the workflow's row (dequeued, recovered after a SIGKILL)
// can be checked against what the row records. HANG=1 hangs the workflow after its first step.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

export interface Who {
  user: string;
  roles: string[];
  assumedRole: string;
  inStep: string;
  child: string;
}

export class AuthedApp {
  @DBOS.workflow()
  static async childWho(): Promise<string> {
    return `${DBOS.authenticatedUser}:${DBOS.authenticatedRoles.join(',')}`;
  }

  @DBOS.workflow()
  static async who(): Promise<Who> {
    await DBOS.runStep(async () => log('started'), { name: 'started' });
    if (process.env.HANG === '1') await DBOS.runStep(() => hangForever(), { name: 'hang' });
    const inStep = await DBOS.runStep(async () => `${DBOS.authenticatedUser}:${DBOS.authenticatedRoles.join(',')}`, { name: 'inStep' });
    const child = await DBOS.startWorkflow(AuthedApp, { workflowID: `${DBOS.workflowID}-child` }).childWho();
    return { user: DBOS.authenticatedUser, roles: DBOS.authenticatedRoles, assumedRole: DBOS.assumedRole, inStep, child: await child.getResult() };
  }
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'authed-app', applicationVersion: 'authed-v1' });
  await DBOS.launch();
  await DBOS.registerQueue('authq');
  log('ready');
  if (process.env.START) {
    await DBOS.withAuthedContext('carol', ['r1', 'r2'], () => DBOS.startWorkflow(AuthedApp, { workflowID: process.env.START }).who());
  }
  await hangForever();
}

runMain('authed-app', main);
