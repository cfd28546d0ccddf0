// `npm run bench`: runs every scenario against dbos-native and against @dbos-inc/dbos-sdk, each in its own
// child process with its own database on one Postgres server, then prints one table and writes
// bench/results/latest.json.
//
// Server: the server of DBOS_SYSTEM_DATABASE_URL if set (databases bench_native_sys and bench_sdk_sys are
// dropped and re-created there), else a throwaway embedded Postgres (temp dir, free port) stopped at the end.
//
// Usage: npm run bench [-- [--sdk native|sdk]... [--only <scenario id>]... [--runs N] [--cpu-prof]]
//   --runs N     N rounds (1..9, default 1), the SDKs alternating (native, sdk, native, sdk, ...) so drift on a
//                noisy machine hits both alike, fresh databases each round; the table shows per-round medians
//   --cpu-prof   run the children with node --cpu-prof; profiles go to bench/results/cpu-prof/ (JS thread only)
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../dist/embedded-postgres';
import { ENV, errorText, type ChildReport } from './protocol';
import { scenarios } from './scenarios';
import { SDK_LABELS, type SdkId } from './sdk';
import { enablePgStatStatements } from './pgstats';
import { COMMIT_LIMIT_CLIENTS, measureCommitLimit, type CommitLimit } from './commit-limit';
import { summarize, type SdkSummary } from './medians';
import { buildPerOpRows, buildRows, renderMarkdown, renderNotes } from './table';

const DATABASES: Record<SdkId, string> = { native: 'bench_native_sys', sdk: 'bench_sdk_sys' };
const RESULTS_DIR = path.resolve(__dirname, '..', 'results');
const MAX_RUNS = 9;
const USAGE = 'npm run bench [-- [--sdk native|sdk]... [--only <id>]... [--runs N] [--cpu-prof] [--fsync]]';

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable URL>';
  }
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Args {
  sdks: SdkId[];
  only: string[];
  /** Rounds: each runs every selected SDK's child once. */
  runs: number;
  cpuProf: boolean;
  /** The embedded server flushes its commits to disk, as a production server does (default: fsync off). */
  fsync: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const sdks: SdkId[] = [];
  const only: string[] = [];
  let cpuProf = false;
  let fsync = false;
  let runs = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = argv[i + 1];
    if (a === '--cpu-prof') {
      cpuProf = true;
    } else if (a === '--fsync') {
      fsync = true;
    } else if (a === '--sdk' && (value === 'native' || value === 'sdk')) {
      sdks.push(value);
      i++;
    } else if (a === '--only' && value !== undefined && scenarios.some((s) => s.id === value)) {
      only.push(value);
      i++;
    } else if (a === '--runs' && value !== undefined && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_RUNS) {
      runs = Number(value);
      i++;
    } else {
      throw new Error(
        `bench: bad argument ${a}${value !== undefined ? ` ${value}` : ''}. Usage: ${USAGE} (--runs 1..${MAX_RUNS}); ` +
          `scenario ids: ${scenarios.map((s) => s.id).join(', ')}`,
      );
    }
  }
  return { sdks: sdks.length ? sdks : ['native', 'sdk'], only, runs, cpuProf, fsync };
}

let current: ChildProcess | undefined;
let interrupted: NodeJS.Signals | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    current?.kill('SIGKILL');
    return;
  }
  interrupted = signal;
  console.error(`\nbench: ${signal} received, stopping`);
  current?.kill('SIGTERM');
}

/** Runs one SDK's child to completion (or kills it after `capMs`); returns its exit code. */
function runChild(sdk: SdkId, env: NodeJS.ProcessEnv, capMs: number, nodeArgs: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(__dirname, 'child.js')], { env, stdio: 'inherit' });
    current = child;
    const timer = setTimeout(() => {
      console.error(`bench: the ${SDK_LABELS[sdk]} process ran past ${capMs} ms; killing it`);
      child.kill('SIGKILL');
    }, capMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      current = undefined;
      console.error(`bench: could not start the ${SDK_LABELS[sdk]} process: ${e.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
    });
  });
}

async function adminQuery<T>(adminUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  let embedded: { handle: EmbeddedPostgresHandle; dataDir: string } | undefined;
  let serverDesc: string;
  let adminUrl: string;
  const failures: string[] = [];
  /** Per round, each SDK's report (missing if its child left none). */
  const runs: Partial<Record<SdkId, ChildReport>>[] = [];
  try {
    const configured = process.env.DBOS_SYSTEM_DATABASE_URL;
    if (configured) {
      adminUrl = withDatabase(configured, 'postgres');
      serverDesc = `the server of DBOS_SYSTEM_DATABASE_URL (${redact(adminUrl)})`;
    } else {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-native-bench-pg-'));
      try {
        // Same settings as the test runner's throwaway server (fsync off): identical for both SDKs.
        const handle = await startEmbeddedPostgres({
          dataDir,
          port: await freePort(),
          ephemeral: true,
          postgresFlags: [
            '-c', 'max_connections=200', '-c', 'shared_preload_libraries=pg_stat_statements',
            // Durable commits, as in production: each commit waits for its flush, which is what group commits save.
            ...(args.fsync ? ['-c', 'fsync=on', '-c', 'full_page_writes=on'] : []),
          ],
        });
        embedded = { handle, dataDir };
        adminUrl = handle.url;
        serverDesc = `throwaway embedded Postgres on 127.0.0.1:${handle.port} (fsync ${args.fsync ? 'on' : 'off'})`;
      } catch (e) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
    const pgVersion = await adminQuery(adminUrl, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v);
    const statements = await enablePgStatStatements(adminUrl, embedded !== undefined);
    console.log(`bench: server ${serverDesc}, Postgres ${pgVersion}, pg_stat_statements ${statements ? 'on' : 'not available (no statement counts)'}`);

    // The raw commit rate first, on the idle server (a scratch database, dropped afterwards).
    let limit: CommitLimit | undefined;
    try {
      console.log('bench: measuring the commit limit (single-row INSERT transactions/s)');
      limit = await measureCommitLimit(adminUrl);
    } catch (e) {
      console.error(`bench: could not measure the commit limit: ${errorText(e)}`);
      failures.push('commit limit');
    }

    const order = scenarios.filter((s) => args.only.length === 0 || args.only.includes(s.id));
    const capMs = order.reduce((sum, s) => sum + s.timeCapMs, 0) + 150_000;
    // Round by round, the SDKs one after the other within each, so slow drift of the machine's load hits both alike.
    for (let round = 1; round <= args.runs && !interrupted; round++) {
      const reports: Partial<Record<SdkId, ChildReport>> = {};
      runs.push(reports);
      const inRound = args.runs > 1 ? ` (round ${round})` : '';
      for (const sdk of args.sdks) {
        if (interrupted) break;
        const db = DATABASES[sdk];
        // Fresh database per child; the SDK creates it at launch. The name is a constant, not user input.
        await adminQuery(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`));
        const out = path.join(os.tmpdir(), `dbos-bench-${process.pid}-${sdk}.json`);
        fs.rmSync(out, { force: true });
        console.log(`\nbench: ${args.runs > 1 ? `round ${round}/${args.runs}: ` : ''}${SDK_LABELS[sdk]} on database ${db}`);
        // One profile per child: the round in the name, so later rounds do not overwrite earlier ones.
        const profName = `${sdk}-${process.pid}${args.runs > 1 ? `-round${round}` : ''}.cpuprofile`;
        const code = await runChild(
          sdk,
          {
            ...process.env,
            [ENV.sdk]: sdk,
            [ENV.dbUrl]: withDatabase(adminUrl, db),
            [ENV.out]: out,
            [ENV.only]: args.only.join(','),
            ...(statements ? { [ENV.adminUrl]: adminUrl, [ENV.dbName]: db } : {}),
          },
          capMs,
          args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(RESULTS_DIR, 'cpu-prof')}`, `--cpu-prof-name=${profName}`] : [],
        );
        if (fs.existsSync(out)) {
          reports[sdk] = JSON.parse(fs.readFileSync(out, 'utf8')) as ChildReport;
          fs.rmSync(out, { force: true });
        }
        if (code !== 0) failures.push(`${SDK_LABELS[sdk]}${inRound} (exit ${code})`);
        for (const s of reports[sdk]?.scenarios ?? []) if (s.error) failures.push(`${SDK_LABELS[sdk]}: ${s.id}${inRound}`);
      }
    }

    if (interrupted) return 130; // no table, and latest.json is left as it was

    const ids = order.map((s) => s.id);
    const summaryOf = (sdk: SdkId): SdkSummary | undefined => (args.sdks.includes(sdk) ? summarize(ids, runs.map((r) => r[sdk])) : undefined);
    const medians = { native: summaryOf('native'), sdk: summaryOf('sdk') };
    const versionOf = (sdk: SdkId): string => runs.map((r) => r[sdk]?.packageVersion).find((v) => v !== undefined) ?? '-';
    const rows = buildRows(order, medians.native, medians.sdk, limit);
    const perOpRows = buildPerOpRows(order, medians.native, medians.sdk);
    const cpus = os.cpus();
    const header = [
      `date ${started.toISOString()}, node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${os.platform()}-${os.arch()}`,
      `Postgres ${pgVersion}: ${serverDesc}`,
      limit
        ? `commit limit: ${COMMIT_LIMIT_CLIENTS.map((c) => `${Math.round(limit.tps[c])} tps with ${c} client${c > 1 ? 's' : ''}`).join(', ')} ` +
          `(${limit.durationS} s each; ${limit.tool}); "% of limit" = ops/s × nominal commits/op (empty workflow 2, 10-step 12) / that tps at the same concurrency`
        : 'commit limit: not measured',
      `dbos-native ${versionOf('native')} vs @dbos-inc/dbos-sdk ${versionOf('sdk')}; each in its own process and database, run one after the other`,
    ];
    if (args.runs > 1) {
      header.push(
        `medians of ${args.runs} rounds (the SDKs alternating: native, sdk, native, sdk, …; databases re-created each round; ` +
          'commit limit measured once, before round 1): each cell is the median over the rounds, "runs a–b" their range, ' +
          '"2/3 runs" = it failed in the other rounds; ratios compare the medians',
      );
    }
    const table = renderMarkdown(rows, { scenario: 'scenario', native: 'dbos-native', sdk: '@dbos-inc/dbos-sdk', ratio: 'ratio' });
    const perOp = renderMarkdown(perOpRows, {
      scenario: 'cost per operation (whole scenario, warm-up included)',
      native: 'dbos-native',
      sdk: '@dbos-inc/dbos-sdk',
      ratio: 'ratio',
    });
    const notes = renderNotes(order.filter((s) => rows.some((r) => r.scenario.startsWith(s.title))));
    console.log(`\n${header.join('\n')}\n\n${table}\n${notes ? `${notes}\n` : ''}\n${perOp}\n`);

    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const resultsFile = path.join(RESULTS_DIR, 'latest.json');
    fs.writeFileSync(
      resultsFile,
      JSON.stringify(
        {
          date: started.toISOString(),
          node: process.version,
          cpus: cpus.length,
          cpuModel: cpus[0]?.model.trim(),
          platform: `${os.platform()}-${os.arch()}`,
          postgres: pgVersion,
          server: embedded ? 'embedded' : 'DBOS_SYSTEM_DATABASE_URL',
          commitLimit: limit,
          rounds: args.runs,
          // Every round's raw reports; the tables below are built from `medians`.
          runs: runs.map((reports, i) => ({ round: i + 1, reports })),
          medians,
          table: rows,
          perOperation: perOpRows,
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`bench: raw results in ${path.relative(process.cwd(), resultsFile)}`);
  } finally {
    if (embedded) {
      try {
        await embedded.handle.stop();
      } catch (e) {
        console.error(`bench: stopping the embedded Postgres failed: ${errorText(e)}`);
      }
      fs.rmSync(embedded.dataDir, { recursive: true, force: true });
    }
  }
  if (interrupted) return 130;
  if (failures.length) {
    console.error(`bench: FAILED: ${failures.join(', ')}`);
    return 1;
  }
  return 0;
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${errorText(e)}`);
    process.exit(1);
  },
);
