import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@brine/common';
import { ControlServer } from '../src/control/server.js';

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
const start = async (sockDir: string) => {
  const server = new ControlServer(join(sockDir, 'master.sock'), {} as never, {} as never, {} as never, log);
  await server.start();
  servers.push(server);
};
const mode = (path: string) => statSync(path).mode & 0o777;

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
