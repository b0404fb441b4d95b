import { createLogger, type Logger } from '@brine/common';
import { X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../src/config.js';
import { connectEtcd, type EtcdConnection } from '../src/cluster/etcd.js';
import { EtcdKeyStore } from '../src/cluster/etcd-keystore.js';
import { EtcdCluster } from '../../../bench/lib/etcd.mjs';

const silent = createLogger({ name: 'test', level: 'silent' });

describe('EtcdKeyStore on a real etcd', () => {
  let etcd: EtcdCluster;
  const connections: EtcdConnection[] = [];
  const stores: EtcdKeyStore[] = [];

  /** A store whose client knows only the members `members` (indexes). */
  async function open(members: number[], log: Logger = silent): Promise<EtcdKeyStore> {
    const config: ClusterConfig = {
      etcd: members.map((i) => etcd.endpoints[i]!),
      prefix: '/unit',
      name: `m${members.join('')}`,
      stale_max: 30,
      pillar_check: 15,
      tls: undefined,
    };
    const conn = connectEtcd(config);
    connections.push(conn);
    const store = await EtcdKeyStore.open(conn.ns, { master: config.name, staleMaxMs: 30_000, audit: { write: () => {} }, log });
    stores.push(store);
    return store;
  }

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
  }, 60_000);
  afterAll(async () => {
    stores.forEach((s) => s.close());
    connections.forEach((c) => c.close());
    await etcd?.stop();
  });

  it("keeps an accepted key's own networks in its record, seen by every master, and drops them when it leaves accepted", async () => {
    const [one, other] = [await open([0, 1, 2]), await open([0, 1, 2])];
    const key = X25519Key.generate().publicKey;
    await one.admit('net1', key, false);
    await expect.poll(() => one.has('pending', 'net1')).toBe(true);
    expect(one.networks('net1')).toBeUndefined();
    await one.move('net1', 'pending', 'accepted', ['10.0.0.0/24', 'fd00::/64']);
    expect(one.networks('net1')).toEqual(['10.0.0.0/24', 'fd00::/64']);
    await expect.poll(() => other.networks('net1')).toEqual(['10.0.0.0/24', 'fd00::/64']);
    expect(other.isAccepted('net1', key)).toBe(true);
    const stored = JSON.parse((await etcd.etcdctl('get', '--print-value-only', '/unit/keys/accepted/net1')).stdout);
    expect(stored).toMatchObject({ networks: ['10.0.0.0/24', 'fd00::/64'] });
    await one.move('net1', 'accepted', 'rejected');
    await expect.poll(() => other.networks('net1')).toBeUndefined();
    // Accepted again without networks: minion_networks applies again.
    await one.move('net1', 'rejected', 'accepted');
    expect(one.networks('net1')).toBeUndefined();
    // A record whose networks cannot be read matches no address, rather than none restricting it.
    await etcd.etcdctl('put', '/unit/keys/accepted/net1', JSON.stringify({ ...stored, networks: ['nowhere'] }));
    await expect.poll(() => other.networks('net1')).toEqual([]);
    await expect.poll(() => one.networks('net1')).toEqual([]);
    await one.delete('net1');
  });

  it('never overwrites a change it did not see: a stale accept cannot undo a rejection', async () => {
    const [one, other] = [await open([0, 1, 2]), await open([0, 1, 2])];
    const key = X25519Key.generate().publicKey;
    expect(await one.admit('web1', key, false)).toEqual({ status: 'pending', recorded: true });
    await expect.poll(() => other.has('pending', 'web1')).toBe(true);
    await other.move('web1', 'pending', 'accepted');
    await other.move('web1', 'accepted', 'rejected');
    // `one` acts on the pending key it saw, as if its watch were late (its view set back by hand,
    // a delay no timing makes certain): etcd refuses the transaction.
    const seen = (one as unknown as { view: Record<string, Map<string, unknown>> }).view;
    const stalePending = seen['pending']!.get('web1') ?? { key, revision: 1 };
    await expect.poll(() => one.has('rejected', 'web1')).toBe(true);
    seen['pending']!.set('web1', stalePending);
    seen['rejected']!.delete('web1');
    await expect(one.move('web1', 'pending', 'accepted')).rejects.toMatchObject({ code: 'key_changed_meanwhile' });
    expect((await etcd.etcdctl('get', '--prefix', '--keys-only', '/unit/keys/accepted/')).stdout).toBe('');
  });

  it('after missing changes while cut off, and etcd compacting them away, reads everything again and reports the revocation', async () => {
    const warnings: string[] = [];
    const log = Object.assign(Object.create(silent) as Logger, { warn: (_: object, msg: string) => void warnings.push(msg) });
    const cutOff = await open([0], log);
    const writer = await open([1, 2]);
    const key = X25519Key.generate().publicKey;
    await writer.admit('db1', key, true);
    await expect.poll(() => cutOff.isAccepted('db1', key)).toBe(true);
    const revoked: string[] = [];
    cutOff.onRevoked((id) => revoked.push(id));

    await etcd.kill(0);
    await etcd.waitWritable();
    await writer.move('db1', 'accepted', 'rejected');
    const rev = JSON.parse((await etcd.etcdctl('get', '/unit/keys/revision', '-w', 'json')).stdout) as { header: { revision: number } };
    expect((await etcd.etcdctl('compact', String(rev.header.revision))).exitCode).toBe(0);
    expect(cutOff.isAccepted('db1', key)).toBe(true);
    etcd.restart(0);
    await expect.poll(() => cutOff.isAccepted('db1', key), { timeout: 15_000 }).toBe(false);
    expect(cutOff.has('rejected', 'db1')).toBe(true);
    expect(revoked).toEqual(['db1']);
    // Not by resuming the watch: the history it would resume from was compacted.
    expect(warnings).toContain('etcd watch cancelled; reading the minion keys again');
  }, 30_000);
});
