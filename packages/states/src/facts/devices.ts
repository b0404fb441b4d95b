import type { FileStat } from '../host/fs.js';
import { commandFact } from './fact.js';

/** What a device path names now. `rdev` is the device number, to compare paths that are aliases. */
export type DeviceNode = { kind: 'block'; rdev: number } | { kind: 'missing' } | { kind: 'other' };

/** A device path's node from its `pathStat`. */
export const deviceNode = (st: FileStat | undefined): DeviceNode =>
  !st ? { kind: 'missing' } : st.type === 'block' ? { kind: 'block', rdev: st.rdev } : { kind: 'other' };

/** `major:minor` of a Linux dev_t, as lsblk and findmnt print it. */
export function majMin(rdev: number): string {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return `${major}:${minor}`;
}

const TAGGED = /^(UUID|LABEL|PARTUUID|PARTLABEL)=./;

/** True for `UUID=…`, `LABEL=…`, `PARTUUID=…`, `PARTLABEL=…`. */
export const isTaggedDevice = (spec: string): boolean => TAGGED.test(spec);

/** The device carrying a tag (`UUID=…`, `LABEL=…`), or undefined if none does. */
export const taggedDevice = commandFact(
  'blkid.device',
  (tag: string) => ['blkid', '-l', '-o', 'device', '-t', tag],
  (out, tag): string | undefined => {
    // blkid exits 2 when nothing matches.
    if (out.exitCode === 2 || (out.exitCode === 0 && out.stdout.trim() === '')) return undefined;
    if (out.exitCode !== 0) throw new Error(`blkid could not look up ${tag}: ${out.error ?? out.stderr}`);
    return out.stdout.trim().split('\n')[0];
  },
);

/** Where a device is mounted and which devices sit on it (LVs on a PV, a LUKS mapping on an LV). */
export interface DeviceUsage {
  mountpoints: string[];
  holders: string[];
}

interface LsblkNode {
  path?: string;
  mountpoints?: (string | null)[];
  children?: LsblkNode[];
}

export const deviceUsage = commandFact(
  'lsblk.usage',
  (device: string) => ['lsblk', '--json', '--output', 'PATH,MOUNTPOINTS', device],
  (out, device): DeviceUsage => {
    if (out.exitCode !== 0) throw new Error(`lsblk could not read ${device}: ${out.error ?? out.stderr}`);
    const node = (JSON.parse(out.stdout) as { blockdevices: LsblkNode[] }).blockdevices[0] ?? {};
    return {
      mountpoints: (node.mountpoints ?? []).filter((m): m is string => m !== null),
      holders: (node.children ?? []).map((c) => c.path ?? '?'),
    };
  },
);

/** lsblk's TYPE of a device (`disk`, `part`, `lvm`, `crypt`…); empty if lsblk cannot tell. */
export const deviceType = commandFact(
  'lsblk.type',
  (device: string) => ['lsblk', '--nodeps', '--noheadings', '--output', 'TYPE', device],
  (out): string => out.stdout.trim(),
);
