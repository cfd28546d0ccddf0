// The first example (`npm start` now serves the shop): a durable onboarding workflow. Run it with
// `npm run example:onboarding` (no database: an embedded Postgres starts under ./.dbos). Kill it during the pause
// and start it again: the workflow resumes where it stopped. Run it after it finished: the recorded result comes
// back, no step re-runs.
import { DBOS } from 'dbos-native';

class Onboarding {
  @DBOS.step()
  static async createAccount(user: string): Promise<{ user: string; accountID: string }> {
    console.log(`  [step] creating an account for ${user}`);
    return { user, accountID: `acct-${user.toLowerCase()}` };
  }

  @DBOS.step({ retriesAllowed: true, maxAttempts: 3, intervalSeconds: 0.2 })
  static async sendWelcomeEmail(accountID: string): Promise<string> {
    console.log(`  [step] sending the welcome email for ${accountID}`);
    return `welcome-email-sent:${accountID}`;
  }

  @DBOS.workflow()
  static async onboard(user: string): Promise<string> {
    const account = await Onboarding.createAccount(user);
    console.log(`  [workflow ${DBOS.workflowID}] pausing for 2 seconds (a durable sleep: try Ctrl-C now)`);
    await DBOS.sleep(2000);
    const receipt = await Onboarding.sendWelcomeEmail(account.accountID);
    return `${account.user} is onboarded (${receipt})`;
  }
}

async function main(): Promise<void> {
  DBOS.setConfig({ name: 'dbos-native-example' });
  await DBOS.launch();
  const user = process.argv[2] ?? 'Alice';
  const handle = await DBOS.startWorkflow(Onboarding, { workflowID: `onboard-${user}` }).onboard(user);
  console.log(`Result: ${await handle.getResult()}`);
  const status = await handle.getStatus();
  console.log(`Workflow ${handle.workflowID}: ${status?.status}, recovery attempts ${status?.recoveryAttempts}`);
  await DBOS.shutdown();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
