// The process-free facts the luks module inspects with, read from files under a temporary
// directory: open mappings from a sysfs tree, and the LUKS header check. Real devices exercise
// them in the VM suite (test/vm/storage.vm.test.ts).
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmMapping, dmType } from '../src/facts/dm-mappings.js';
import { hostFacts } from '../src/facts/fact.js';
import { luksHeader } from '../src/facts/luks.js';
import { nodeFs, type HostFs } from '../src/host/fs.js';
import { FakeRunner } from './fake-host.js';

/** The machine's file system as seen from `root`: /sys/block is `root`/sys/block. */
const under = (root: string): HostFs => ({
  ...nodeFs,
  readdir: (p) => nodeFs.readdir(join(root, p)),
  readFile: (p) => nodeFs.readFile(join(root, p)),
});
const findMapping = (name: string, root: string) => hostFacts({ runner: new FakeRunner(), fs: under(root) }).get(dmMapping, name);
const hasLuksHeader = (path: string) => hostFacts({ runner: new FakeRunner(), fs: nodeFs }).get(luksHeader, path);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'brine-probes-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A sysfs tree as the kernel lays it out: /sys/block/<dev>/{dev,dm/name,dm/uuid,slaves/<dev> -> ../../<dev>}. */
async function sysfs(devices: { kernel: string; dev: string; dm?: { name: string; uuid: string }; slaves?: string[] }[]): Promise<string> {
  const root = await mkdtemp(join(dir, 'sys-'));
  for (const d of devices) {
    const base = join(root, 'sys', 'block', d.kernel);
    await mkdir(join(base, 'slaves'), { recursive: true });
    await writeFile(join(base, 'dev'), `${d.dev}\n`);
    if (d.dm) {
      await mkdir(join(base, 'dm'));
      await writeFile(join(base, 'dm', 'name'), `${d.dm.name}\n`);
      await writeFile(join(base, 'dm', 'uuid'), `${d.dm.uuid}\n`);
    }
    for (const s of d.slaves ?? []) await symlink(join('..', '..', s), join(base, 'slaves', s));
  }
  return root;
}

describe('open mappings from sysfs', () => {
  it('finds a mapping by name with its creator and the devices under it', async () => {
    const root = await sysfs([
      { kernel: 'vdb', dev: '254:16' },
      { kernel: 'dm-0', dev: '253:0', dm: { name: 'vg0-secret', uuid: 'LVM-abcdef' }, slaves: ['vdb'] },
      { kernel: 'dm-1', dev: '253:1', dm: { name: 'data', uuid: 'CRYPT-LUKS2-0123456789abcdef0123456789abcdef-data' }, slaves: ['dm-0'] },
    ]);
    expect(await findMapping('data', root)).toEqual({
      kernelName: 'dm-1',
      type: 'LUKS2',
      backing: [{ kernelName: 'dm-0', majMin: '253:0' }],
    });
    expect(await findMapping('vg0-secret', root)).toMatchObject({ type: 'LVM', backing: [{ kernelName: 'vdb', majMin: '254:16' }] });
    expect(await findMapping('vdb', root)).toBeUndefined();
    expect(await findMapping('nothing', root)).toBeUndefined();
  });

  it('names the creator from the device-mapper UUID', () => {
    expect(dmType('CRYPT-LUKS1-00112233-x')).toBe('LUKS1');
    expect(dmType('CRYPT-PLAIN-x')).toBe('PLAIN');
    expect(dmType('LVM-Zx9')).toBe('LVM');
    expect(dmType('')).toBe('unknown');
  });
});

describe('the LUKS header check', () => {
  const image = async (name: string, head: Buffer) => {
    const path = join(dir, name);
    await writeFile(path, Buffer.concat([head, Buffer.alloc(4096 - head.length)]));
    return path;
  };
  const magic = (version: number) => Buffer.concat([Buffer.from('LUKS\xba\xbe', 'latin1'), Buffer.from([0, version])]);

  it('accepts LUKS1 and LUKS2 headers', async () => {
    expect(await hasLuksHeader(await image('luks1', magic(1)))).toBe(true);
    expect(await hasLuksHeader(await image('luks2', magic(2)))).toBe(true);
  });

  it('rejects a blank device, an unknown version, the secondary magic alone and a short device', async () => {
    expect(await hasLuksHeader(await image('blank', Buffer.alloc(0)))).toBe(false);
    expect(await hasLuksHeader(await image('v3', magic(3)))).toBe(false);
    expect(await hasLuksHeader(await image('skul', Buffer.from('SKUL\xba\xbe\x00\x02', 'latin1')))).toBe(false);
    const short = join(dir, 'short');
    await writeFile(short, Buffer.from('LUKS', 'latin1'));
    expect(await hasLuksHeader(short)).toBe(false);
  });
});
