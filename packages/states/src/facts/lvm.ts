import { commandFact, failure } from './fact.js';

/** One report row: field name → value, sizes in bytes without a suffix. */
export type LvmRow = Record<string, string>;

export type LvmCommand = 'pvs' | 'vgs' | 'lvs';

/**
 * One pvs/vgs/lvs report as rows of strings (`fields` comma-separated). A target that does not
 * exist is an empty report, not an error: that is what inspect asks about.
 */
export const lvmReport = commandFact(
  'lvm.report',
  (command: LvmCommand, fields: string, target: string) => [
    command,
    '--reportformat',
    'json',
    '--units',
    'b',
    '--nosuffix',
    '-o',
    fields,
    target,
  ],
  (out, command, _fields, target): LvmRow[] => {
    // LVM exits 5 for a target it does not find, and still prints an empty report.
    const absent = out.exitCode === 5 && /not found|Failed to find|No physical volume label/i.test(out.stderr);
    if (out.exitCode !== 0 && !absent) throw new Error(`${command} ${target} failed: ${failure(out)}`);
    const parsed = JSON.parse(out.stdout) as { report: Record<string, LvmRow[]>[] };
    return parsed.report[0]?.[command.slice(0, 2)] ?? [];
  },
);
