// Argument building and error paths of the system modules (lvm, luks, cryptdev, blockdev,
// mount, service) with a scripted runner. That they work on real devices is shown by the VM
// suite (test/vm/storage.vm.test.ts, test/vm/service.vm.test.ts), not here.
import { describe, expect, it } from 'vitest';
import { builtinModules } from '../src/modules/builtin.js';
import { findFunction } from '../src/modules/registry.js';
import { clearance, prepareDevice, wouldCreate } from '../src/modules/storage.js';
import type { Args, ChangePlan, Outcome, Plan, StateContext, StateFunction } from '../src/modules/types.js';
import { hostFacts } from '../src/facts/fact.js';
import { localFileServer } from '../src/host/files.js';
import { pillarSecretProvider, type SecretProvider } from '../src/host/secrets.js';
import { FakeFs, FakeRunner, fixtureTemplates, type FakeCall } from './fake-host.js';
import { compileTree } from './helpers.js';

const KEY = 'correct horse battery staple';

function fakeContext(runner: FakeRunner, opts: { secrets?: SecretProvider; test?: boolean } = {}): StateContext {
  const quiet = () => undefined;
  const fs = new FakeFs();
  return {
    test: opts.test ?? false,
    facts: hostFacts({ runner, fs }),
    runner,
    fs,
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    secrets: opts.secrets ?? pillarSecretProvider({ luks: { password: KEY } }),
    files: localFileServer([]),
    templates: fixtureTemplates(),
    holdsSecret: () => false,
    state: { id: 'x', sls: 'main', name: 'x' },
  };
}

/** A secret provider that counts its fetches. */
function countingSecrets(pillar: Record<string, unknown>): SecretProvider & { fetches: string[] } {
  const inner = pillarSecretProvider(pillar);
  const fetches: string[] = [];
  return { fetches, fetch: (path) => (fetches.push(path), inner.fetch(path)) };
}

const fn = (name: string) => findFunction(builtinModules, ...(name.split('.') as [string, string])) as unknown as StateFunction<Args>;

const change = <D>(changes: Record<string, unknown>, data: D): ChangePlan<D> => ({ kind: 'change', comment: '', changes, data });

/** Runs a function's apply with a hand-made plan, as the engine would after inspect. */
const apply = (name: string, args: Record<string, unknown>, plan: ChangePlan<unknown>, ctx: StateContext): Promise<Outcome> =>
  fn(name).apply(args as Args, plan, ctx);

/** A runner that answers cryptsetup with `exitCode` and keeps a copy of every stdin at the moment it was passed. */
function cryptsetupRunner(openExit = 0): { runner: FakeRunner; stdinCopies: Buffer[] } {
  const stdinCopies: Buffer[] = [];
  const runner = new FakeRunner((call) => {
    if (call.opts.stdin) stdinCopies.push(Buffer.from(call.opts.stdin));
    if (call.file === 'cryptsetup' && call.args[0] === 'open' && openExit !== 0)
      return { exitCode: openExit, stderr: 'No key available with this passphrase.' };
    return {};
  });
  return { runner, stdinCopies };
}

const MAPPED_ARGS = {
  name: 'data',
  device: '/dev/vg0/secret',
  readonly: false,
  discard: false,
  type: 'luks2',
  pbkdf: 'pbkdf2',
  pbkdf_force_iterations: 1000,
  force: false,
};
const FORMAT_AND_OPEN = change(
  { formatted: 'LUKS2', opened: '/dev/mapper/data' },
  { device: '/dev/vg0/secret', format: true, destroy: [] },
);

const argvOf = (calls: FakeCall[]) => calls.map((c) => [c.file, ...c.args].join(' '));

describe('LUKS key handling', () => {
  it('fetches key_pillar once, just in time, passes it only on stdin, and zeroes it afterwards', async () => {
    const { runner, stdinCopies } = cryptsetupRunner();
    const secrets = countingSecrets({ luks: { password: KEY } });
    const out = await apply(
      'luks.mapped',
      { ...MAPPED_ARGS, key_pillar: 'luks:password' },
      FORMAT_AND_OPEN,
      fakeContext(runner, { secrets }),
    );
    expect(out).toEqual({
      result: true,
      comment: 'Formatted /dev/vg0/secret as LUKS2 and opened it as /dev/mapper/data',
      changes: FORMAT_AND_OPEN.changes,
    });
    expect(secrets.fetches).toEqual(['luks:password']);
    expect(argvOf(runner.calls)).toEqual([
      'wipefs --no-act --json /dev/vg0/secret',
      'cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- /dev/vg0/secret',
      'cryptsetup open --type luks --key-file=- /dev/vg0/secret data',
    ]);
    expect(runner.calls.some((c) => c.args.some((a) => a.includes('horse')))).toBe(false);
    expect(stdinCopies.map((b) => b.toString())).toEqual([KEY, KEY]);
    // The very buffers cryptsetup was given are zero now.
    const given = runner.calls.flatMap((c) => (c.opts.stdin ? [c.opts.stdin] : []));
    expect(given).toHaveLength(2);
    for (const b of given) expect(b.every((byte) => byte === 0)).toBe(true);
  });

  it('passes a key rendered into the state (key:) on stdin too, never on argv', async () => {
    const { runner, stdinCopies } = cryptsetupRunner();
    const args = { name: 'data', device: '/dev/vdb', readonly: true, discard: true, key: 'rendered-from-pillar' };
    const out = await apply(
      'luks.opened',
      args,
      change({ opened: '/dev/mapper/data' }, { device: '/dev/vdb', format: false, destroy: [] }),
      fakeContext(runner),
    );
    expect(out.result).toBe(true);
    expect(argvOf(runner.calls)).toEqual(['cryptsetup open --type luks --readonly --allow-discards --key-file=- /dev/vdb data']);
    expect(stdinCopies.map((b) => b.toString())).toEqual(['rendered-from-pillar']);
    expect(runner.calls[0]!.opts.stdin!.every((byte) => byte === 0)).toBe(true);
  });

  it('fails clearly on a wrong key, naming the device and the pillar key but not the key', async () => {
    const { runner } = cryptsetupRunner(2);
    const plan = change({ opened: '/dev/mapper/data' }, { device: '/dev/vg0/secret', format: false, destroy: [] });
    const out = await apply('luks.mapped', { ...MAPPED_ARGS, key_pillar: 'luks:password' }, plan, fakeContext(runner));
    expect(out).toEqual({
      result: false,
      comment: 'Wrong key for /dev/vg0/secret (from pillar luks:password): no key slot accepts it',
      changes: {},
    });
    expect(runner.calls[0]!.opts.stdin!.every((byte) => byte === 0)).toBe(true);
  });

  it('fails without running cryptsetup when the pillar has no such key, or the key is empty', async () => {
    const { runner } = cryptsetupRunner();
    const missing = await apply('luks.mapped', { ...MAPPED_ARGS, key_pillar: 'luks:nope' }, FORMAT_AND_OPEN, fakeContext(runner));
    expect(missing).toMatchObject({
      result: false,
      comment: "No LUKS key: pillar value 'luks:nope' is not available: no such key in this minion's pillar",
    });
    const empty = await apply('luks.mapped', { ...MAPPED_ARGS, key: '' }, FORMAT_AND_OPEN, fakeContext(runner));
    expect(empty).toMatchObject({ result: false, comment: 'The LUKS key from the key argument is empty' });
    expect(runner.calls).toEqual([]);
  });

  it('never fetches the key in test mode', async () => {
    const runner = new FakeRunner((call) => (call.args[0] === 'status' ? { exitCode: 4 } : {}));
    const secrets = countingSecrets({ luks: { password: KEY } });
    const plan = await fn('luks.mapped').inspect(
      { ...MAPPED_ARGS, device: '/dev/brine-test-no-such-device', key_pillar: 'luks:password' } as Args,
      fakeContext(runner, { secrets, test: true }),
    );
    expect(plan).toMatchObject({
      kind: 'change',
      comment: expect.stringMatching(/^Would format \/dev\/brine-test-no-such-device as LUKS2 and open it as \/dev\/mapper\/data \(/),
    });
    expect(secrets.fetches).toEqual([]);
  });
});

describe('the device signature gate', () => {
  /** wipefs and lsblk answers for one device. */
  const deviceRunner = (signatures: object[], children: object[] = []) =>
    new FakeRunner((call) => {
      if (call.file === 'wipefs' && call.args[0] === '--no-act')
        return { stdout: signatures.length > 0 ? JSON.stringify({ signatures }) : '' };
      if (call.file === 'lsblk')
        return {
          stdout: JSON.stringify({ blockdevices: [{ path: '/dev/vdb', mountpoints: [null], ...(children.length > 0 && { children }) }] }),
        };
      return {};
    });
  const ext4 = { device: 'vdb', offset: '0x438', type: 'ext4', uuid: '71a09643-eb3d-4547-af59-c59600cf5b49', label: 'data' };
  const luksCopies = [
    { device: 'vdb', offset: '0x0', type: 'crypto_LUKS', uuid: '310f622b-828e-4c4a-ab1b-eeec1b44c407', label: null },
    { device: 'vdb', offset: '0x4000', type: 'crypto_LUKS', uuid: '310f622b-828e-4c4a-ab1b-eeec1b44c407', label: null },
  ];
  const asLuks = (d: string) => `format ${d} as LUKS2`;

  it('lets a blank device through, and says so in test mode', async () => {
    const c = await clearance(fakeContext(deviceRunner([])), '/dev/vdb', false, asLuks);
    expect(c).toEqual({ ok: true, destroy: [] });
    expect(wouldCreate('/dev/vdb', [], asLuks)).toBe('Would format /dev/vdb (no signature found) as LUKS2');
  });

  it('refuses a device with a signature, saying what it holds, unless force', async () => {
    const refused = await clearance(fakeContext(deviceRunner([ext4])), '/dev/vdb', false, asLuks);
    expect(refused).toEqual({
      ok: false,
      comment:
        'Refusing to format /dev/vdb as LUKS2: it holds ext4 (UUID 71a09643-eb3d-4547-af59-c59600cf5b49, label data); set force: true to destroy it',
    });
    const forced = await clearance(fakeContext(deviceRunner([ext4])), '/dev/vdb', true, asLuks);
    expect(forced).toEqual({ ok: true, destroy: [ext4] });
    expect(wouldCreate('/dev/vdb', [ext4], asLuks)).toBe(
      'Would destroy ext4 (UUID 71a09643-eb3d-4547-af59-c59600cf5b49, label data) on /dev/vdb and format it as LUKS2',
    );
  });

  it('names a LUKS2 header once although it has two copies', async () => {
    const refused = await clearance(
      fakeContext(deviceRunner(luksCopies)),
      '/dev/vdb',
      false,
      (d) => `initialise ${d} as an LVM physical volume`,
    );
    expect(refused).toMatchObject({
      comment:
        'Refusing to initialise /dev/vdb as an LVM physical volume: it holds crypto_LUKS (UUID 310f622b-828e-4c4a-ab1b-eeec1b44c407); set force: true to destroy it',
    });
  });

  it('refuses a device in use even with force', async () => {
    const runner = deviceRunner([{ ...ext4, type: 'LVM2_member', label: null }], [{ path: '/dev/mapper/vg0-lv' }]);
    expect(await clearance(fakeContext(runner), '/dev/vdb', true, asLuks)).toEqual({
      ok: false,
      comment: 'Refusing to format /dev/vdb as LUKS2: it is in use by /dev/mapper/vg0-lv',
    });
  });

  it('erases only what force allowed, right before writing; re-checks a device that was blank', async () => {
    const erase = deviceRunner([]);
    expect(await prepareDevice(fakeContext(erase), '/dev/vdb', [ext4])).toBeUndefined();
    expect(argvOf(erase.calls)).toEqual(['wipefs --all /dev/vdb']);
    const appeared = deviceRunner([ext4]);
    expect(await prepareDevice(fakeContext(appeared), '/dev/vdb', [])).toMatch(
      /^Refusing to write to \/dev\/vdb: it holds ext4 .*, which appeared after it was inspected$/,
    );
    expect(argvOf(appeared.calls)).toEqual(['wipefs --no-act --json /dev/vdb']);
  });

  it('formats only after the gate, with the requested file system', async () => {
    const runner = deviceRunner([]);
    const out = await apply(
      'blockdev.formatted',
      { name: '/dev/mapper/data', fs_type: 'xfs', force: false },
      change({ formatted: 'xfs' }, { destroy: [] }),
      fakeContext(runner),
    );
    expect(out).toMatchObject({ result: true, comment: 'Formatted /dev/mapper/data as xfs' });
    expect(argvOf(runner.calls)).toEqual(['wipefs --no-act --json /dev/mapper/data', 'mkfs.xfs -q /dev/mapper/data']);
  });
});

describe('arguments are checked before anything runs: the state fails without running', () => {
  /** Why each state of the SLS fails before it is called (one line a problem). */
  function problems(sls: string): string[] {
    const broken = compileTree({ 'main.sls': sls }).chunks.flatMap((c) => (c.broken ? c.broken.comment.split('\n') : []));
    if (broken.length === 0) throw new Error('expected a state to be refused');
    return broken;
  }

  it.each([
    [
      'size and extents together',
      'lv:\n  lvm.lv_present:\n    - vgname: vg0\n    - size: 1G\n    - extents: 100%FREE\n',
      /main\.sls:\d+: lvm\.lv_present: give exactly one of size and extents/,
    ],
    ['neither size nor extents', 'lv:\n  lvm.lv_present:\n    - vgname: vg0\n', /give exactly one of size and extents/],
    [
      'a size that is none',
      'lv:\n  lvm.lv_present:\n    - vgname: vg0\n    - size: lots\n',
      /main\.sls:4: .*size 'lots' is not a size such as 512M or 10G/,
    ],
    [
      'no key',
      'd:\n  luks.mapped:\n    - device: /dev/vdb\n',
      /main\.sls:\d+: luks\.mapped: give exactly one of key_pillar \(preferred\) and key/,
    ],
    [
      'LUKS1 with argon2id',
      'd:\n  luks.formatted:\n    - name: /dev/vdb\n    - key_pillar: a:b\n    - type: luks1\n    - pbkdf: argon2id\n',
      /main\.sls:6: .*LUKS1 supports only pbkdf: pbkdf2/,
    ],
    [
      'an unknown LUKS type',
      'd:\n  luks.formatted:\n    - key_pillar: a:b\n    - type: luks3\n',
      /argument 'type' must be one of luks1, luks2/,
    ],
    [
      "Salt's keyfile",
      'd:\n  cryptdev.mapped:\n    - device: /dev/vdb\n    - keyfile: /etc/key\n',
      /main\.sls:4: .*keyfile is not supported: Brine never reads a LUKS key from a file on the server; keep the passphrase in pillar and name it with key_pillar/,
    ],
    [
      'crypttab persistence',
      'd:\n  cryptdev.mapped:\n    - device: /dev/vdb\n    - key_pillar: a:b\n    - persist: True\n',
      /persist: true is not supported: a crypttab entry would make the boot wait for a passphrase/,
    ],
    [
      'plain-mode crypttab opts',
      'd:\n  cryptdev.mapped:\n    - device: /dev/vdb\n    - key_pillar: a:b\n    - opts: swap,size=256\n',
      /option 'swap' is not supported/,
    ],
    [
      'an unknown file system',
      'd:\n  blockdev.formatted:\n    - fs_type: btrfs\n',
      /argument 'fs_type' must be one of ext2, ext3, ext4, xfs/,
    ],
    [
      'a relative mount point',
      'srv/data:\n  mount.mounted:\n    - device: /dev/vdb\n    - fstype: ext4\n',
      /the mount point 'srv\/data' is not an absolute path/,
    ],
    [
      'pkgs that are neither names nor {name: version}',
      'tools:\n  pkg.installed:\n    - pkgs:\n      - {curl: 1, jq: 2}\n',
      /main\.sls:\d+: .*pkgs must be a list of package names or of \{name: version\} mappings/,
    ],
    [
      'group members with addusers',
      'devs:\n  group.present:\n    - members: [alice]\n    - addusers: [bob]\n',
      /members cannot be combined with addusers or delusers/,
    ],
    [
      'a user added and deleted at once',
      'devs:\n  group.present:\n    - addusers: [bob]\n    - delusers: [bob]\n',
      /the same users cannot be added and deleted: bob/,
    ],
    ['a gid that is a list', 'alice:\n  user.present:\n    - gid: [1, 2]\n', /gid must be a group name or number/],
  ])('%s', (_, sls, pattern) => {
    const found = problems(sls);
    expect(
      found.some((p) => pattern.test(p)),
      found.join('\n'),
    ).toBe(true);
  });

  it('accepts the forms the docs show', () => {
    const run = compileTree({
      'main.sls': [
        'lv:\n  lvm.lv_present:\n    - vgname: vg0\n    - extents: 100%FREE',
        'd:\n  cryptdev.mapped:\n    - device: UUID=066e0200-2867-4ebe-b9e6-f30026ca2314\n    - key_pillar: luks:password\n    - opts: [discard]',
        '/srv/data:\n  mount.mounted:\n    - device: LABEL=data\n    - fstype: xfs\n    - opts: noatime,nofail',
        "tools:\n  pkg.installed:\n    - pkgs:\n      - curl\n      - jq: '1.6-2.1'",
      ].join('\n'),
    });
    expect(run.chunks.map((c) => `${c.module}.${c.fun}`)).toEqual(['lvm.lv_present', 'cryptdev.mapped', 'mount.mounted', 'pkg.installed']);
  });
});

describe('commands the modules run', () => {
  it('creates a logical volume with lvcreate, wiping stale signatures in the new space', async () => {
    const runner = new FakeRunner();
    const out = await apply(
      'lvm.lv_present',
      { name: 'data', vgname: 'vg0', extents: '100%FREE' },
      change({ created: 'vg0/data' }, { create: true }),
      fakeContext(runner),
    );
    expect(out.result).toBe(true);
    expect(argvOf(runner.calls)).toEqual(['lvcreate --quiet --yes --wipesignatures y --name data --extents 100%FREE vg0']);
  });

  it('reports an LVM failure with its message', async () => {
    const runner = new FakeRunner(() => ({
      exitCode: 5,
      stderr: '  Volume group "vg0" has insufficient free space (0 extents): 2 required.',
    }));
    const out = await apply(
      'lvm.lv_present',
      { name: 'data', vgname: 'vg0', size: '1G' },
      change({ created: 'vg0/data' }, { create: true }),
      fakeContext(runner),
    );
    expect(out).toEqual({
      result: false,
      comment:
        'lvcreate --quiet --yes --wipesignatures y --name data --size 1G vg0 failed: Volume group "vg0" has insufficient free space (0 extents): 2 required.',
      changes: {},
    });
  });

  /** systemctl answering `show` with these properties. */
  const systemd = (props: Record<string, string>) =>
    new FakeRunner((call) =>
      call.args[0] === 'show'
        ? {
            stdout: Object.entries(props)
              .map(([k, v]) => `${k}=${v}`)
              .join('\n'),
          }
        : {},
    );

  it('fails clearly for a unit systemd does not have, or a masked one', async () => {
    const missing = await fn('service.running').inspect(
      { name: 'nope' } as Args,
      fakeContext(systemd({ Id: 'nope.service', LoadState: 'not-found', ActiveState: 'inactive', UnitFileState: '' })),
    );
    expect(missing).toEqual({ kind: 'error', comment: 'The named service nope is not available' });
    const masked = await fn('service.enabled').inspect(
      { name: 'web' } as Args,
      fakeContext(systemd({ Id: 'web.service', LoadState: 'masked', ActiveState: 'inactive', UnitFileState: 'masked' })),
    );
    expect(masked).toEqual({ kind: 'error', comment: 'Service web is masked; unmask it first (systemctl unmask web.service)' });
  });

  it('plans start and enable together, and nothing for a running enabled service', async () => {
    const stopped = systemd({ Id: 'web.service', LoadState: 'loaded', ActiveState: 'inactive', UnitFileState: 'disabled' });
    const plan: Plan = await fn('service.running').inspect({ name: 'web', enable: true } as Args, fakeContext(stopped));
    expect(plan).toEqual({
      kind: 'change',
      comment: 'Service web is set to start and enable',
      changes: { web: true },
      data: { run: 'start', file: 'enable' },
    });
    expect(argvOf(stopped.calls)).toEqual(['systemctl show --property=Id,LoadState,ActiveState,UnitFileState -- web']);
    const up = systemd({ Id: 'web.service', LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' });
    expect(await fn('service.running').inspect({ name: 'web', enable: true } as Args, fakeContext(up))).toMatchObject({ kind: 'correct' });
  });

  it("restarts on watch, or reloads with reload: True (Salt's mod_watch)", async () => {
    for (const reload of [false, true]) {
      const runner = systemd({ Id: 'web.service', LoadState: 'loaded', ActiveState: 'active', UnitFileState: 'enabled' });
      const out = await fn('service.running').watch!.run({ name: 'web', reload } as Args, fakeContext(runner));
      expect(out).toEqual({ result: true, comment: `Service web ${reload ? 'reloaded' : 'restarted'}`, changes: { web: true } });
      expect(argvOf(runner.calls)[0]).toBe(`systemctl ${reload ? 'reload' : 'restart'} -- web`);
    }
  });
});

describe('LUKS key rotation', () => {
  const OLD = 'old horse battery staple';
  const NEW = 'new horse, longer battery staple';
  const pillar = { luks: { key: NEW, previous: OLD } };
  const ROTATE = { name: '/dev/vdb', key_pillar: 'luks:key', previous_key_pillar: 'luks:previous' };

  /**
   * cryptsetup as far as key slots go, on one device: open --test-passphrase, luksAddKey (previous
   * key then new key on one stdin, split by --keyfile-size) and luksKillSlot (refused unless the
   * key on stdin opens another slot). Keeps a copy of every stdin as it was passed.
   */
  function toyCryptsetup(slots: (string | null)[]) {
    const stdinCopies: Buffer[] = [];
    const opens = (key: string) => slots.indexOf(key);
    const runner = new FakeRunner((call) => {
      if (call.opts.stdin) stdinCopies.push(Buffer.from(call.opts.stdin));
      if (call.file === 'stat') return {};
      const input = call.opts.stdin?.toString('utf8') ?? '';
      const [action] = call.args;
      if (action === 'open' && call.args.includes('--test-passphrase')) {
        const slot = opens(input);
        return slot < 0
          ? { exitCode: 2, stderr: 'No key available with this passphrase.' }
          : { stdout: `Key slot ${slot} unlocked.\nCommand successful.` };
      }
      if (action === 'luksAddKey') {
        const size = Number(call.args.find((a) => a.startsWith('--keyfile-size='))!.split('=')[1]);
        if (opens(input.slice(0, size)) < 0) return { exitCode: 2 };
        const free = slots.indexOf(null);
        slots[free] = input.slice(size);
        return { stdout: `Key slot ${free} created.` };
      }
      if (action === 'luksKillSlot') {
        const slot = Number(call.args.at(-1));
        const by = opens(input);
        if (by < 0 || by === slot) return { exitCode: 2 };
        slots[slot] = null;
        return {};
      }
      return { exitCode: 1, stderr: `unexpected ${action}` };
    });
    return { runner, stdinCopies, slots };
  }

  const blockDevice = new FakeFs({ '/dev/vdb': { type: 'block', mode: 0o660, uid: 0, gid: 6, rdev: 65040 } });
  function rotationContext(runner: FakeRunner, test = false): StateContext {
    const secrets = pillarSecretProvider(pillar);
    return { ...fakeContext(runner, { secrets, test }), fs: blockDevice, facts: hostFacts({ runner, fs: blockDevice, secrets }) };
  }

  it('adds the new key with the previous one, checks it, then kills the previous slot; keys only ever on stdin, and zeroed', async () => {
    const { runner, stdinCopies, slots } = toyCryptsetup([OLD, null, null]);
    const ctx = rotationContext(runner);
    const plan = await fn('luks.key_rotated').inspect(ROTATE as Args, ctx);
    expect(plan).toMatchObject({ kind: 'change', changes: { added: 'a free key slot', removed: 'key slot 0' } });
    const out = await fn('luks.key_rotated').apply(ROTATE as Args, plan as ChangePlan, ctx);
    expect(out).toEqual({
      result: true,
      comment:
        "Rotated the LUKS key of /dev/vdb: added the new key (pillar luks:key) in key slot 1; removed key slot 0 (the previous key's)",
      changes: { added: 'key slot 1', removed: 'key slot 0' },
    });
    expect(slots).toEqual([null, NEW, null]);
    expect(argvOf(runner.calls)).toEqual([
      'cryptsetup open --test-passphrase -v --key-file=- /dev/vdb',
      'cryptsetup open --test-passphrase -v --key-file=- /dev/vdb',
      `cryptsetup luksAddKey --key-file=- --keyfile-size=${OLD.length} --new-keyfile=- /dev/vdb`,
      'cryptsetup open --test-passphrase -v --key-file=- /dev/vdb',
      'cryptsetup luksKillSlot --key-file=- /dev/vdb 0',
      'cryptsetup open --test-passphrase -v --key-file=- /dev/vdb',
    ]);
    // What each command was fed: the previous key then the new one for luksAddKey, the new key to kill the old slot.
    expect(stdinCopies.map(String)).toEqual([NEW, OLD, OLD + NEW, NEW, NEW, OLD]);
    for (const call of runner.calls) {
      expect(call.opts.stdin?.every((b) => b === 0)).toBe(true);
      expect(call.args.join(' ')).not.toMatch(/horse/);
    }
    expect(JSON.stringify([plan, out])).not.toMatch(/horse/);
    expect(await fn('luks.key_rotated').inspect(ROTATE as Args, rotationContext(runner))).toMatchObject({ kind: 'correct' });
  });

  it('after a run that stopped once the new key was added, kills only the previous slot (every slot the previous key opens)', async () => {
    const { runner, slots } = toyCryptsetup([OLD, NEW, OLD, null]);
    const ctx = rotationContext(runner);
    const plan = await fn('luks.key_rotated').inspect(ROTATE as Args, ctx);
    expect(plan).toMatchObject({ kind: 'change', changes: { removed: 'key slot 0' } });
    const out = await fn('luks.key_rotated').apply(ROTATE as Args, plan as ChangePlan, ctx);
    expect(out).toMatchObject({ result: true, changes: { removed: 'key slots 0, 2' } });
    expect(slots).toEqual([null, NEW, null, null]);
  });

  it('test mode reads the slots and changes nothing', async () => {
    const { runner, slots } = toyCryptsetup([OLD, null]);
    const plan = await fn('luks.key_rotated').inspect(ROTATE as Args, rotationContext(runner, true));
    expect(plan).toMatchObject({
      kind: 'change',
      comment:
        'Would add the new key (pillar luks:key) to a free key slot of /dev/vdb, authorised by the previous key (pillar luks:previous), then remove key slot 0',
    });
    expect(slots).toEqual([OLD, null]);
  });

  it('luks.opened falls back to previous_key_pillar while the rotation has not run, and says so', async () => {
    const opens = new FakeRunner((call) =>
      call.opts.stdin?.toString('utf8') === OLD ? {} : { exitCode: 2, stderr: 'No key available with this passphrase.' },
    );
    const secrets = countingSecrets(pillar);
    const args = {
      name: 'data',
      device: '/dev/vdb',
      key_pillar: 'luks:key',
      previous_key_pillar: 'luks:previous',
      readonly: false,
      discard: false,
    };
    const plan = change({ opened: '/dev/mapper/data' }, { device: '/dev/vdb', format: false, destroy: [] });
    const out = await apply('luks.opened', args, plan, fakeContext(opens, { secrets }));
    expect(out).toEqual({
      result: true,
      comment:
        'Opened /dev/vdb as /dev/mapper/data with the previous key (from pillar luks:previous): its rotation to the new key has not run yet',
      changes: { opened: '/dev/mapper/data' },
    });
    expect(secrets.fetches).toEqual(['luks:key', 'luks:previous']);
    for (const call of opens.calls) expect(call.opts.stdin?.every((b) => b === 0)).toBe(true);

    const neither = new FakeRunner(() => ({ exitCode: 2 }));
    expect(await apply('luks.opened', args, plan, fakeContext(neither, { secrets }))).toMatchObject({
      result: false,
      comment: 'Wrong key for /dev/vdb (from pillar luks:key), nor the previous key (from pillar luks:previous): no key slot accepts it',
    });
  });
});
