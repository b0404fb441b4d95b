import { normalize } from 'node:path';
import { commandFact, failure, type Fact } from './fact.js';

/** One mounted file system, as findmnt lists it. */
export interface MountEntry {
  target: string;
  source: string;
  fstype: string;
  options: string;
  'maj:min': string;
}

/** Every mount, in mount order (a later mount on the same target hides the earlier one). */
export const mounts = commandFact(
  'findmnt.mounts',
  () => ['findmnt', '--list', '--json', '--output', 'TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN'],
  (out): MountEntry[] => {
    if (out.exitCode !== 0) throw new Error(`findmnt failed: ${failure(out)}`);
    return (JSON.parse(out.stdout) as { filesystems: MountEntry[] }).filesystems;
  },
);

/** The mount that is visible at `target`. */
export const topMountAt = (all: readonly MountEntry[], target: string): MountEntry | undefined =>
  all.filter((m) => m.target === target).at(-1);

/** An fstab's lines, without the final newline; none if the file does not exist. */
export const fstabLines: Fact<[path: string], string[], string | undefined> = {
  name: 'fstab.lines',
  read: async (host, path) => (await host.fs.readFile(path))?.toString('utf8'),
  parse: (text) => (text === undefined || text === '' ? [] : text.replace(/\n$/, '').split('\n')),
};

/** fstab escapes white space and backslashes in its fields as octal. */
export const fstabEscape = (field: string): string =>
  field.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
const fstabUnescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** Index of the fstab line that mounts `target`, or -1. */
export function fstabIndex(lines: readonly string[], target: string): number {
  return lines.findIndex((line) => {
    const fields = line.trim().split(/\s+/);
    return !line.trim().startsWith('#') && fields.length >= 2 && normalize(fstabUnescape(fields[1]!)) === target;
  });
}
