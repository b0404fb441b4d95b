// Proves the VM harness itself: real QEMU guests, no mocks. Run with `pnpm test:vm`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDisk,
  createRootDisk,
  prepareVm,
  runInVm,
  VmBootTimeoutError,
  VmKernelPanicError,
  VmSetupError,
  VmTimeoutError,
  VmUsageError,
} from './harness.mjs';

const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'brine-vm-smoke-'));

beforeAll(() => prepareVm());
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** QEMU processes this test process started and that still run. */
function qemuChildren(): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qemu-system');
      } catch {
        return false; // exited while we looked
      }
    });
}

describe('plain mode', () => {
  it('returns stdout, stderr and a non-zero exit status; env and stdin reach the command', async () => {
    const r = await runInVm({
      command: 'echo "greeting: $GREETING"; cat; echo "to stderr" >&2; exit 3',
      env: { GREETING: "it's here" },
      stdin: 'from stdin\n',
    });
    expect(r).toMatchObject({ exitCode: 3, stdout: "greeting: it's here\nfrom stdin\n", stderr: 'to stderr\n' });
    expect(r.bootMs).toBeGreaterThan(0);
    expect(r.startMs).toBeGreaterThanOrEqual(r.bootMs);
    expect(r.durationMs).toBeGreaterThan(r.startMs);
  });

  it('sees the host tree read-only under a throw-away overlay, runs node, and writes to the shared folder', async () => {
    const share = mkdtempSync(join(work, 'share-'));
    const before = readFileSync(join(root, 'package.json'), 'utf8');
    const r = await runInVm({
      cwd: root,
      shareDir: share,
      command: [
        'set -e',
        `node -p "require('./package.json').name + ' ' + process.version"`,
        'echo changed-in-guest > package.json && cat package.json',
        `echo written-in-guest > ${share}/result.txt`,
      ].join('\n'),
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`brine ${process.version}\nchanged-in-guest\n`);
    expect(readFileSync(join(root, 'package.json'), 'utf8')).toBe(before);
    expect(readFileSync(join(share, 'result.txt'), 'utf8')).toBe('written-in-guest\n');
  });

  it('stops a command that outlives timeoutMs, keeps its output so far, and leaves no QEMU behind', async () => {
    const run = runInVm({ command: 'echo before-sleep; sleep 600', timeoutMs: 20_000 });
    await expect(run).rejects.toBeInstanceOf(VmTimeoutError);
    await expect(run).rejects.toMatchObject({ stdout: 'before-sleep\n' });
    expect(qemuChildren()).toEqual([]);
  });

  it('kills QEMU when the guest does not boot in time', async () => {
    const run = runInVm({ command: 'true', bootTimeoutMs: 1000 });
    await expect(run).rejects.toBeInstanceOf(VmBootTimeoutError);
    expect(qemuChildren()).toEqual([]);
  });

  it('reports a kernel panic with the console', async () => {
    const run = runInVm({ command: 'echo c > /proc/sysrq-trigger' });
    await expect(run).rejects.toBeInstanceOf(VmKernelPanicError);
    await expect(run).rejects.toThrow(/sysrq triggered crash/);
  });

  it('fails a run whose setup script fails, with its output, before the command runs', async () => {
    const run = runInVm({ setup: 'echo preparing; exit 9', command: 'echo must-not-run' });
    await expect(run).rejects.toBeInstanceOf(VmSetupError);
    await expect(run).rejects.toMatchObject({ exitCode: 9, output: 'preparing\n' });
  });

  it('rejects unusable options before booting', async () => {
    await expect(runInVm({ command: 'true', env: { 'NOT-A-NAME': 'x' } })).rejects.toBeInstanceOf(VmUsageError);
    await expect(runInVm({ command: 'true', disks: [join(work, 'missing.img')] })).rejects.toThrow(
      /does not exist; make one with createDisk/,
    );
  });

  it('has a CLI that prints the output and exits with the guest status', () => {
    const r = spawnSync(process.execPath, [join(root, 'test/vm/run.mjs'), '--env', 'WHO=cli', '--', 'echo hello $WHO;', 'exit 7'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(7);
    expect(r.stdout).toBe('hello cli\n');
    expect(r.stderr).toMatch(/brine-vm: exit 7; boot [\d.]+ s/);
  });
});

describe('storage', () => {
  it('builds LVM and LUKS on two disks, and a second VM reopens them and reads the file back', async () => {
    const disks = [await createDisk(join(work, 'a.img'), 64), await createDisk(join(work, 'b.img'), 64)];
    const key = 'correct horse battery staple';
    const first = await runInVm({
      disks,
      stdin: key,
      command: `set -e
pvcreate -q /dev/vda /dev/vdb
vgcreate -q vg0 /dev/vda /dev/vdb
# 80 MiB on two 64 MiB disks: the volume spans both.
lvcreate -q -L 80M -n secret vg0
cat > /run/key
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- /dev/vg0/secret < /run/key
cryptsetup open --key-file=- /dev/vg0/secret secret < /run/key
mkfs.ext4 -q /dev/mapper/secret
mount /dev/mapper/secret /mnt
echo kept-across-boots > /mnt/file
umount /mnt
cryptsetup close secret
vgchange -an vg0 >/dev/null
echo done`,
    });
    expect(first.stderr).toBe('');
    expect(first).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/done\n$/) });

    const second = await runInVm({
      disks,
      stdin: key,
      command: `set -e
vgchange -ay vg0 >/dev/null
cryptsetup isLuks /dev/vg0/secret
cryptsetup open --key-file=- /dev/vg0/secret secret
mount -o ro /dev/mapper/secret /mnt
cat /mnt/file`,
    });
    expect(second).toMatchObject({ exitCode: 0, stdout: 'kept-across-boots\n' });
  });
});

describe('network', () => {
  let server: Server;
  let connections = 0;

  beforeAll(async () => {
    // Upper-cases each line, so a reply proves the host saw the data.
    server = createServer((socket) => {
      connections++;
      socket.setEncoding('utf8').on('data', (line: string) => socket.write(line.toUpperCase()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reaches a host loopback server through a forward, one host connection per guest connection', async () => {
    const hostPort = (server.address() as AddressInfo).port;
    const r = await runInVm({
      forwards: [{ guestPort: 7000, hostPort }],
      command: `node - <<'EOF'
const net = require('node:net');
const ask = (text) => new Promise((resolve, reject) => {
  const socket = net.connect(7000, '10.0.2.100', () => socket.write(text + '\\n'));
  socket.setEncoding('utf8').on('data', (reply) => { socket.end(); resolve(reply.trim()); }).on('error', reject);
});
// Both connections are open at once: each must get its own reply.
Promise.all([ask('one'), ask('two')]).then((replies) => console.log(replies.join(',')));
EOF`,
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'ONE,TWO\n', stderr: '' });
    expect(connections).toBe(2);
  });

  it('serves the host through an inbound forward, and keeps root changes on a root disk for the next boot only on that disk', async () => {
    const rootDisk = await createRootDisk(join(work, 'root.img'), 128);
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const hostPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const first = runInVm({
      rootDisk,
      inbound: [{ hostPort, guestPort: 7100 }],
      // Serves one connection, then ends the run.
      command: `echo kept > /etc/brine-smoke
timeout 100 node -e "require('node:net').createServer((s) => s.end('from-guest', () => process.exit(0))).listen(7100)"`,
      timeoutMs: 120_000,
    });
    // The guest's server answers on the host's loopback port once the guest is up.
    let reply = '';
    for (let i = 0; i < 200 && reply === ''; i++) {
      reply = await new Promise<string>((resolve) => {
        const socket = connect(hostPort, '127.0.0.1');
        let data = '';
        socket
          .setEncoding('utf8')
          .on('data', (d) => (data += d))
          .on('close', () => resolve(data))
          .on('error', () => resolve(''));
      });
      if (reply === '') await new Promise((r) => setTimeout(r, 500));
    }
    expect(reply).toBe('from-guest');
    expect((await first).exitCode).toBe(0);
    const again = await runInVm({ rootDisk, command: 'cat /etc/brine-smoke' });
    expect(again).toMatchObject({ exitCode: 0, stdout: 'kept\n' });
    const fresh = await runInVm({ command: 'cat /etc/brine-smoke' });
    expect(fresh.exitCode).not.toBe(0);
  });
});

describe('systemd mode', () => {
  it('boots systemd as PID 1 with units enabled by setup, and runs the command from a unit', async () => {
    const r = await runInVm({
      systemd: true,
      setup: `cat > /etc/systemd/system/brine-smoke.service <<'EOF'
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo started-at-boot > /run/brine-smoke'
[Install]
WantedBy=multi-user.target
EOF
systemctl enable brine-smoke.service`,
      command: `cat /proc/1/comm
systemctl is-system-running --wait
systemctl is-active brine-smoke.service
cat /run/brine-smoke
systemd-run --quiet --wait --unit=brine-started-later -p Type=oneshot /bin/sh -c 'echo started-later > /run/later'
cat /run/later
exit 4`,
    });
    expect(r).toMatchObject({ exitCode: 4, stdout: 'systemd\nrunning\nactive\nstarted-at-boot\nstarted-later\n' });
  });
});
