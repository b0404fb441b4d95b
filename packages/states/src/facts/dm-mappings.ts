// Device-mapper mappings as the kernel lists them in sysfs. This answers what `cryptsetup status`
// would, without starting a process: on a slow (emulated) machine starting cryptsetup costs more
// than the rest of the inspect step together, and it sits on the boot path of every unlock.
import type { HostFs } from '../host/fs.js';
import type { Fact } from './fact.js';

export interface DmMapping {
  /** The kernel's name for it, e.g. `dm-3`. */
  kernelName: string;
  /** What created it: `LUKS2`, `LUKS1`, `PLAIN` (cryptsetup), `LVM`, or `unknown`. */
  type: string;
  /** The devices under it, as kernel names (`vdb`, `dm-1`) with their `major:minor`. */
  backing: { kernelName: string; majMin: string }[];
}

/** A mapping as sysfs shows it: `dm/uuid` as written, and `slaves/<dev>/dev`. */
export interface SysfsMapping {
  kernelName: string;
  uuid: string;
  backing: { kernelName: string; majMin: string }[];
}

const SYS_BLOCK = '/sys/block';

async function readText(fs: HostFs, path: string): Promise<string | undefined> {
  return (await fs.readFile(path))?.toString('utf8').trim();
}

/** The part of a device-mapper UUID that names its creator: cryptsetup writes `CRYPT-LUKS2-…`, LVM `LVM-…`. */
export function dmType(uuid: string): string {
  const [owner, kind] = uuid.split('-');
  if (owner === 'CRYPT' && kind) return kind;
  return owner || 'unknown';
}

/** The mapping `/dev/mapper/<name>`, or undefined if none is open. */
export const dmMapping: Fact<[name: string], DmMapping | undefined, SysfsMapping | undefined> = {
  name: 'dm.mapping',
  async read({ fs }, name) {
    for (const kernelName of await fs.readdir(SYS_BLOCK)) {
      if (!kernelName.startsWith('dm-')) continue;
      const dm = `${SYS_BLOCK}/${kernelName}/dm`;
      // A mapping removed while we look is simply not there.
      const current = await readText(fs, `${dm}/name`).catch(() => undefined);
      if (current !== name) continue;
      const uuid = (await readText(fs, `${dm}/uuid`).catch(() => undefined)) ?? '';
      const slaves = `${SYS_BLOCK}/${kernelName}/slaves`;
      const backing = await Promise.all(
        (await fs.readdir(slaves)).map(async (slave) => ({
          kernelName: slave,
          majMin: (await readText(fs, `${slaves}/${slave}/dev`)) ?? '',
        })),
      );
      return { kernelName, uuid, backing };
    }
    return undefined;
  },
  parse: (raw) => raw && { kernelName: raw.kernelName, type: dmType(raw.uuid), backing: raw.backing },
};
