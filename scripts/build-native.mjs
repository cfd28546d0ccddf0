// Builds the Rust addon from source and places it where ts/native.ts loads it (dbos_native.node).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const profile = process.env.DBOS_NATIVE_PROFILE === 'debug' ? 'debug' : 'release';
const args = ['build', '--lib'];
if (profile === 'release') args.push('--release');

const cargo = spawnSync('cargo', args, { cwd: root, stdio: 'inherit' });
if (cargo.error) {
  console.error(`dbos-native: cannot run cargo (${cargo.error.message}). Install a Rust toolchain: https://rustup.rs`);
  process.exit(1);
}
if (cargo.status !== 0) process.exit(cargo.status ?? 1);

const libName = { darwin: 'libdbos_native.dylib', win32: 'dbos_native.dll' }[process.platform] ?? 'libdbos_native.so';
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const built = join(targetDir, profile, libName);
if (!existsSync(built)) {
  console.error(`dbos-native: cargo finished but ${built} is missing`);
  process.exit(1);
}
copyFileSync(built, join(root, 'dbos_native.node'));
