// Type-level guarantees: the documented DBOS signatures compile against our public types (and the same
// file compiles against the official SDK with only the import changed); nothing public is `any`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..', '..');
const typesDir = path.join(root, '__test__', 'types');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function runTsc(args: string[]): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

test('the documented signatures type-check against dbos-native, and no public type is any', () => {
  const r = runTsc(['-p', path.join(typesDir, 'tsconfig.json')]);
  assert.equal(r.output, '');
  assert.equal(r.code, 0);
});

test('the same usage file type-checks against @dbos-inc/dbos-sdk 5.3.0 with only the import changed', () => {
  const file = path.join(typesDir, `usage-sdk-${process.pid}.ts`);
  const source = readFileSync(path.join(typesDir, 'usage.ts'), 'utf8');
  assert.ok(source.includes("from 'dbos-native'"));
  writeFileSync(file, source.replace("from 'dbos-native'", "from '@dbos-inc/dbos-sdk'"));
  try {
    const r = runTsc([
      '--noEmit',
      '--strict',
      '--experimentalDecorators',
      '--target',
      'es2022',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--types',
      'node',
      file,
    ]);
    assert.equal(r.output, '');
    assert.equal(r.code, 0);
  } finally {
    rmSync(file, { force: true });
  }
});

test('a type error in user code is reported (the check can fail)', () => {
  const file = path.join(typesDir, `broken-${process.pid}.ts`);
  writeFileSync(file, "import { DBOS } from 'dbos-native';\nconst n: number = DBOS.workflowID;\nexport { n };\n");
  try {
    const r = runTsc(['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /not assignable to type 'number'/);
  } finally {
    rmSync(file, { force: true });
  }
});

test('the emitted declarations contain no `any` outside comments', () => {
  const dist = path.join(root, 'dist');
  const offenders: string[] = [];
  for (const f of readdirSync(dist).filter((n) => n.endsWith('.d.ts'))) {
    const code = readFileSync(path.join(dist, f), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    code.split('\n').forEach((line, i) => {
      if (/\bany\b/.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});
