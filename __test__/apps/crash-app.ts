// A small app the crash tests run as a child process and SIGKILL at chosen points. It logs each step
// execution to $LOG so the test can count what ran, and with AWAIT=<id> prints that workflow's outcome.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

export class CrashApp {
  @DBOS.step()
  static async stepA(): Promise<string> {
    log('A');
    return 'a';
  }

  @DBOS.step()
  static async stepB(): Promise<string> {
    log('B-start');
    if (process.env.HANG === 'B') await hangForever();
    log('B-done');
    return 'b';
  }

  @DBOS.workflow()
  static async twoSteps(): Promise<string> {
    const a = await CrashApp.stepA();
    const b = await CrashApp.stepB();
    log('wf-done');
    return a + b;
  }

  @DBOS.workflow()
  static async sleeper(ms: number): Promise<string> {
    await DBOS.runStep(async () => log('before'), { name: 'before' });
    await DBOS.sleep(ms);
    await DBOS.runStep(async () => log('after'), { name: 'after' });
    return 'rested';
  }

  /** Many quick steps, each logged: a SIGKILL lands while checkpoints are still in flight. */
  @DBOS.workflow()
  static async manySteps(n: number): Promise<number> {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += await DBOS.runStep(
        async () => {
          log(`S${i}`);
          return i;
        },
        { name: 'quick' },
      );
    }
    return sum;
  }

  /** Started without an ID (the engine holds such starts back): logs its step, keyed by workflow ID. */
  @DBOS.workflow()
  static async unnamed(kind: number): Promise<number> {
    if (kind === 1) await new Promise((r) => setTimeout(r, 20));
    if (kind > 0) await DBOS.runStep(async () => log(`step ${DBOS.workflowID}`), { name: 'mark' });
    return kind;
  }

  @DBOS.workflow({ maxRecoveryAttempts: 1 })
  static async doomed(): Promise<string> {
    await DBOS.runStep(async () => log('doomed-step'), { name: 'doomedStep' });
    await hangForever();
    return 'never';
  }
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'crash-app', applicationVersion: 'crash-v1' });
  await DBOS.launch();
  log('launched');
  const id = process.env.WF_ID ?? 'crash-wf';
  const start = process.env.START;
  if (start === 'twoSteps') await DBOS.startWorkflow(CrashApp, { workflowID: id }).twoSteps();
  if (start === 'sleeper') await DBOS.startWorkflow(CrashApp, { workflowID: id }).sleeper(Number(process.env.SLEEP_MS));
  if (start === 'manySteps') await DBOS.startWorkflow(CrashApp, { workflowID: id }).manySteps(Number(process.env.STEPS));
    if (start === 'doomed') await DBOS.startWorkflow(CrashApp, { workflowID: id }).doomed();
  if (start === 'unnamed') {
    // Each ID is logged only once startWorkflow returned: the test holds the app to what it promised.
    for (let i = 0; ; i++) {
      const h = await DBOS.startWorkflow(CrashApp).unnamed(i % 3);
      log(`started ${h.workflowID}`);
    }
  }
  if (process.env.AWAIT) {
    let out: Record<string, unknown>;
    try {
      out = { ok: true, value: await DBOS.retrieveWorkflow(process.env.AWAIT).getResult() };
    } catch (e) {
      const err = e as Error & { dbosErrorCode?: number };
      out = { ok: false, name: err.constructor.name, code: err.dbosErrorCode, message: err.message };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    await DBOS.shutdown();
    return;
  }
  await hangForever();
}

runMain('crash-app', main);
