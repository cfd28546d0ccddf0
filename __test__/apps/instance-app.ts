// A crash-test app whose workflows are methods of ConfiguredInstances: two instances of one class, each
// with its own greeting. START=1 starts a workflow on each (one through startWorkflow(instance), one by
// a direct call) that hangs after its first step; AWAIT=<id,id> prints their outcomes and statuses.
// SKIP=<name> leaves that instance unconstructed, as code that no longer creates it would.
import { appendFileSync } from 'node:fs';
import { ConfiguredInstance, DBOS } from 'dbos-native';
import { hangForever, runMain } from './app-main';

function log(event: string): void {
  appendFileSync(process.env.LOG ?? '/dev/null', `${event} ${Date.now()}\n`);
}

class Greeter extends ConfiguredInstance {
  constructor(
    name: string,
    private readonly greeting: string,
  ) {
    super(name);
  }

  @DBOS.workflow()
  async greet(who: string): Promise<string> {
    await DBOS.runStep(async () => log(`first-${this.name}`), { name: 'first' });
    if (process.env.START) await hangForever();
    return `${this.greeting}, ${who} (from ${this.name})`;
  }
}

const greeters = new Map<string, Greeter>();
for (const [name, greeting] of [
  ['english', 'Hello'],
  ['french', 'Bonjour'],
]) {
  if (process.env.SKIP !== name) greeters.set(name, new Greeter(name, greeting));
}

function greeter(name: string): Greeter {
  const g = greeters.get(name);
  if (!g) throw new Error(`no greeter ${name}`);
  return g;
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'instance-app', applicationVersion: 'instance-v1' });
  await DBOS.launch();
  log('launched');
  if (process.env.START) {
    await DBOS.startWorkflow(greeter('english'), { workflowID: 'wf-english' }).greet('Ada');
    // A direct call awaits the (hanging) result: leave it running.
    void DBOS.withNextWorkflowID('wf-french', () => greeter('french').greet('Bob')).catch(() => undefined);
    await hangForever();
  }
  const out: Record<string, unknown> = {};
  for (const id of (process.env.AWAIT ?? '').split(',').filter(Boolean)) {
    const status = await DBOS.getWorkflowStatus(id);
    out[id] = { value: await DBOS.retrieveWorkflow(id).getResult(), configName: status?.workflowConfigName };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  await DBOS.shutdown();
}

runMain('instance-app', main);
