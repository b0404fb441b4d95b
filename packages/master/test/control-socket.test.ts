import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@brine/common';
import { ControlServer } from '../src/control/server.js';
import { lookupGroup, type OperatorGroup } from '../src/operator-group.js';

const log = createLogger({ name: 'test', level: 'silent' });
const servers: ControlServer[] = [];
const dirs: string[] = [];
afterEach(() => {
  servers.splice(0).forEach((s) => s.close());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sock-dir-'));
  dirs.push(dir);
  return dir;
};
const start = async (sockDir: string, group?: OperatorGroup) => {
  const server = new ControlServer(
    join(sockDir, 'master.sock'),
    {} as never,
    {} as never,
    {} as never,
    {} as never,
    {} as never,
    {} as never,
    log,
    group,
  );
  await server.start();
  servers.push(server);
};
const mode = (path: string) => statSync(path).mode & 0o777;
const gid = (path: string) => statSync(path).gid;
// Any group other than the test's own shows the chown happened; the tests run as root, which may give files to it.
const daemon: OperatorGroup = { name: 'daemon', gid: lookupGroup('daemon')! };

describe('the control socket directory', () => {
  it('is created 0700 when missing, with the socket 0600', async () => {
    const dir = join(scratch(), 'run', 'brine');
    await start(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'master.sock'))).toBe(0o600);
  });

  it('is never chmodded when it exists: a directory others can enter or write is refused as it is', async () => {
    const shared = join(scratch(), 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    await expect(start(shared)).rejects.toThrow(`sock_dir ${shared} is mode 1777`);
    expect(mode(shared) | 0o1000).toBe(0o1777);
    chmodSync(shared, 0o755);
    await expect(start(shared)).rejects.toThrow(/chmod 700 .*or point sock_dir at a directory of its own/);
    expect(mode(shared)).toBe(0o755);
  });

  it('refuses a symbolic link, and uses a private directory that exists', async () => {
    const base = scratch();
    const real = join(base, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(base, 'link'));
    await expect(start(join(base, 'link'))).rejects.toThrow('is not a directory');
    await start(real);
    expect(mode(join(real, 'master.sock'))).toBe(0o600);
  });
});

describe('the control socket directory with sock_group', () => {
  it('is created 0750 of the group, with the socket 0660 of the group', async () => {
    const dir = join(scratch(), 'run', 'brine');
    await start(dir, daemon);
    expect([mode(dir), gid(dir)]).toEqual([0o750, daemon.gid]);
    const sock = join(dir, 'master.sock');
    expect([mode(sock), gid(sock)]).toEqual([0o660, daemon.gid]);
  });

  it("uses an existing 0750 directory of the group (systemd's RuntimeDirectory), and refuses one of another group, group-writable, or 0700", async () => {
    const dir = join(scratch(), 'brine');
    mkdirSync(dir);
    chmodSync(dir, 0o750);
    await expect(start(dir, daemon)).rejects.toThrow(
      `it must be mode 750 and group daemon (sock_group, gid ${daemon.gid}); chgrp daemon ${dir} && chmod 750 ${dir}`,
    );
    chownSync(dir, -1, daemon.gid);
    chmodSync(dir, 0o770);
    await expect(start(dir, daemon)).rejects.toThrow(`sock_dir ${dir} is mode 770`);
    chmodSync(dir, 0o700);
    await expect(start(dir, daemon)).rejects.toThrow(`sock_dir ${dir} is mode 700`);
    chmodSync(dir, 0o750);
    await start(dir, daemon);
    expect([mode(join(dir, 'master.sock')), gid(join(dir, 'master.sock'))]).toEqual([0o660, daemon.gid]);
  });
});
