// Device-mapper mappings as the kernel lists them in sysfs. This answers what `cryptsetup status`
// would, without starting a process: on a slow (emulated) machine starting cryptsetup costs more
// than the rest of the inspect step together, and it sits on the boot path of every unlock.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface DmMapping {
  /** The kernel's name for it, e.g. `dm-3`. */
  kernelName: string;
  /** What created it: `LUKS2`, `LUKS1`, `PLAIN` (cryptsetup), `LVM`, or `unknown`. */
  type: string;
  /** The devices under it, as kernel names (`vdb`, `dm-1`) with their `major:minor`. */
  backing: { kernelName: string; majMin: string }[];
}

const read = async (path: string): Promise<string> => (await readFile(path, 'utf8')).trim();

/** The part of a device-mapper UUID that names its creator: cryptsetup writes `CRYPT-LUKS2-…`, LVM `LVM-…`. */
export function dmType(uuid: string): string {
  const [owner, kind] = uuid.split('-');
  if (owner === 'CRYPT' && kind) return kind;
  return owner || 'unknown';
}

/** The mapping `/dev/mapper/<name>`, or undefined if none is open; `sysfs` is for tests. */
export async function findMapping(name: string, sysfs = '/sys'): Promise<DmMapping | undefined> {
  const blocks = join(sysfs, 'block');
  for (const kernelName of await readdir(blocks)) {
    if (!kernelName.startsWith('dm-')) continue;
    const dm = join(blocks, kernelName, 'dm');
    // A mapping removed while we look is simply not there.
    const current = await read(join(dm, 'name')).catch(() => undefined);
    if (current !== name) continue;
    const uuid = await read(join(dm, 'uuid')).catch(() => '');
    const slaves = join(blocks, kernelName, 'slaves');
    const backing = await Promise.all((await readdir(slaves)).map(async (slave) => ({ kernelName: slave, majMin: await read(join(slaves, slave, 'dev')) })));
    return { kernelName, type: dmType(uuid), backing };
  }
  return undefined;
}
