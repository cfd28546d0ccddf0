// API coverage against @dbos-inc/dbos-sdk 5.3.0: every public member of the SDK's DBOS, DBOSClient,
// WorkflowQueue, Debouncer and DebouncerClient, and every top-level runtime export, exists in dbos-native
// (at runtime and in its types), and the SDK's signatures' calls compile against our index.d.ts. The public
// surface is read from the SDK's own .d.ts with the TypeScript compiler, so a member the SDK adds or a member
// we drop fails here. Gaps are allowed only through ts/exclusions.ts (documented in the README) or NOT_YET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { API_EXCLUSIONS, API_NOTES } from '../ts/exclusions';
import * as ours from '../ts/index';
import { WorkflowQueue as OurWorkflowQueue } from '../ts/wfqueue';

const root = path.join(__dirname, '..', '..', '..');
const sdkDir = path.join(root, 'node_modules', '@dbos-inc', 'dbos-sdk', 'dist', 'src');

// Members issue 15 has not built yet. This list only shrinks: the test also fails on an entry that has landed.
const NOT_YET: ReadonlySet<string> = new Set([
  // the rest of the surface
]);

const CLASSES = ['DBOS', 'DBOSClient', 'WorkflowQueue', 'Debouncer', 'DebouncerClient'] as const;
type ClassName = (typeof CLASSES)[number];

interface Member {
  key: string; // `Class.member` or a top-level export name
  cls?: ClassName;
  name: string;
  isStatic: boolean;
}

function isPublic(symbol: ts.Symbol): boolean {
  if (symbol.name.startsWith('#') || symbol.name.startsWith('__')) return false;
  return (symbol.declarations ?? []).every(
    (d) => (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0,
  );
}

/** The SDK's public surface, read from its index.d.ts: runtime exports and the five classes' members. */
function sdkSurface(): { values: string[]; members: Member[] } {
  const program = ts.createProgram([path.join(sdkDir, 'index.d.ts')], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: ['node'],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(path.join(sdkDir, 'index.d.ts'));
  assert.ok(file, 'the SDK index.d.ts is readable');
  const moduleSymbol = checker.getSymbolAtLocation(file);
  assert.ok(moduleSymbol);
  const values: string[] = [];
  const members: Member[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const typeOnly = (exported.declarations ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const isValue = (target.flags & ts.SymbolFlags.Value) !== 0;
    if (isValue && !typeOnly) values.push(exported.name);
    const cls = CLASSES.find((c) => c === exported.name);
    if (!cls || !(target.flags & ts.SymbolFlags.Class)) continue;
    const decl = target.valueDeclaration ?? target.declarations?.[0];
    assert.ok(decl);
    const staticSide = checker.getTypeOfSymbolAtLocation(target, decl);
    for (const p of checker.getPropertiesOfType(staticSide)) {
      if (p.name !== 'prototype' && isPublic(p)) members.push({ key: `${cls}.${p.name}`, cls, name: p.name, isStatic: true });
    }
    for (const p of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target))) {
      if (isPublic(p)) members.push({ key: `${cls}.${p.name}`, cls, name: p.name, isStatic: false });
    }
  }
  return { values, members };
}

// Runtime classes of both packages, including WorkflowQueue (a type-only export in both, so from its module).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require(path.join(sdkDir, 'index.js')) as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdkQueueModule = require(path.join(sdkDir, 'wfqueue.js')) as Record<string, unknown>;
const ourValues = ours as unknown as Record<string, unknown>;
const runtime: Record<'sdk' | 'ours', Partial<Record<ClassName, unknown>>> = {
  sdk: { ...pick(sdk), WorkflowQueue: sdkQueueModule.WorkflowQueue },
  ours: { ...pick(ourValues), WorkflowQueue: OurWorkflowQueue },
};
function pick(m: Record<string, unknown>): Partial<Record<ClassName, unknown>> {
  return Object.fromEntries(CLASSES.map((c) => [c, m[c]]));
}

/** Where a member lives at runtime: a static on the class, a method on its prototype, or undefined (a field). */
function runtimeMember(side: 'sdk' | 'ours', m: Member): 'present' | 'missing' | 'field' {
  const cls = runtime[side][m.cls as ClassName];
  if (typeof cls !== 'function') return 'missing';
  if (m.isStatic) return m.name in cls ? 'present' : 'missing';
  const proto = (cls as { prototype: object }).prototype;
  return m.name in proto ? 'present' : 'field';
}

const surface = sdkSurface();
// A member is skipped if it, or its whole class, is excluded or not yet there.
const skipped = (key: string): boolean => [key, key.split('.')[0]].some((k) => k in API_EXCLUSIONS || NOT_YET.has(k));

test('the SDK surface is read (the check is not vacuous)', () => {
  assert.ok(surface.values.includes('DBOS') && surface.values.includes('StatusString'), surface.values.join(' '));
  assert.ok(!surface.values.includes('WorkflowQueue'), 'WorkflowQueue is a type-only export');
  const keys = surface.members.map((m) => m.key);
  for (const k of ['DBOS.launch', 'DBOS.logger', 'DBOSClient.enqueue', 'DBOSClient.create', 'WorkflowQueue.setRateLimit', 'WorkflowQueue.name', 'Debouncer.debounce', 'DebouncerClient.client']) {
    assert.ok(keys.includes(k), `${k} in ${keys.length} members`);
  }
  assert.ok(!keys.includes('DBOSClient.systemDatabase'), 'private members are not public surface');
});

test('every top-level runtime export of the SDK exists in dbos-native', () => {
  const missing = surface.values.filter((v) => !skipped(v) && ourValues[v] === undefined);
  assert.deepEqual(missing, []);
});

test('every public member of DBOS, DBOSClient, WorkflowQueue, Debouncer and DebouncerClient exists at runtime', () => {
  const missing = surface.members.filter((m) => !skipped(m.key) && runtimeMember('sdk', m) === 'present' && runtimeMember('ours', m) !== 'present');
  assert.deepEqual(missing.map((m) => m.key), []);
});

test('the exclusion and not-yet lists name only real SDK members that we indeed lack', () => {
  const known = new Set([...surface.values, ...surface.members.map((m) => m.key)]);
  const stale = [...Object.keys(API_EXCLUSIONS), ...NOT_YET].filter((k) => !known.has(k));
  assert.deepEqual(stale, [], 'listed but not in the SDK');
  const landed = [...NOT_YET].filter((k) => {
    const m = surface.members.find((x) => x.key === k);
    return m ? runtimeMember('ours', m) === 'present' : ourValues[k] !== undefined;
  });
  assert.deepEqual(landed, [], 'landed: remove from NOT_YET');
});

test('the README lists every exclusion', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  assert.deepEqual(Object.keys(API_EXCLUSIONS).filter((k) => !readme.includes(`\`${k}\``)), []);
});

// --- rest (the README's API table)
// The README's API table is generated from the surface read above, so it lists every member this test knows and
// cannot drift: the test fails if the README's copy differs. `DBOS_UPDATE_API_TABLE=1` rewrites it.
const TABLE_BEGIN = '<!-- api-table:begin (generated by __test__/api-coverage.test.ts; DBOS_UPDATE_API_TABLE=1 rewrites it) -->';
const TABLE_END = '<!-- api-table:end -->';

function apiStatus(key: string): string {
  if (key in API_EXCLUSIONS) return `excluded: ${API_EXCLUSIONS[key]}`;
  if ([key, key.split('.')[0]].some((k) => NOT_YET.has(k))) return 'in progress';
  const note = API_NOTES[key];
  if (note?.startsWith('Conductor-only')) return note;
  return note ? `supported (${note})` : 'supported';
}

function apiTable(): string {
  const exports = [...new Set(surface.values)].sort();
  const order = (m: Member) => `${CLASSES.indexOf(m.cls as ClassName)}${m.isStatic ? 0 : 1}${m.name}`;
  const members = [...new Map(surface.members.map((m) => [m.key, m])).values()].sort((a, b) => order(a).localeCompare(order(b)));
  const rows = [
    ...exports.map((v) => `| \`${v}\` | top-level export | ${apiStatus(v)} |`),
    ...members.map((m) => `| \`${m.key}\` | ${m.isStatic ? 'static' : 'instance'} | ${apiStatus(m.key)} |`),
  ];
  return [TABLE_BEGIN, '| Member | Kind | Status |', '|---|---|---|', ...rows, TABLE_END].join('\n');
}

test("the README's API table lists every member, with its status", () => {
  const file = path.join(root, 'README.md');
  const readme = readFileSync(file, 'utf8');
  const [start, end] = [readme.indexOf(TABLE_BEGIN), readme.indexOf(TABLE_END)];
  assert.ok(start >= 0 && end > start, 'the README has the API table markers');
  const current = readme.slice(start, end + TABLE_END.length);
  const table = apiTable();
  if (process.env.DBOS_UPDATE_API_TABLE === '1' && current !== table) writeFileSync(file, readme.replace(current, () => table));
  else assert.equal(current, table, 'the README API table is stale: run this test with DBOS_UPDATE_API_TABLE=1');
  for (const key of [...surface.values, ...surface.members.map((m) => m.key)]) assert.ok(table.includes(`| \`${key}\` |`), key);
});

// Members whose generic parameter the check cannot compare: it erases `T` to its constraint, the SDK's is
// `(...args: any[]) => Promise<any>` and ours (no `any` in public types) `(...args: never[]) => Promise<unknown>`;
// called without a type argument both accept any arguments (ours through its default), as usage.ts checks.
const GENERIC_ERASURE: ReadonlySet<string> = new Set(['DBOSClient.enqueue', 'DBOSClient.enqueueInTransaction']);

// The type-level half: a generated file that, for every member, (a) indexes our type with the member's name
// (a missing field or method fails) and (b) for functions checks that every argument list the SDK's
// signature accepts is accepted by ours (constructors too).
function signatureChecks(): string {
  const lines = [
    "import * as Sdk from '@dbos-inc/dbos-sdk';",
    "import * as Ours from 'dbos-native';",
    "import type { WorkflowQueue as SdkQueue } from '@dbos-inc/dbos-sdk';",
    "import type { WorkflowQueue as OurQueue } from 'dbos-native';",
    '// Every argument list the SDK accepts (A) is one ours accepts (B); non-functions only need to exist.',
    'type Accepts<S, O> = S extends (...a: infer A) => unknown ? (O extends (...b: infer B) => unknown ? (A extends B ? true : false) : false) : true;',
    'type CtorAccepts<S, O> = S extends abstract new (...a: infer A) => unknown ? (O extends abstract new (...b: infer B) => unknown ? (A extends B ? true : false) : false) : true;',
  ];
  const typeOf: Record<ClassName, { sdkStatic: string; sdkInstance: string; ourStatic: string; ourInstance: string }> = {
    DBOS: { sdkStatic: 'typeof Sdk.DBOS', sdkInstance: 'Sdk.DBOS', ourStatic: 'typeof Ours.DBOS', ourInstance: 'Ours.DBOS' },
    DBOSClient: { sdkStatic: 'typeof Sdk.DBOSClient', sdkInstance: 'Sdk.DBOSClient', ourStatic: 'typeof Ours.DBOSClient', ourInstance: 'Ours.DBOSClient' },
    WorkflowQueue: { sdkStatic: 'never', sdkInstance: 'SdkQueue', ourStatic: 'never', ourInstance: 'OurQueue' },
    Debouncer: { sdkStatic: 'typeof Sdk.Debouncer', sdkInstance: 'Sdk.Debouncer<unknown[], unknown>', ourStatic: 'typeof Ours.Debouncer', ourInstance: 'Ours.Debouncer<unknown[], unknown>' },
    DebouncerClient: { sdkStatic: 'typeof Sdk.DebouncerClient', sdkInstance: 'Sdk.DebouncerClient', ourStatic: 'typeof Ours.DebouncerClient', ourInstance: 'Ours.DebouncerClient' },
  };
  for (const c of CLASSES) {
    if (c === 'WorkflowQueue' || skipped(c)) continue;
    lines.push(`export const ctor_${c}: CtorAccepts<${typeOf[c].sdkStatic}, ${typeOf[c].ourStatic}> = true; // new ${c}`);
  }
  for (const m of surface.members) {
    const c = m.cls as ClassName;
    if (skipped(m.key)) continue;
    const t = typeOf[c];
    const [s, o] = m.isStatic ? [t.sdkStatic, t.ourStatic] : [t.sdkInstance, t.ourInstance];
    if (GENERIC_ERASURE.has(m.key)) continue;
    const id = `${c}_${m.isStatic ? 's' : 'i'}_${m.name}`;
    lines.push(`export const ${id}: Accepts<(${s})['${m.name}'], (${o})['${m.name}']> = true; // ${m.key}`);
  }
  return `${lines.join('\n')}\n`;
}

test("the SDK's signatures accept the same calls against our index.d.ts (tsc)", () => {
  const file = path.join(root, '__test__', 'types', `api-signatures-${process.pid}.ts`);
  const source = signatureChecks();
  writeFileSync(file, source);
  try {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--experimentalDecorators', '--skipLibCheck', '--target', 'es2022', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', file],
      { cwd: root, encoding: 'utf8' },
    );
    // Name the member behind each reported line (its key is the line's trailing comment).
    const lines = source.split('\n');
    const report = `${r.stdout}${r.stderr}`.replace(/\((\d+),\d+\)/g, (at: string, n: string) => `${at} [${lines[Number(n) - 1]?.split('// ')[1] ?? ''}]`);
    assert.equal(report, '');
    assert.equal(r.status, 0);
  } finally {
    rmSync(file, { force: true });
  }
});
