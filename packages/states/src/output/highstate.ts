import { paint as paintIf, type Color } from '@brine/common';
import { summarize, pyResult, type StateResults } from '../run/results.js';
import { nested } from './nested.js';

export interface HighstateFormat {
  /** ANSI colours, as on a terminal. */
  color: boolean;
  minionId: string;
  /** The run was in test mode: the summary counts states that would change. */
  test?: boolean;
}

/**
 * Salt's highstate output: one block per state in run order (green: fine, cyan:
 * changed, red: failed, yellow: would change), then the summary.
 */
export function formatHighstate(results: StateResults, fmt: HighstateFormat): string {
  const paint = (color: Color, text: string) => paintIf(color, text, fmt.color);
  const out: string[] = [paint('green', `${fmt.minionId}:`)];
  const entries = Object.entries(results).sort(([, a], [, b]) => a.__run_num__ - b.__run_num__);
  for (const [tag, r] of entries) {
    const [module, , , fun] = tag.split('_|-');
    const color = r.result === false ? 'red' : r.result === null ? 'yellow' : Object.keys(r.changes).length > 0 ? 'cyan' : 'green';
    const comment = r.comment.split('\n').join(`\n${' '.repeat(14)}`);
    const block = [
      '----------',
      `          ID: ${r.__id__}`,
      `    Function: ${module}.${fun}`,
      `        Name: ${r.name}`,
      `      Result: ${pyResult(r.result)}`,
      `     Comment: ${comment}`,
      `     Started: ${r.start_time}`,
      `    Duration: ${r.duration} ms`,
      '     Changes:',
      ...(Object.keys(r.changes).length > 0 ? nested(r.changes, 14) : []),
    ];
    out.push(paint(color, block.join('\n')));
  }
  const s = summarize(results);
  const changed = fmt.test ? `(unchanged=${s.wouldChange}, changed=${s.changed})` : `(changed=${s.changed})`;
  const runTime = s.durationMs >= 1000 ? `${(s.durationMs / 1000).toFixed(3)} s` : `${s.durationMs.toFixed(3)} ms`;
  out.push(
    '',
    paint('cyan', `Summary for ${fmt.minionId}`),
    paint('cyan', '------------'),
    `${paint('green', `Succeeded: ${s.succeeded}`)} ${paint('cyan', changed)}`,
    paint(s.failed > 0 ? 'red' : 'cyan', `Failed:    ${s.failed}`),
    paint('cyan', '------------'),
    paint('cyan', `Total states run:     ${s.total}`),
    paint('cyan', `Total run time: ${runTime.padStart(12)}`),
  );
  return out.join('\n') + '\n';
}

/** Salt's "Data failed to compile" block for render/compile problems. */
export function formatCompileErrors(problems: readonly string[], fmt: Pick<HighstateFormat, 'color' | 'minionId'>): string {
  const red = (t: string) => paintIf('red', t, fmt.color);
  return (
    [red(`${fmt.minionId}:`), red('    Data failed to compile:'), ...problems.map((p) => red(`----------\n    ${p}`))].join('\n') + '\n'
  );
}

/**
 * A state.apply job's return as `master apply` and `minion apply` print it: the
 * highstate, the compile errors of a run that never started, or the message of a
 * job that could not run at all.
 */
export function formatStateReturn(ret: unknown, fmt: HighstateFormat): string {
  if (Array.isArray(ret)) return formatCompileErrors(ret.map(String), fmt);
  if (ret !== null && typeof ret === 'object') return formatHighstate(ret as StateResults, fmt);
  return [`${fmt.minionId}:`, ...nested(ret, 4)].join('\n') + '\n';
}
