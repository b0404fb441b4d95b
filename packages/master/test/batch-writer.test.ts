import { createLogger } from '@brine/common';
import type { Namespace } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdBatchWriter, TXN_MAX_OPS } from '../src/cluster/batch-writer.js';
import { MasterLease } from '../src/cluster/lease.js';
import { useRealEtcd } from './real-etcd.js';

/** etcd's current revision: every transaction moves it by one, however many keys it writes. */
const revision = async (ns: Namespace) => Number((await ns.get('any').exec()).header.revision);

describe('etcd writes in batches', () => {
  const etcd = useRealEtcd(1, '/batch-test');

  it('sends the puts of one moment as a few transactions, not one call each', async () => {
    const { ns } = etcd.connect();
    const writer = new EtcdBatchWriter(ns);
    const before = await revision(ns);
    const n = 2 * TXN_MAX_OPS + 50;
    await Promise.all(Array.from({ length: n }, (_, i) => writer.put(`k/${i}`, `v${i}`)));
    expect(await revision(ns)).toBe(before + 3);
    const stored = await ns.getAll().prefix('k/').strings();
    expect(Object.keys(stored)).toHaveLength(n);
    expect(stored['k/7']).toBe('v7');
  });

  it('keeps only the newest value of a key put twice before its turn, and resolves both puts', async () => {
    const { ns } = etcd.connect();
    const writer = new EtcdBatchWriter(ns);
    const before = await revision(ns);
    await Promise.all([writer.put('twice', 'old'), writer.put('twice', 'new')]);
    expect(await ns.get('twice').string()).toBe('new');
    expect(await revision(ns)).toBe(before + 1);
  });

  it('attaches lease-bound puts to the lease, and they go with it', async () => {
    const { ns } = etcd.connect();
    const lease = new MasterLease(ns, createLogger({ name: 'test', level: 'silent' }));
    await Promise.all([lease.put('held/a', '1'), lease.put('held/b', '2')]);
    expect(await ns.getAll().prefix('held/').keys()).toEqual(['held/a', 'held/b']);
    await lease.close();
    expect(await ns.getAll().prefix('held/').keys()).toEqual([]);
  });

  it('fails every put of a transaction etcd did not take', async () => {
    const { ns } = etcd.connect(await etcd.nowhere());
    const writer = new EtcdBatchWriter(ns);
    const results = await Promise.allSettled([writer.put('x', '1'), writer.put('y', '2')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'etcd_unavailable' });
  }, 10_000);

  it('takes a new lease after a backoff when etcd refuses, logging the loss once, not in a loop', async () => {
    const { ns } = etcd.connect(await etcd.nowhere());
    let grants = 0;
    const counting = new Proxy(ns, {
      get: (target, prop, receiver) =>
        prop === 'lease'
          ? (...args: Parameters<Namespace['lease']>) => (grants++, target.lease(...args))
          : Reflect.get(target, prop, receiver),
    });
    const warnings: string[] = [];
    const log = createLogger({ name: 'test', level: 'silent' });
    log.warn = ((_obj: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
    const lease = new MasterLease(counting, log);
    await new Promise((r) => setTimeout(r, 4000));
    await lease.close();
    // Backoff from 0.5 s doubling: a handful of grants in 4 s (a loop makes thousands).
    expect(grants).toBeGreaterThanOrEqual(2);
    expect(grants).toBeLessThanOrEqual(6);
    expect(warnings).toEqual(['etcd lease lost (etcd out of reach); taking a new one']);
  }, 10_000);
});
