// What the test apps share: a way to stay alive until the test kills them, and how a failure is reported.

/** Never settles, and keeps the process alive (a pending promise alone would not). */
export const hangForever = (): Promise<never> => new Promise<never>(() => setInterval(() => undefined, 1 << 30));

/** Runs the app's `main`; if it fails, the stack goes to stderr (the tests show it) and the process exits 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    process.stderr.write(`${name} failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
