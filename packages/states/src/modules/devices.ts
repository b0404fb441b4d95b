import { stat } from 'node:fs/promises';
import type { Changes, Plan, StateContext } from './types.js';

/** What a device path names now. `rdev` is the device number, to compare paths that are aliases. */
export type DeviceNode = { kind: 'block'; rdev: number } | { kind: 'missing' } | { kind: 'other' };

export async function deviceNode(path: string): Promise<DeviceNode> {
  try {
    const st = await stat(path);
    return st.isBlockDevice() ? { kind: 'block', rdev: st.rdev } : { kind: 'other' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
}

/** `major:minor` of a Linux dev_t, as lsblk and findmnt print it. */
export function majMin(rdev: number): string {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return `${major}:${minor}`;
}

const TAGGED = /^(UUID|LABEL|PARTUUID|PARTLABEL)=./;

/** True for `UUID=…`, `LABEL=…`, `PARTUUID=…`, `PARTLABEL=…`. */
export const isTaggedDevice = (spec: string): boolean => TAGGED.test(spec);

/** The device path for `spec`: a path as it is, `UUID=…`/`LABEL=…` looked up with blkid; undefined if no device carries the tag. */
export async function resolveDevice(ctx: StateContext, spec: string): Promise<string | undefined> {
  if (!isTaggedDevice(spec)) return spec;
  const r = await ctx.runner.run('blkid', ['-l', '-o', 'device', '-t', spec]);
  // blkid exits 2 when nothing matches.
  if (r.exitCode === 2 || (r.exitCode === 0 && r.stdout.trim() === '')) return undefined;
  if (r.exitCode !== 0) throw new Error(`blkid could not look up ${spec}: ${r.error ?? r.stderr}`);
  return r.stdout.trim().split('\n')[0];
}

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

export async function deviceUsage(ctx: StateContext, device: string): Promise<DeviceUsage> {
  const r = await ctx.runner.run('lsblk', ['--json', '--output', 'PATH,MOUNTPOINTS', device]);
  if (r.exitCode !== 0) throw new Error(`lsblk could not read ${device}: ${r.error ?? r.stderr}`);
  const node = (JSON.parse(r.stdout) as { blockdevices: LsblkNode[] }).blockdevices[0] ?? {};
  return {
    mountpoints: (node.mountpoints ?? []).filter((m): m is string => m !== null),
    holders: (node.children ?? []).map((c) => c.path ?? '?'),
  };
}

/** "mounted at /srv, held by /dev/mapper/data", or undefined if the device is unused. */
export function describeUsage(usage: DeviceUsage): string | undefined {
  const parts = [];
  if (usage.mountpoints.length > 0) parts.push(`mounted at ${usage.mountpoints.join(', ')}`);
  if (usage.holders.length > 0) parts.push(`in use by ${usage.holders.join(', ')}`);
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

/**
 * A condition that an earlier state in the run would bring about is not met (a device to be
 * created, a volume group to be emptied). In test mode that state has not run, so say what would
 * happen once it has, and what that assumes (`note`); in a real run it is the error `problem`.
 */
export function pending(ctx: StateContext, problem: string, would: string, changes: Changes, note = `${problem} yet; an earlier state must provide it`): Plan<never> {
  if (ctx.test) return { kind: 'change', comment: `${would} (${note})`, changes };
  return { kind: 'error', comment: `${problem[0]!.toUpperCase()}${problem.slice(1)}` };
}

/** 83886080 → "80 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

/** undefined if `path` is a block device; otherwise the plan to return (pending in test mode when it is missing). */
export async function unlessBlockDevice(ctx: StateContext, path: string, would: string, changes: Changes): Promise<Plan<never> | undefined> {
  const node = await deviceNode(path);
  if (node.kind === 'block') return undefined;
  if (node.kind === 'missing') return pending(ctx, `${path} does not exist`, would, changes);
  return { kind: 'error', comment: `${path} is not a block device` };
}
