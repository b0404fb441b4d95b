#!/usr/bin/env node
// Bundles each CLI (master, minion) from its compiled dist/ into dist/bundle/, which its bin runs.
// Why: Node 20 resolves, reads and links every ES module file one by one; the minion's ~300
// files (yaml, commander, tweetnacl, the workspace packages) cost ~70 ms of a ~200 ms start on
// the boot's critical path, and every `master` one-shot command pays the same. Code splitting
// keeps the lazy imports lazy (the state engine loads on the first state run).
// Kept outside: zeromq (a native addon, loaded from its package), pino-pretty (loaded by
// path on a terminal only) and etcd3 (reads its .proto files beside its code at run time; a
// cluster master only loads it). libsodium-wrappers is outside too, with no entry here: the
// master requires its CommonJS build through createRequire (pillar-crypto.ts), which esbuild
// leaves alone, and only to seal or open a pillar value. The release packages
// (scripts/package.mjs) ship them as node_modules of their own next to this bundle.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Dependencies the bundle loads from node_modules at run time, not from itself. */
export const EXTERNAL = ['zeromq', 'pino-pretty', 'etcd3'];

/** The version `--version` prints: the package's, unless a release build sets another. */
export function packageVersion(name) {
  return JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')).version;
}

/**
 * Bundles one CLI from packages/<name>/dist/cli.js into `outdir`; `sourcemap: false` for the
 * release packages, which ship the code only.
 */
export async function bundleCli(name, outdir, version = packageVersion(name), { sourcemap = 'linked' } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    // Named cli so bin/<name>.js finds dist/bundle/cli.js.
    entryPoints: {
      cli: join(ROOT, 'packages', name, 'dist', 'cli', 'main.js'),
      // The master's handshake workers run this file, beside the chunk that starts them.
      ...(name === 'master' && { 'handshake-worker': join(ROOT, 'packages', name, 'dist', 'handshake-worker.js') }),
    },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // `--version` (packages/common/src/cli-main.ts): fixed at build time, no package.json read at start.
    define: { __BRINE_VERSION__: JSON.stringify(version) },
    // CommonJS dependencies (commander, pino) call require() for Node's built-ins.
    banner: { js: "import { createRequire as __brineRequire } from 'node:module'; const require = __brineRequire(import.meta.url);" },
    // Whitespace, comments and syntax only; names stay, so stack traces still name functions. An
    // idle minion holds its loaded chunks' source in its heap (0.6-0.9 MiB less of its own memory,
    // bench/footprint.mjs) and parses less at start. The linked maps (NODE_OPTIONS=--enable-source-maps)
    // give stack traces their source files and lines back.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of ['master', 'minion']) await bundleCli(name, join(ROOT, 'packages', name, 'dist', 'bundle'));
}
