import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@brine/common';
import { FailoverChannel } from '@brine/minion';
import { MinionIdentity, X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustOnly } from '../../bench/lib/fleet-keys.mjs';
import { ROOT, type Cluster, type Daemon } from '../support/cluster.js';
import { EtcdCluster } from '../../bench/lib/etcd.mjs';
import { startClusterMasters } from '../support/masters.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
/** vault* minions' luks:password, marked !secret in the pillar. */
const VAULT_SECRET = 'VAULT-SECRET-5d9e21';
/** Seconds a master cut off from etcd keeps serving (cluster.stale_max), short for the test. */
const STALE_MAX = 2;
const ESTABLISHED = 'session with master established';
const MOVED = 'master unavailable; moving to the next one';

const moves = (d: Daemon) => d.lines().filter((l) => l['msg'] === MOVED);

/**
 * Master A reaches etcd through one member only, B through the two others. That
 * member killed, the cluster keeps its quorum and B stays current, while A is cut
 * off and, past stale_max, refuses with `cluster_stale`: its minions must move to B.
 */
describe('a master cut off from etcd: its minions move to another master of the cluster', () => {
  let etcd: EtcdCluster;
  let a: Cluster;
  let b: Cluster;
  let cut: number;
  let channel: FailoverChannel | undefined;

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
    // A follower, so that killing it costs B no leader election.
    cut = ((await etcd.leader()) + 1) % 3;
    const endpoints = { a: [etcd.endpoints[cut]!], b: etcd.endpoints.filter((_, i) => i !== cut) };
    [a, b] = (await startClusterMasters(etcd, ['a', 'b'], PILLAR, {
      cluster: { stale_max: STALE_MAX },
      master: { auto_accept: true },
      endpoints,
    })) as [Cluster, Cluster];
  }, 120_000);
  afterAll(async () => {
    channel?.close();
    await Promise.all([a, b].map((m) => m?.close()));
    await etcd?.stop();
  });

  it('moves at the next ping, at the handshake, and for a secret request; each gets its answer from B', async () => {
    const masters = { master: [a.address, b.address], master_type: 'failover' };
    const web = a.startMinion({ id: 'web1', extra: { ...masters, master_alive_interval: 1 } });
    expect((await web.waitFor('minion ready'))['master']).toBe(a.address);
    // A link of the test's own, with a session on A, to ask for a secret once A is stale.
    const identity = readFileSync(join(a.dir, 'master-pki', 'master.pub'), 'utf8').trim();
    const log = createLogger({ name: 'test', level: 'silent' });
    channel = new FailoverChannel({
      masters: [a, b].map((m) => ({ host: '127.0.0.1', port: m.port })),
      identity: new MinionIdentity('vault1', X25519Key.generate()),
      trust: trustOnly(identity),
      role: 'cli',
      grains: {},
      timeoutMs: 5000,
      log,
    });
    await channel.connect();
    expect(channel.master).toBe(a.address);

    await etcd.kill(cut);
    const stale = await a.waitForAudit((r) => r['event'] === 'cluster_stale', (STALE_MAX + 5) * 1000);
    const staleAt = Date.parse(String(stale['time']));

    // A request refused with cluster_stale is sent again to B, which answers it.
    const { raw } = await channel.request('pillar.get', { path: 'luks:password', raw: true });
    expect(Buffer.from(raw!).toString()).toBe(VAULT_SECRET);
    expect(channel.master).toBe(b.address);
    // Audit lines are appended in groups: wait for them rather than read the files at once.
    await a.waitForAudit((r) => r['event'] === 'refused_cluster_stale' && r['minion'] === 'vault1', 5_000);
    await b.waitForAudit((r) => r['event'] === 'pillar_delivered' && r['minion'] === 'vault1' && r['secret'] === true, 5_000);

    // The daemon's next ping (every second here) is refused: it is on B within a few seconds, no backoff.
    const onB = await web.waitFor(ESTABLISHED, { times: 2 });
    expect(Date.parse(String(onB['time'])) - staleAt).toBeLessThan(5_000);
    expect(moves(web)).toEqual([expect.objectContaining({ master: a.address, code: 'cluster_stale', next: b.address })]);
    const ping = await b.masterCmd('ping', 'web1', '--json');
    expect(ping.exitCode, String(ping.stderr)).toBe(0);

    // A minion starting now is refused at the handshake, goes on to B, and its startup states get their key there.
    const out = join(a.dir, 'out');
    mkdirSync(out, { recursive: true });
    const vault = a.startMinion({
      id: 'vault2',
      extra: { ...masters, startup_states: 'sls', sls_list: ['unlock'], grains: { out_dir: out } },
    });
    expect((await vault.waitFor('startup states succeeded'))['jid']).toBeDefined();
    expect(readFileSync(join(out, 'vault2.key'), 'utf8').trim()).toBe(VAULT_SECRET);
    expect(moves(vault)).toEqual([expect.objectContaining({ master: a.address, code: 'cluster_stale', next: b.address })]);
    expect(vault.count('cannot authenticate to the master yet')).toBe(0);
    expect(vault.output).not.toContain(VAULT_SECRET);
  });
});
