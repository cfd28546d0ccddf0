// Builds the Rust addon from source with @napi-rs/cli (`napi build --platform`), writing into native/:
//   dbos-native.<platform>.node   the addon (not committed; the published package gets it from dbos-native-<platform>)
//   binding.js, binding.d.ts      the generated loader and declarations (committed; ts/native.ts imports them and CI
//                                 fails when they drift from src/bindings)
// DBOS_NATIVE_PROFILE=debug builds without --release.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

let cli;
try {
  cli = join(dirname(require.resolve('@napi-rs/cli/package.json')), 'dist', 'cli.js');
} catch {
  console.error('dbos-native: building from source needs the dev dependencies (@napi-rs/cli): run `npm install` in a git checkout.');
  process.exit(1);
}
const probe = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (probe.error) {
  console.error(`dbos-native: cannot run cargo (${probe.error.message}). Install a Rust toolchain: https://rustup.rs`);
  process.exit(1);
}

const args = [cli, 'build', '--platform', '--no-const-enum', '--output-dir', 'native', '--js', 'binding.js', '--dts', 'binding.d.ts'];
if (process.env.DBOS_NATIVE_PROFILE !== 'debug') args.push('--release');
const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (build.error) {
  console.error(`dbos-native: napi build failed to start (${build.error.message})`);
  process.exit(1);
}
process.exit(build.status ?? 1);
