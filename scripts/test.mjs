#!/usr/bin/env node
// The whole test suite: check for import cycles, lint and check the formatting (Biome, biome.jsonc), type-check the tests,
// run unit and end-to-end tests, then the VM suite (real LUKS and LVM in QEMU guests; see docs/VM-HARNESS.md).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

step(process.execPath, [join(root, 'scripts', 'check-cycles.mjs')]);
// The same check as `npm run lint`: lint errors, warnings and unformatted files all fail; nothing is written.
step(bin('biome'), ['ci', '--error-on-warnings']);
step(bin('tsc'), ['-p', 'test/tsconfig.json', '--noEmit']);
step(bin('vitest'), ['run', ...process.argv.slice(2)]);
step(bin('vitest'), ['run', '--config', 'vitest.vm.config.ts']);
