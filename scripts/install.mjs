// The package's `install` script. In a git checkout (the Rust sources are there) it builds the addon from source, as
// `npm install` always did. In an installed package it only checks that a prebuilt binary loads (the optional
// dependency dbos-native-<platform>), and says how to build from source when none matches this platform.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (existsSync(join(root, 'Cargo.toml'))) {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
  process.exit(build.error ? 1 : (build.status ?? 1));
}

try {
  createRequire(join(root, 'package.json'))('./native/binding.js');
} catch (e) {
  console.error(
    `dbos-native: no prebuilt binary loads on ${process.platform}-${process.arch} (${e instanceof Error ? e.message : String(e)}).\n` +
      'Build from source instead: clone the repository and run `npm install` there (needs a Rust toolchain), ' +
      'then install that folder; or reinstall without --omit=optional if it was omitted.',
  );
  process.exit(1);
}
