// The one gate in front of every command that writes a new format onto a device (pvcreate,
// vgcreate/vgextend of a new PV, luksFormat, mkfs): a device that holds any signature
// (file system, LVM, LUKS, partition table, RAID…) is refused unless the state says force: true.
import { describeUsage, deviceUsage } from './devices.js';
import type { StateContext } from './types.js';

/** One signature libblkid finds on a device, as `wipefs --json` reports it. */
export interface Signature {
  type: string;
  offset: string;
  uuid: string | null;
  label: string | null;
}

/** The signatures on `device`; reading only (`wipefs --no-act` never erases). */
export async function probeSignatures(ctx: StateContext, device: string): Promise<Signature[]> {
  const r = await ctx.runner.run('wipefs', ['--no-act', '--json', device]);
  if (r.exitCode !== 0) throw new Error(`wipefs could not probe ${device}: ${r.error ?? r.stderr}`);
  // wipefs prints nothing at all for a device without signatures.
  if (r.stdout.trim() === '') return [];
  return (JSON.parse(r.stdout) as { signatures: Signature[] }).signatures;
}

/** "ext4 (UUID 71a0…, label data)"; a LUKS2 header's two copies are one entry. */
export function describeSignatures(signatures: readonly Signature[]): string {
  const seen = new Set<string>();
  for (const s of signatures) {
    const details = [s.uuid && `UUID ${s.uuid}`, s.label && `label ${s.label}`].filter(Boolean);
    seen.add(details.length > 0 ? `${s.type} (${details.join(', ')})` : s.type);
  }
  return [...seen].join(', ');
}

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
  const [signatures, usage] = await Promise.all([probed ?? probeSignatures(ctx, device), deviceUsage(ctx, device)]);
  const busy = describeUsage(usage);
  if (busy) return { ok: false, comment: `Refusing to ${action(device)}: it is ${busy}` };
  if (signatures.length === 0) return { ok: true, destroy: [] };
  if (!force) return { ok: false, comment: `Refusing to ${action(device)}: it holds ${describeSignatures(signatures)}; set force: true to destroy it` };
  return { ok: true, destroy: [...signatures] };
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
  const now = await probeSignatures(ctx, device);
  return now.length === 0 ? undefined : `Refusing to write to ${device}: it holds ${describeSignatures(now)}, which appeared after it was inspected`;
}
