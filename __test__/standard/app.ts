// Built by standard-decorators.test.ts WITHOUT experimentalDecorators: the TC39 decorator form.
import { DBOS } from 'dbos-native';

let stepRuns = 0;

class Greeter {
  @DBOS.step()
  static async shout(name: string): Promise<string> {
    stepRuns++;
    return name.toUpperCase();
  }

  @DBOS.workflow()
  static async greet(name: string): Promise<string> {
    return `hello ${await Greeter.shout(name)} from ${DBOS.workflowID}`;
  }
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'standard-decorators' });
  await DBOS.launch();
  const h = await DBOS.startWorkflow(Greeter, { workflowID: 'std-1' }).greet('ada');
  const again = await Greeter.greet('bob');
  const status = await h.getStatus();
  console.log(JSON.stringify({ result: await h.getResult(), again, stepRuns, name: status?.workflowName, cls: status?.workflowClassName }));
  await DBOS.shutdown();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
