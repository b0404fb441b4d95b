import { createLogger, useColor } from '@brine/common';
import { formatCompileErrors, formatHighstate } from '@brine/states';
import type { MinionConfig } from '../config.js';
import { runLocal } from '../state-run/local.js';
import { anyFailed } from '../state-run/run-tree.js';
import { APPLY_EXIT, applyRefused, type ApplyFlags, type ApplyTarget } from './apply-options.js';

/** `minion apply --local`: runs the states from this machine's roots and reports; returns the exit status. */
export async function applyLocal(sls: ApplyTarget, flags: ApplyFlags, config: MinionConfig): Promise<number> {
  if (flags.wait !== undefined) return applyRefused('--wait is for runs through the daemon, not --local ones');
  const outcome = await runLocal(config, {
    fileRoots: flags.fileRoot ?? config.file_roots,
    pillarRoots: flags.pillarRoot ?? config.pillar_roots,
    target: sls,
    test: flags.test === true,
    logger: createLogger({ name: 'minion', level: flags.logLevel, fd: 2 }),
  });
  if (outcome.kind === 'problems') {
    if (flags.json) process.stdout.write(`${JSON.stringify({ errors: outcome.problems }, null, 2)}\n`);
    process.stderr.write(formatCompileErrors(outcome.problems, { color: useColor(process.stderr), minionId: config.id }));
    // salt-call exits 1 for "Data failed to compile" too; 2 is for bad usage.
    return APPLY_EXIT.failed;
  }
  const { results } = outcome;
  const color = useColor(process.stdout) && !flags.json;
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(results, null, 2)}\n`
      : formatHighstate(results, { color, minionId: config.id, test: flags.test === true }),
  );
  return anyFailed(results) ? APPLY_EXIT.failed : APPLY_EXIT.ok;
}
