#!/usr/bin/env node
// Installs dependencies and builds every package, so `npm run demo` and `npm test`
// work on a machine that has only Node and npm. Safe to re-run: both steps are incremental.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`setup: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const { packageManager } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmArgs = ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'];
if (existsSync(bin('pnpm'))) run(bin('pnpm'), pnpmArgs);
// No global pnpm on a fresh machine: fetch the pinned version once through npx.
else run('npx', ['-y', packageManager, ...pnpmArgs]);
run(bin('tsc'), ['-b']);
run(process.execPath, [join(root, 'scripts', 'bundle.mjs')]);
