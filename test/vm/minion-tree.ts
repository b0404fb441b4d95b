// What VM tests of state modules share: a minion config with its state and pillar trees on the
// host (the guest sees the host's files under its overlay), and the shell function that runs the
// real CLI, `minion apply --local`, in the guest.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * For a test that boots one VM and runs `minion apply` several times in it: each run starts Node
 * under TCG (about 10 s), so such a test needs more than the suite's 240 s when the machine is busy.
 */
export const VM_TEST_TIMEOUT = 480_000;

/**
 * Writes `files` (paths relative to `dir`, e.g. `states/storage.sls`, `pillar/top.sls`) and a
 * minion config using `dir/states` and `dir/pillar`; returns the config's path.
 */
export function minionTree(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  mkdirSync(join(dir, 'states'), { recursive: true });
  mkdirSync(join(dir, 'pillar'), { recursive: true });
  const config = join(dir, 'minion.yml');
  writeFileSync(config, `id: vm-minion\nfile_roots: [${join(dir, 'states')}]\npillar_roots: [${join(dir, 'pillar')}]\n`);
  return config;
}

/**
 * Guest shell prelude: `apply ARGS…` runs `minion apply --local -c $CFG ARGS…` (`CFG=other apply …`
 * for another config); `$OUT` is the shared output folder.
 */
export const applyPrelude = (config: string, out: string): string =>
  `set -u
OUT=${out}
CFG=${config}
apply() { ${ROOT}/node_modules/.bin/minion apply --local -c "$CFG" "$@"; }
`;

/** A file the guest wrote to the shared output folder. */
export const readOut = (out: string, name: string): string => readFileSync(join(out, name), 'utf8');

/** The `--json` results of a run the guest saved, by state ID. */
export function resultsById(
  out: string,
  name: string,
): Record<string, { result: boolean | null; comment: string; changes: Record<string, unknown> }> {
  const results = JSON.parse(readOut(out, name)) as Record<
    string,
    { __id__: string; result: boolean | null; comment: string; changes: Record<string, unknown> }
  >;
  return Object.fromEntries(Object.values(results).map((r) => [r.__id__, r]));
}
