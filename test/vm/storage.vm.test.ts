// The storage modules (lvm, luks, cryptdev, blockdev, mount) on real devices in QEMU guests,
// driven through the real CLI, `minion apply --local`, with the LUKS passphrase in a local pillar.
// The tests of "the chain" run in order on the same two disk images: build, boot again, tear down.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDisk, prepareVm, runInVm } from './harness.mjs';
import { applyPrelude, minionTree, readOut, resultsById, ROOT, VM_TEST_TIMEOUT } from './minion-tree.js';

const PASSPHRASE = 'brine-LUKS-passphrase-7f3a9c';
const RENDERED = 'rendered-Key-42b8e1';
const WRONG = 'not-the-Right-key-000d';
const SECRETS = [PASSPHRASE, RENDERED, WRONG];

const work = mkdtempSync(join(tmpdir(), 'brine-vm-storage-'));
const out = join(work, 'out');
mkdirSync(out);
// What the guest greps for; a file, so the passphrases never appear on a grep command line.
const patterns = join(work, 'patterns');
writeFileSync(patterns, `${SECRETS.join('\n')}\n`);

const pillar = (password: string) => ({
  'top.sls': "base:\n  '*':\n    - luks\n",
  'luks.sls': `luks:\n  password: ${password}\n  other: ${RENDERED}\n`,
});

const STORAGE = `
pv-a:
  lvm.pv_present:
    - name: /dev/vda
pv-b:
  lvm.pv_present:
    - name: /dev/vdb
vg0:
  lvm.vg_present:
    - devices: [/dev/vda, /dev/vdb]
    - require: [pv-a, pv-b]
# 80 MiB on two 64 MiB disks: the volume spans both.
secret-lv:
  lvm.lv_present:
    - name: secret
    - vgname: vg0
    - size: 80M
    - require: [vg0]
other-lv:
  lvm.lv_present:
    - name: other
    - vgname: vg0
    - extents: 100%FREE
    - require: [secret-lv]
data:
  luks.mapped:
    - device: /dev/vg0/secret
    - key_pillar: luks:password
    - pbkdf: pbkdf2
    - pbkdf_force_iterations: 1000
    - require: [secret-lv]
other:
  luks.mapped:
    - device: /dev/vg0/other
    - key: {{ pillar['luks']['other'] | yaml_dquote }}
    - pbkdf: pbkdf2
    - pbkdf_force_iterations: 1000
    - require: [other-lv]
fs-data:
  blockdev.formatted:
    - name: /dev/mapper/data
    - fs_type: ext4
    - require: [data]
/srv/data:
  mount.mounted:
    - device: /dev/mapper/data
    - fstype: ext4
    - mkmnt: True
    - require: [fs-data]
/srv/data/hello.txt:
  file.managed:
    - contents: kept across boots
    - makedirs: True
    - require: [/srv/data]
`;

const TEARDOWN = `
/srv/data:
  mount.unmounted: []
close-data:
  luks.closed:
    - name: data
    - require: [/srv/data]
close-other:
  cryptdev.unmapped:
    - name: other
secret-lv:
  lvm.lv_absent:
    - name: secret
    - vgname: vg0
    - require: [close-data]
other-lv:
  lvm.lv_absent:
    - name: other
    - vgname: vg0
    - require: [close-other]
vg0:
  lvm.vg_absent:
    - require: [secret-lv, other-lv]
/dev/vda:
  lvm.pv_absent:
    - require: [vg0]
/dev/vdb:
  lvm.pv_absent:
    - require: [vg0]
`;

const config = minionTree(work, {
  'states/storage.sls': STORAGE,
  'states/teardown.sls': TEARDOWN,
  ...Object.fromEntries(Object.entries(pillar(PASSPHRASE)).map(([k, v]) => [`pillar/${k}`, v])),
  ...Object.fromEntries(Object.entries(pillar(WRONG)).map(([k, v]) => [`pillar-wrong/${k}`, v])),
});
const prelude = applyPrelude(config, out);

/** Every secret that occurs in `text`; for messages that say which one leaked. */
const leaks = (text: string) => SECRETS.filter((s) => text.includes(s));

/**
 * A background loop in the guest that, until /run/probe/stop exists, looks through every
 * process's argv and environment for the passphrases (hits), and records the argv of every
 * cryptsetup it catches (seen), which shows the loop did look while cryptsetup ran.
 */
const PROBE = `mkdir -p /run/probe
probe() {
  while [ ! -e /run/probe/stop ]; do
    grep -a -l -F -f ${patterns} /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null >>/run/probe/hits
    for f in $(grep -l -x cryptsetup /proc/[0-9]*/comm 2>/dev/null); do tr '\\0' ' ' <"\${f%comm}cmdline" 2>/dev/null; echo; done >>/run/probe/seen
    # Under TCG a busy loop would slow the run it watches; cryptsetup runs for seconds.
    sleep 0.2
  done
}
probe &
`;
const STOP_PROBE = `touch /run/probe/stop; wait; cp /run/probe/hits /run/probe/seen $OUT/\n`;

let disks: string[];

beforeAll(async () => {
  await prepareVm();
  disks = [await createDisk(join(work, 'a.img'), 64), await createDisk(join(work, 'b.img'), 64)];
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('PV → VG → LV → LUKS → ext4 → mount, from a local pillar', () => {
  it('test mode on blank disks says what it would do and changes nothing; the real run builds it all; a second run changes nothing; no passphrase leaks', {
    timeout: VM_TEST_TIMEOUT,
  }, async () => {
    const r = await runInVm({
      disks,
      shareDir: out,
      cwd: ROOT,
      timeoutMs: VM_TEST_TIMEOUT - 10_000,
      command: `${prelude}
apply storage --test >$OUT/test.txt 2>&1; echo $? >$OUT/test.rc
blkid -p /dev/vda /dev/vdb >$OUT/blkid.txt 2>&1; echo $? >$OUT/blkid.rc
${PROBE}
apply storage --log-level trace >$OUT/first.txt 2>$OUT/first.err; echo $? >$OUT/first.rc
${STOP_PROBE}
apply storage --json --log-level trace >$OUT/second.json 2>$OUT/second.err; echo $? >$OUT/second.rc
cat /srv/data/hello.txt >$OUT/hello.txt
cryptsetup luksUUID /dev/vg0/secret >$OUT/uuid.txt
# A passphrase in any file the run could have written? (The rest of / is the host's, read-only.)
grep -r -l -F -f ${patterns} /run /srv /etc/fstab 2>/dev/null | grep -v '^/run/brine-vm/' >$OUT/files.txt
umount /srv/data && cryptsetup close data && cryptsetup close other && vgchange -an vg0 >/dev/null`,
    });
    expect(r.exitCode, r.stderr).toBe(0);

    const test = readOut(out, 'test.txt');
    expect(readOut(out, 'test.rc').trim(), test).toBe('0');
    expect(test).toContain('Would initialise /dev/vda (no signature found) as an LVM physical volume');
    expect(test).toContain('Would create volume group vg0 on /dev/vda (no signature found), /dev/vdb (no signature found)');
    expect(test).toContain(
      'Would create logical volume vg0/secret (80M) (volume group vg0 does not exist yet; an earlier state must provide it)',
    );
    expect(test).toContain('Would format /dev/vg0/secret as LUKS2 and open it as /dev/mapper/data');
    expect(test).toContain('Would format /dev/mapper/data as ext4');
    expect(test).toContain('Would mount /dev/mapper/data at /srv/data');
    // blkid exits 2 when it finds no signature: test mode wrote nothing.
    expect(readOut(out, 'blkid.rc').trim(), readOut(out, 'blkid.txt')).toBe('2');

    const first = readOut(out, 'first.txt');
    expect(readOut(out, 'first.rc').trim(), first).toBe('0');
    for (const line of [
      'Created physical volume /dev/vda',
      'Created volume group vg0 on /dev/vda, /dev/vdb',
      'Created logical volume vg0/secret',
      'Formatted /dev/vg0/secret as LUKS2 and opened it as /dev/mapper/data',
      'Formatted /dev/vg0/other as LUKS2 and opened it as /dev/mapper/other',
      'Formatted /dev/mapper/data as ext4',
      'Mounted /dev/mapper/data at /srv/data',
    ])
      expect(first).toContain(line);
    expect(first).toMatch(/Succeeded: 10 \(changed=10\)\nFailed: {4}0/);
    expect(readOut(out, 'hello.txt')).toBe('kept across boots\n');

    const second = resultsById(out, 'second.json');
    expect(readOut(out, 'second.rc').trim()).toBe('0');
    expect(Object.keys(second)).toHaveLength(10);
    for (const [id, res] of Object.entries(second))
      expect({ id, result: res.result, changes: res.changes }).toEqual({ id, result: true, changes: {} });
    expect(second['data']!.comment).toBe('/dev/vg0/secret is open as /dev/mapper/data');

    // The passphrases went nowhere: not in any output or log, any process's argv or environment, or any file written.
    const seen = readOut(out, 'seen');
    expect(seen).toMatch(/cryptsetup luksFormat --batch-mode --type luks2 .*--key-file=- \/dev\/vg0\/secret/);
    expect(seen).toMatch(/cryptsetup open --type luks --key-file=- \/dev\/vg0\/(secret data|other other)/);
    expect(readOut(out, 'hits')).toBe('');
    expect(readOut(out, 'files.txt')).toBe('');
    const logs = readOut(out, 'first.err');
    expect(logs).toContain('"msg":"running command"');
    for (const name of ['test.txt', 'first.txt', 'first.err', 'second.json', 'second.err'])
      expect(leaks(readOut(out, name)), name).toEqual([]);
  });

  it('a second boot refuses a wrong key (dependents do not run), reopens and remounts without reformatting, then tears it all down', {
    timeout: VM_TEST_TIMEOUT,
  }, async () => {
    const uuid = readOut(out, 'uuid.txt');
    const r = await runInVm({
      disks,
      shareDir: out,
      cwd: ROOT,
      command: `${prelude}
apply storage --json --pillar-root ${join(work, 'pillar-wrong')} >$OUT/wrong.json 2>$OUT/wrong.err; echo $? >$OUT/wrong.rc
findmnt /srv/data >/dev/null; echo $? >$OUT/wrong-mounted.rc
apply storage --json >$OUT/reopen.json 2>$OUT/reopen.err; echo $? >$OUT/reopen.rc
cat /srv/data/hello.txt >$OUT/hello-again.txt
cryptsetup luksUUID /dev/vg0/secret >$OUT/uuid-again.txt
apply teardown --test >$OUT/teardown-test.txt 2>&1; echo $? >$OUT/teardown-test.rc
apply teardown >$OUT/teardown.txt 2>&1; echo $? >$OUT/teardown.rc
apply teardown --json >$OUT/teardown-again.json 2>$OUT/teardown-again.err; echo $? >$OUT/teardown-again.rc
blkid -p /dev/vda /dev/vdb >$OUT/blkid-end.txt 2>&1; echo $? >$OUT/blkid-end.rc`,
      timeoutMs: VM_TEST_TIMEOUT - 10_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);

    const wrong = resultsById(out, 'wrong.json');
    expect(readOut(out, 'wrong.rc').trim()).toBe('1');
    // Plain mode has no udev to activate the volumes at boot; lv_present does.
    expect(wrong['secret-lv']).toMatchObject({
      result: true,
      comment: 'Activated logical volume vg0/secret',
      changes: { activated: 'vg0/secret' },
    });
    expect(wrong['data']).toMatchObject({
      result: false,
      comment: 'Wrong key for /dev/vg0/secret (from pillar luks:password): no key slot accepts it',
    });
    expect(wrong['data']!.changes).toEqual({});
    expect(wrong['fs-data']).toMatchObject({ result: false, comment: 'One or more requisite failed: storage.data' });
    expect(wrong['/srv/data']).toMatchObject({ result: false, comment: 'One or more requisite failed: storage.fs-data' });
    expect(readOut(out, 'wrong-mounted.rc').trim()).toBe('1');
    // The key rendered into the SLS opens its volume.
    expect(wrong['other']).toMatchObject({
      result: true,
      comment: 'Opened /dev/vg0/other as /dev/mapper/other',
      changes: { opened: '/dev/mapper/other' },
    });

    const reopen = resultsById(out, 'reopen.json');
    expect(readOut(out, 'reopen.rc').trim()).toBe('0');
    expect(reopen['data']).toMatchObject({
      result: true,
      comment: 'Opened /dev/vg0/secret as /dev/mapper/data',
      changes: { opened: '/dev/mapper/data' },
    });
    // Found formatted: never formatted again.
    expect(reopen['fs-data']).toMatchObject({
      result: true,
      comment: expect.stringMatching(/^\/dev\/mapper\/data is formatted as ext4 \(UUID [0-9a-f-]+\) already$/),
    });
    expect(reopen['fs-data']!.changes).toEqual({});
    expect(reopen['/srv/data']).toMatchObject({ result: true, comment: 'Mounted /dev/mapper/data at /srv/data', changes: { mount: true } });
    expect(reopen['/srv/data/hello.txt']).toMatchObject({ result: true, comment: 'File /srv/data/hello.txt is in the correct state' });
    expect(readOut(out, 'hello-again.txt')).toBe('kept across boots\n');
    expect(readOut(out, 'uuid-again.txt')).toBe(uuid);
    for (const name of ['wrong.json', 'wrong.err', 'reopen.json', 'reopen.err']) expect(leaks(readOut(out, name)), name).toEqual([]);

    const teardownTest = readOut(out, 'teardown-test.txt');
    expect(readOut(out, 'teardown-test.rc').trim(), teardownTest).toBe('0');
    expect(teardownTest).toContain('Would unmount /dev/mapper/data from /srv/data');
    expect(teardownTest).toContain('Would close /dev/mapper/other');
    expect(teardownTest).toMatch(/Would remove logical volume vg0\/secret \(80 MiB, holding crypto_LUKS \(UUID [0-9a-f-]+\)\)/);
    expect(teardownTest).toMatch(
      /Would remove volume group vg0 \(it holds logical volumes other \(40 MiB\), secret \(80 MiB\) now; an earlier state must remove them\)/,
    );
    const teardown = readOut(out, 'teardown.txt');
    expect(readOut(out, 'teardown.rc').trim(), teardown).toBe('0');
    for (const line of [
      'Unmounted /srv/data',
      'Closed /dev/mapper/data',
      'Closed /dev/mapper/other',
      'Removed logical volume vg0/secret',
      'Removed volume group vg0',
      'Removed physical volume /dev/vdb',
    ]) {
      expect(teardown).toContain(line);
    }
    const again = resultsById(out, 'teardown-again.json');
    expect(readOut(out, 'teardown-again.rc').trim()).toBe('0');
    for (const [id, res] of Object.entries(again))
      expect({ id, result: res.result, changes: res.changes }).toEqual({ id, result: true, changes: {} });
    expect(readOut(out, 'blkid-end.rc').trim(), readOut(out, 'blkid-end.txt')).toBe('2');
  });
});
