import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@brine/common';
import { describe, expect, it } from 'vitest';
import { EtcdSpool } from '../src/cluster/spool.js';
import { useRealEtcd } from './real-etcd.js';

const silent = createLogger({ name: 'test', level: 'silent' });

describe('EtcdSpool', () => {
  const etcd = useRealEtcd(1, '/spool-test');
  const cachedir = () => mkdtempSync(join(tmpdir(), 'brine-spool-'));

  it('writes straight to etcd while it answers, and refuses to create a key that exists', async () => {
    const { ns } = etcd.connect();
    const spool = new EtcdSpool(ns, cachedir(), silent);
    await spool.put('a', '1');
    expect(await ns.get('a').string()).toBe('1');
    await expect(spool.put('a', '2', { ifAbsent: true })).rejects.toMatchObject({ code: 'key_exists' });
    expect(spool.waiting).toBe(0);
  });

  it('keeps on disk, in order, what etcd does not take, and replays it after a restart once etcd answers', async () => {
    const dir = cachedir();
    const down = new EtcdSpool(etcd.connect(await etcd.nowhere()).ns, dir, silent);
    // Each waits for etcd's call deadline and goes to disk; r2 waits for r1, then queues behind it at once.
    await Promise.all([down.put('job', 'j'), down.put('ret', 'r1'), down.put('ret', 'r2')]);
    expect(down.waiting).toBe(3);
    expect(readdirSync(join(dir, 'spool'))).toHaveLength(3);
    down.close();

    const { ns } = etcd.connect();
    const up = new EtcdSpool(ns, dir, silent);
    await expect.poll(() => up.waiting, { timeout: 10_000 }).toBe(0);
    expect(await ns.get('job').string()).toBe('j');
    // The later write of one key was not overtaken by the earlier.
    expect(await ns.get('ret').string()).toBe('r2');
    await expect.poll(() => readdirSync(join(dir, 'spool')), { timeout: 2_000 }).toEqual([]);
  }, 20_000);

  it('refuses a write past its limits instead of growing without bound', async () => {
    const spool = new EtcdSpool(etcd.connect(await etcd.nowhere()).ns, cachedir(), silent, { maxEntries: 1, maxBytes: 1024 });
    await spool.put('one', 'x');
    await expect(spool.put('two', 'y')).rejects.toMatchObject({ code: 'spool_full' });
    spool.close();
  }, 20_000);
});
