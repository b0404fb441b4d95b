import { commandFact } from './fact.js';

/** One signature libblkid finds on a device, as `wipefs --json` reports it. */
export interface Signature {
  type: string;
  offset: string;
  uuid: string | null;
  label: string | null;
}

/** The signatures on a device; reading only (`wipefs --no-act` never erases). */
export const signatures = commandFact(
  'wipefs.signatures',
  (device: string) => ['wipefs', '--no-act', '--json', device],
  (out, device): Signature[] => {
    if (out.exitCode !== 0) throw new Error(`wipefs could not probe ${device}: ${out.error ?? out.stderr}`);
    // wipefs prints nothing at all for a device without signatures.
    if (out.stdout.trim() === '') return [];
    return (JSON.parse(out.stdout) as { signatures: Signature[] }).signatures;
  },
);

/** "ext4 (UUID 71a0…, label data)"; a LUKS2 header's two copies are one entry. */
export function describeSignatures(found: readonly Signature[]): string {
  const seen = new Set<string>();
  for (const s of found) {
    const details = [s.uuid && `UUID ${s.uuid}`, s.label && `label ${s.label}`].filter(Boolean);
    seen.add(details.length > 0 ? `${s.type} (${details.join(', ')})` : s.type);
  }
  return [...seen].join(', ');
}
