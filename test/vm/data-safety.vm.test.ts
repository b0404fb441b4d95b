// Data safety of the storage modules on real devices in a QEMU guest, through `minion apply --local`:
// devices holding ext4, an LVM PV or a LUKS header are refused without force and keep their data;
// an existing LUKS device is opened, never reformatted; force destroys what test mode said it would;
// mount.mounted resolves LABEL=, persists to fstab once, remounts for new options, and refuses
// another device mounted at its mount point and an fstab entry that would stall the boot.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDisk, prepareVm, runInVm } from './harness.mjs';
import { applyPrelude, minionTree, readOut, resultsById, ROOT, VM_TEST_TIMEOUT } from './minion-tree.js';

const PASSPHRASE = 'data-safety-Passphrase-91d2';
const work = mkdtempSync(join(tmpdir(), 'brine-vm-safety-'));
const out = join(work, 'out');
mkdirSync(out);
const keyFile = join(work, 'key');
writeFileSync(keyFile, PASSPHRASE);

const REFUSE = `
pv-on-ext4:
  lvm.pv_present:
    - name: /dev/vda
luks-on-ext4:
  luks.formatted:
    - name: /dev/vda
    - key_pillar: luks:password
fs-on-pv:
  blockdev.formatted:
    - name: /dev/vdb
luks-on-pv:
  luks.mapped:
    - name: onpv
    - device: /dev/vdb
    - key_pillar: luks:password
new-vg:
  lvm.vg_present:
    - devices: [/dev/vdb]
old:
  lvm.vg_absent: []
pv-on-luks:
  lvm.pv_present:
    - name: /dev/vdc
fs-on-luks:
  blockdev.formatted:
    - name: /dev/vdc
luks-kept:
  luks.formatted:
    - name: /dev/vdc
    - key_pillar: luks:password
ported:
  cryptdev.mapped:
    - device: /dev/vdc
    - key_pillar: luks:password
    - opts: discard
    - require: [luks-kept]
`;

const FORCE = `
xfs:
  blockdev.formatted:
    - name: /dev/vdd
    - fs_type: xfs
    - force: True
/srv/xfs:
  mount.mounted:
    - device: /dev/vdd
    - fstype: xfs
    - mkmnt: True
    - require: [xfs]
/srv/scratch:
  mount.mounted:
    - device: LABEL=scratch
    - fstype: ext4
    - mkmnt: True
    - opts: {{ salt['grains.get']('scratch_opts', 'noatime') }}
    - persist: True
/srv/busy:
  mount.mounted:
    - device: /dev/vde
    - fstype: ext4
/srv/enc:
  mount.mounted:
    - device: /dev/mapper/ported
    - fstype: ext4
    - mkmnt: True
    - persist: True
`;

const config = minionTree(work, {
  'states/refuse.sls': REFUSE,
  'states/force.sls': FORCE,
  'pillar/top.sls': "base:\n  '*':\n    - luks\n",
  'pillar/luks.sls': `luks:\n  password: ${PASSPHRASE}\n`,
});
// The same minion with a grain that asks for other mount options (a pillar value would be redacted from the output).
const nodevConfig = join(work, 'minion-nodev.yml');
writeFileSync(nodevConfig, `${readFileSync(config, 'utf8')}grains:\n  scratch_opts: noatime,nodev\n`);

let disks: string[];

beforeAll(async () => {
  await prepareVm();
  disks = [
    await createDisk(join(work, 'ext4.img'), 32),
    await createDisk(join(work, 'pv.img'), 32),
    await createDisk(join(work, 'luks.img'), 32),
    // mkfs.xfs wants at least 300 MiB; the image is sparse.
    await createDisk(join(work, 'xfs.img'), 320),
    await createDisk(join(work, 'label.img'), 16),
  ];
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** One line a disk: device, type and UUID of what blkid finds on it. */
const SIGNATURES =
  'for d in /dev/vda /dev/vdb /dev/vdc /dev/vdd; do echo "$d $(blkid -p -s TYPE -o value $d) $(blkid -p -s UUID -o value $d)"; done';

it('refuses signatured devices without force and keeps their data; force destroys what test mode named; mounts by label, persists once, remounts', {
  timeout: VM_TEST_TIMEOUT,
}, async () => {
  const r = await runInVm({
    disks,
    shareDir: out,
    cwd: ROOT,
    timeoutMs: VM_TEST_TIMEOUT - 10_000,
    command: `${applyPrelude(config, out)}
set -e
mkfs.ext4 -q -L keep /dev/vda && mkdir -p /mnt/a && mount /dev/vda /mnt/a && echo precious >/mnt/a/file && umount /mnt/a
# A PV in a group whose one volume is inactive: it holds an LVM signature, and nothing holds it open.
pvcreate -q /dev/vdb && vgcreate -q old /dev/vdb && lvcreate -q -an -Zn -L 8M -n keep old
cryptsetup luksFormat -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=${keyFile} /dev/vdc
mkfs.ext4 -q /dev/vdd
mkfs.ext4 -q -L scratch /dev/vde && mkdir -p /mnt/pre && mount /dev/vde /mnt/pre
mkdir -p /srv/busy && mount -t tmpfs tmpfs /srv/busy
${SIGNATURES} >$OUT/before.txt
set +e
apply refuse,force --test --json >$OUT/test.json 2>$OUT/test.err; echo $? >$OUT/test.rc
${SIGNATURES} >$OUT/after-test.txt
apply refuse,force --json >$OUT/run.json 2>$OUT/run.err; echo $? >$OUT/run.rc
mount -o ro /dev/vda /mnt/a && cat /mnt/a/file >$OUT/file.txt && umount /mnt/a
lvs --noheadings -o lv_name,vg_name old >$OUT/lvs.txt
${SIGNATURES} >$OUT/after-run.txt
cp /etc/fstab $OUT/fstab
apply refuse,force --json >$OUT/again.json 2>$OUT/again.err; echo $? >$OUT/again.rc
cp /etc/fstab $OUT/fstab-again
CFG=${nodevConfig} apply force --json >$OUT/remount.json 2>$OUT/remount.err; echo $? >$OUT/remount.rc
findmnt -n -o OPTIONS /srv/scratch >$OUT/scratch-options.txt
cp /etc/fstab $OUT/fstab-remount`,
  });
  expect(r.exitCode, r.stderr).toBe(0);

  const before = readOut(out, 'before.txt');
  const found = before
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  expect(
    found.map(([device, type]) => `${device} ${type}`),
    before,
  ).toEqual(['/dev/vda ext4', '/dev/vdb LVM2_member', '/dev/vdc crypto_LUKS', '/dev/vdd ext4']);
  const [ext4, pv, luks] = found.map((f) => f[2]!);

  // Test mode: every refusal and every destruction is named; nothing on the disks changes.
  const test = resultsById(out, 'test.json');
  expect(readOut(out, 'test.rc').trim(), readOut(out, 'test.err')).toBe('1');
  expect(test['pv-on-ext4']).toMatchObject({
    result: false,
    comment: `Refusing to initialise /dev/vda as an LVM physical volume: it holds ext4 (UUID ${ext4}, label keep); set force: true to destroy it`,
  });
  expect(test['xfs']).toMatchObject({
    result: null,
    comment: expect.stringMatching(/^Would destroy ext4 \(UUID [0-9a-f-]+\) on \/dev\/vdd and format it as xfs$/),
    changes: { formatted: 'xfs' },
  });
  expect(test['/srv/scratch']).toMatchObject({
    result: null,
    comment: 'Would mount LABEL=scratch at /srv/scratch (it is also mounted at /mnt/pre); Would add /srv/scratch to /etc/fstab',
  });
  expect(readOut(out, 'after-test.txt')).toBe(before);

  const run = resultsById(out, 'run.json');
  expect(readOut(out, 'run.rc').trim()).toBe('1');
  const refusals: Record<string, string> = {
    'pv-on-ext4': `Refusing to initialise /dev/vda as an LVM physical volume: it holds ext4 (UUID ${ext4}, label keep); set force: true to destroy it`,
    'luks-on-ext4': `Refusing to format /dev/vda as LUKS2: it holds ext4 (UUID ${ext4}, label keep); set force: true to destroy it`,
    'fs-on-pv': `Refusing to format /dev/vdb as ext4: it holds LVM2_member (UUID ${pv}); set force: true to destroy it`,
    'luks-on-pv': `Refusing to format /dev/vdb as LUKS2: it holds LVM2_member (UUID ${pv}); set force: true to destroy it`,
    'new-vg': '/dev/vdb already belongs to volume group old',
    old: 'Volume group old still holds logical volumes keep (8 MiB); remove them first (lvm.lv_absent) or set force: true to destroy them with it',
    'pv-on-luks': `Refusing to initialise /dev/vdc as an LVM physical volume: it holds crypto_LUKS (UUID ${luks}); set force: true to destroy it`,
    'fs-on-luks': `Refusing to format /dev/vdc as ext4: it holds crypto_LUKS (UUID ${luks}); set force: true to destroy it`,
    '/srv/busy': 'tmpfs is mounted at /srv/busy, not /dev/vde; unmount it first (mount.unmounted)',
    '/srv/enc':
      'Refusing to persist /dev/mapper/ported in the fstab without nofail or noauto: it is an encrypted volume opened after boot, and the boot would wait for it and stop; add nofail to opts',
  };
  for (const [id, comment] of Object.entries(refusals)) expect({ id, ...run[id] }).toMatchObject({ id, result: false, comment });
  // The existing LUKS device is opened with the pillar key, never reformatted.
  expect(run['luks-kept']).toMatchObject({ result: true, comment: '/dev/vdc is a LUKS device already (it is never reformatted)' });
  expect(run['ported']).toMatchObject({
    result: true,
    comment: 'Opened /dev/vdc as /dev/mapper/ported',
    changes: { opened: '/dev/mapper/ported' },
  });
  expect(run['xfs']).toMatchObject({
    result: true,
    comment: 'Formatted /dev/vdd as xfs',
    changes: { formatted: 'xfs', destroyed: expect.stringMatching(/^ext4 \(UUID /) },
  });
  expect(run['/srv/xfs']).toMatchObject({ result: true, comment: 'Mounted /dev/vdd at /srv/xfs' });
  expect(run['/srv/scratch']).toMatchObject({
    result: true,
    comment: 'Mounted LABEL=scratch at /srv/scratch; added /srv/scratch to /etc/fstab',
    changes: { mount: true, persist: 'new' },
  });

  // The refused devices still hold what they held.
  expect(readOut(out, 'file.txt')).toBe('precious\n');
  expect(readOut(out, 'lvs.txt').trim().split(/\s+/)).toEqual(['keep', 'old']);
  const afterRun = readOut(out, 'after-run.txt').trim().split('\n');
  expect(afterRun.slice(0, 3)).toEqual(before.trim().split('\n').slice(0, 3));
  expect(afterRun[3]).toMatch(/^\/dev\/vdd xfs [0-9a-f-]+$/);
  expect(readOut(out, 'fstab')).toBe('LABEL=scratch\t/srv/scratch\text4\tnoatime\t0\t0\n');

  // A second run changes nothing and writes the fstab entry once.
  const again = resultsById(out, 'again.json');
  for (const id of ['luks-kept', 'ported', 'xfs', '/srv/xfs', '/srv/scratch'])
    expect({ id, result: again[id]!.result, changes: again[id]!.changes }).toEqual({ id, result: true, changes: {} });
  expect(again['xfs']!.comment).toMatch(/^\/dev\/vdd is formatted as xfs \(UUID [0-9a-f-]+\) already$/);
  expect(readOut(out, 'fstab-again')).toBe(readOut(out, 'fstab'));

  // New options: remounted, and the fstab entry updated in place.
  const remount = resultsById(out, 'remount.json');
  expect(remount['/srv/scratch']).toMatchObject({
    result: true,
    comment: 'Remounted /srv/scratch with noatime,nodev; updated /srv/scratch in /etc/fstab',
    changes: { remount: 'options nodev', persist: 'update' },
  });
  expect(readOut(out, 'scratch-options.txt').trim().split(',')).toEqual(expect.arrayContaining(['noatime', 'nodev']));
  expect(readOut(out, 'fstab-remount')).toBe('LABEL=scratch\t/srv/scratch\text4\tnoatime,nodev\t0\t0\n');
});
