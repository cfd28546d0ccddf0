// A stream writer and reader the stream tests run as child processes. START=streamer writes N values
// from workflow code (with a step between each, which also writes) and closes the stream; HANG_AT=i
// makes the step after value i hang, so the test can SIGKILL the writer mid-stream. READ=<id> prints
// each value of that workflow's stream as a JSON line, then `end`.
import { appendFileSync } from 'node:fs';
import { DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

export class StreamApp {
  @DBOS.step()
  static async between(i: number): Promise<void> {
    await DBOS.writeStream('s', `step-${i}`);
    log(`step-${i}`);
    if (process.env.HANG_AT === String(i)) await hangForever();
  }

  @DBOS.workflow()
  static async streamer(n: number): Promise<number> {
    for (let i = 0; i < n; i++) {
      await DBOS.writeStream('s', i);
      await StreamApp.between(i);
    }
    await DBOS.closeStream('s');
    return n;
  }
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'stream-app', applicationVersion: 'stream-v1', executorID: process.env.EXECUTOR ?? 'local' });
  await DBOS.launch();
  log('launched');
  if (process.env.START === 'streamer') {
    await DBOS.startWorkflow(StreamApp, { workflowID: process.env.WF_ID ?? 'stream-wf' }).streamer(Number(process.env.N ?? '10'));
  }
  if (process.env.READ) {
    for await (const v of DBOS.readStream(process.env.READ, process.env.KEY ?? 's')) {
      process.stdout.write(JSON.stringify(v) + '\n');
    }
    process.stdout.write('end\n');
    await DBOS.shutdown();
    return;
  }
  if (process.env.AWAIT) {
    await DBOS.retrieveWorkflow(process.env.AWAIT).getResult();
    await DBOS.shutdown();
    return;
  }
  await hangForever();
}

runMain('stream-app', main);
