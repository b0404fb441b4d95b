// What the storage modules (lvm, luks, cryptdev, blockdev, mount) share: device lookups through
// facts, the wording of plans that wait for an earlier state, and the one gate in front of every
// command that writes a new format onto a device (pvcreate, vgcreate/vgextend of a new PV,
// luksFormat, mkfs): a device that holds any signature (file system, LVM, LUKS, partition table,
// RAID…) is refused unless the state says force: true.
import { deviceNode, deviceUsage, isTaggedDevice, taggedDevice, type DeviceNode, type DeviceUsage } from '../facts/devices.js';
import { pathStat } from '../facts/files.js';
import { describeSignatures, signatures, type Signature } from '../facts/signatures.js';
import type { Changes, ForecastPlan, StateContext } from './types.js';

/** What `path` names now. */
export const nodeAt = async (ctx: StateContext, path: string): Promise<DeviceNode> => deviceNode(await ctx.facts.get(pathStat, path));

/** The device path for `spec`: a path as it is, `UUID=…`/`LABEL=…` looked up with blkid; undefined if no device carries the tag. */
export async function resolveDevice(ctx: StateContext, spec: string): Promise<string | undefined> {
  return isTaggedDevice(spec) ? ctx.facts.get(taggedDevice, spec) : spec;
}

/** "mounted at /srv, held by /dev/mapper/data", or undefined if the device is unused. */
export function describeUsage(usage: DeviceUsage): string | undefined {
  const parts = [];
  if (usage.mountpoints.length > 0) parts.push(`mounted at ${usage.mountpoints.join(', ')}`);
  if (usage.holders.length > 0) parts.push(`in use by ${usage.holders.join(', ')}`);
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

/** The plan of a state whose condition is not met yet: a forecast in test mode, else an error. */
type Waiting = ForecastPlan | { kind: 'error'; comment: string };

/**
 * A condition that an earlier state in the run would bring about is not met (a device to be
 * created, a volume group to be emptied). In test mode that state has not run, so say what would
 * happen once it has, and what that assumes (`note`): a forecast, which apply never gets; in a
 * real run it is the error `problem`.
 */
export function pending(
  ctx: StateContext,
  problem: string,
  would: string,
  changes: Changes,
  note = `${problem} yet; an earlier state must provide it`,
): Waiting {
  if (ctx.test) return { kind: 'change', comment: `${would} (${note})`, changes, forecast: true };
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
export async function unlessBlockDevice(
  ctx: StateContext,
  path: string,
  would: string,
  changes: Changes,
): Promise<Waiting | { kind: 'error'; comment: string } | undefined> {
  const node = await nodeAt(ctx, path);
  if (node.kind === 'block') return undefined;
  if (node.kind === 'missing') return pending(ctx, `${path} does not exist`, would, changes);
  return { kind: 'error', comment: `${path} is not a block device` };
}

// ---- the signature gate

/** Whether a create command may write to the device, and what it would destroy. */
export type Clearance = { ok: true; destroy: Signature[] } | { ok: false; comment: string };

/**
 * May `action` write to `device`? `action` words the command for a device label, e.g.
 * `(d) => \`format ${d} as LUKS2\``. A device in use is refused even with force. `probed`: the
 * device's signatures if the caller has just read them.
 */
export async function clearance(
  ctx: StateContext,
  device: string,
  force: boolean,
  action: (device: string) => string,
  probed?: readonly Signature[],
): Promise<Clearance> {
  const [found, usage] = await Promise.all([probed ?? ctx.facts.get(signatures, device), ctx.facts.get(deviceUsage, device)]);
  const busy = describeUsage(usage);
  if (busy) return { ok: false, comment: `Refusing to ${action(device)}: it is ${busy}` };
  if (found.length === 0) return { ok: true, destroy: [] };
  if (!force)
    return { ok: false, comment: `Refusing to ${action(device)}: it holds ${describeSignatures(found)}; set force: true to destroy it` };
  return { ok: true, destroy: [...found] };
}

/** The `destroyed` entry of a state's changes, if it destroys anything. */
export const destroyedChange = (destroy: readonly Signature[]): { destroyed?: string } =>
  destroy.length > 0 ? { destroyed: describeSignatures(destroy) } : {};

/** The test-mode sentence for a cleared device: "Would format /dev/vdb (no signature found) as LUKS2". */
export function wouldCreate(device: string, destroy: readonly Signature[], action: (device: string) => string): string {
  if (destroy.length === 0) return `Would ${action(`${device} (no signature found)`)}`;
  return `Would destroy ${describeSignatures(destroy)} on ${device} and ${action('it')}`;
}

/**
 * Run in apply right before the create command. With signatures to destroy (force), erases
 * them; otherwise probes again, so a signature that appeared since inspect is never overwritten.
 * Returns why the device cannot be used, or undefined.
 */
export async function prepareDevice(ctx: StateContext, device: string, destroy: readonly Signature[]): Promise<string | undefined> {
  if (destroy.length > 0) {
    const r = await ctx.runner.run('wipefs', ['--all', device]);
    return r.exitCode === 0 ? undefined : `Could not erase the signatures on ${device}: ${r.error ?? r.stderr}`;
  }
  const now = await ctx.facts.get(signatures, device);
  return now.length === 0
    ? undefined
    : `Refusing to write to ${device}: it holds ${describeSignatures(now)}, which appeared after it was inspected`;
}
