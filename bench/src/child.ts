// One SDK's benchmark process: registers every selected scenario's workflows, launches DBOS on its own
// database, runs the scenarios in order, writes a ChildReport to $BENCH_OUT and exits (always, by itself).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { StatementCounter } from './pgstats';
import { ENV, errorText, type ChildReport, type ScenarioResult } from './protocol';
import { now, withTimeout, type RunContext } from './scenario';
import { scenarios } from './scenarios';
import { SDK_LABELS, type BenchSdk, type SdkId } from './sdk';

const SHUTDOWN_TIMEOUT_MS = 20_000;

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (this file is started by bench/build/run.js)`);
  return v;
}

/** The version in the package.json above the package's entry point (its exports may hide package.json). */
function packageVersion(pkg: string): string {
  let dir = path.dirname(createRequire(__filename).resolve(pkg));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return json.version ?? 'unknown';
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

async function loadSdk(id: SdkId, url: string): Promise<BenchSdk> {
  // Only the SDK under test is loaded in this process (each package keeps a global DBOS singleton).
  if (id === 'native') return (await import('./sdks/native.js')).createSdk(url);
  return (await import('./sdks/official.js')).createSdk(url);
}

async function main(): Promise<number> {
  const sdkID = required(ENV.sdk);
  if (sdkID !== 'native' && sdkID !== 'sdk') throw new Error(`${ENV.sdk} must be native or sdk, not ${sdkID}`);
  const url = required(ENV.dbUrl);
  const out = required(ENV.out);
  const only = (process.env[ENV.only] ?? '').split(',').filter((s) => s.length > 0);
  const selected = only.length ? scenarios.filter((s) => only.includes(s.id)) : scenarios;
  const label = SDK_LABELS[sdkID];

  // Hard stop: whatever hangs, this process ends a while after the sum of the scenarios' caps.
  const capMs = selected.reduce((sum, s) => sum + s.timeCapMs, 0) + 90_000;
  setTimeout(() => {
    console.error(`[${label}] watchdog: still running after ${capMs} ms, exiting`);
    process.exit(3);
  }, capMs).unref();

  const report: ChildReport = {
    sdk: sdkID,
    label,
    packageVersion: packageVersion(sdkID === 'native' ? 'dbos-native' : '@dbos-inc/dbos-sdk'),
    launchMs: 0,
    scenarios: [],
  };
  const write = (): void => fs.writeFileSync(out, JSON.stringify(report, null, 2));
  let failed = false;

  const adminUrl = process.env[ENV.adminUrl];
  const counter = adminUrl ? await StatementCounter.connect(adminUrl, required(ENV.dbName)) : undefined;
  const serverCpu = await counter?.serverCpu();
  const sdk = await loadSdk(sdkID, url);
  const runs = selected.map((s) => ({ scenario: s, run: s.prepare(sdk) }));
  const t0 = now();
  try {
    await sdk.launch();
    report.launchMs = now() - t0;
    for (const { scenario, run } of runs) {
      const log = (m: string): void => console.log(`[${label}] ${m}`);
      log(`${scenario.id} ...`);
      const result: ScenarioResult = {
        id: scenario.id,
        title: scenario.title,
        note: scenario.note,
        metrics: [],
        samples: {},
        elapsedMs: 0,
        cpuUserMs: 0,
        cpuSystemMs: 0,
        ops: 0,
      };
      const ctx: RunContext = {
        sdk,
        deadline: now() + scenario.timeCapMs,
        log,
        recordSamples: (name, values) => {
          result.samples[name] = values.map((v) => Math.round(v * 1000) / 1000);
        },
        countOps: (n) => {
          result.ops += n;
        },
      };
      const stats0 = await counter?.snapshot();
      const xid0 = await counter?.nextXid();
      const cpu0 = process.cpuUsage();
      const serverCpu0 = serverCpu?.ms();
      const s0 = now();
      try {
        // The scenario stops sampling at its cap; this bounds the clean-up after it as well.
        result.metrics = await withTimeout(run(ctx), scenario.timeCapMs + 45_000, `scenario ${scenario.id}`);
      } catch (e) {
        failed = true;
        result.error = errorText(e);
        console.error(`[${label}] ${scenario.id} FAILED: ${result.error}`);
      }
      const cpu = process.cpuUsage(cpu0);
      if (serverCpu && serverCpu0 !== undefined) result.serverCpuMs = serverCpu.ms() - serverCpu0;
      result.elapsedMs = now() - s0;
      result.cpuUserMs = cpu.user / 1000;
      result.cpuSystemMs = cpu.system / 1000;
      if (counter && xid0 !== undefined) result.writeXacts = Number((await counter.nextXid()) - xid0);
      if (counter && stats0) result.statements = StatementCounter.delta(stats0, await counter.snapshot());
      report.scenarios.push(result);
      write();
      log(
        `${scenario.id}: ${result.metrics.map((m) => `${m.name} ${m.value.toFixed(2)} ${m.unit}`).join(', ') || 'error'} ` +
          `(${(result.elapsedMs / 1000).toFixed(1)} s)`,
      );
    }
  } catch (e) {
    failed = true;
    report.error = errorText(e);
    console.error(`[${label}] FAILED: ${report.error}`);
  } finally {
    try {
      await withTimeout(sdk.shutdown(), SHUTDOWN_TIMEOUT_MS, 'DBOS.shutdown()');
    } catch (e) {
      failed = true;
      report.error = (report.error ? report.error + '\n' : '') + errorText(e);
      console.error(`[${label}] shutdown FAILED: ${errorText(e)}`);
    }
    write();
    await counter?.close();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench child: ${errorText(e)}`);
    process.exit(1);
  },
);
