import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from '@brine/common';
import { X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';
import { netnsUnavailable, VethNamespace } from '../support/netns.js';
import { RawClient } from '../support/raw-client.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const REFUSED = 'master will not serve this minion from its address';

describe('minion_networks, from a second loopback address', () => {
  const cluster = new Cluster(PILLAR, {
    auto_accept: true,
    minion_networks: { 'net*': ['127.0.0.2/32', 'fd00::/64'] },
  });

  beforeAll(() => cluster.startMaster());
  afterAll(() => cluster.close());

  it('refuses a restricted minion connecting from 127.0.0.1, audits the address, and records no key for it', async () => {
    const minion = cluster.startMinion({ id: 'net1' });
    try {
      const line = await minion.waitFor(REFUSED);
      expect(String(line['reason'])).toContain('network_refused: this minion is not served from 127.0.0.1');
      // Not which networks are allowed: whoever holds a stolen key would like to know.
      expect(String(line['reason'])).not.toContain('127.0.0.2');
      const record = await cluster.waitForAudit((r) => r['event'] === 'refused_network' && r['minion'] === 'net1');
      expect(record).toMatchObject({ peer: '127.0.0.1', reason: "127.0.0.1 is outside 127.0.0.2/32, fd00::/64 (minion_networks 'net*')" });
      expect(record['fingerprint']).toMatch(/\S/);
      expect(minion.count('minion ready')).toBe(0);
      // The minion waits before it tries again, rather than in a tight loop.
      await new Promise((r) => setTimeout(r, 1500));
      expect(minion.count(REFUSED)).toBe(1);
      const keys = await cluster.keyList();
      expect([...keys.pending, ...keys.accepted, ...keys.denied]).not.toContain('net1');
    } finally {
      await minion.stop();
    }
  });

  it('serves the same minion from 127.0.0.2 (source_address)', async () => {
    const minion = cluster.startMinion({ id: 'net1', extra: { source_address: '127.0.0.2' } });
    await minion.waitFor('minion ready');
    expect(await cluster.waitForAudit((r) => r['event'] === 'session_opened' && r['minion'] === 'net1')).toMatchObject({
      peer: '127.0.0.2',
    });
    const ping = await cluster.masterCmd('ping', 'net1');
    expect(ping.exitCode, String(ping.stderr)).toBe(0);
  });

  it('refuses the requests of a session that come over a connection from elsewhere, and keeps serving it from its network', async () => {
    const key = X25519Key.generate();
    writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'net9'), key.publicKey, { secret: false });
    const inside = new RawClient(cluster.port, 'net9', key, '127.0.0.2');
    const outside = new RawClient(cluster.port, 'net9', key);
    try {
      expect((await inside.handshake()).header).toMatchObject({ status: 'accepted' });
      expect((await inside.call(inside.request('ping')))?.header).toMatchObject({ ok: true });
      // The session's keys, used from 127.0.0.1: as if they had been read out of the minion's memory.
      outside.session = inside.session;
      expect((await outside.call(outside.request('ping')))?.header).toMatchObject({
        ok: false,
        error: { code: 'network_refused' },
      });
      expect(await cluster.waitForAudit((r) => r['event'] === 'refused_network' && r['minion'] === 'net9')).toMatchObject({
        peer: '127.0.0.1',
      });
      expect((await inside.call(inside.request('ping')))?.header).toMatchObject({ ok: true });
    } finally {
      inside.close();
      outside.close();
    }
  });

  it('leaves a minion no glob matches unrestricted', async () => {
    await cluster.startMinion({ id: 'free1' }).waitFor('minion ready');
    expect(await cluster.waitForAudit((r) => r['event'] === 'session_opened' && r['minion'] === 'free1')).toMatchObject({
      peer: '127.0.0.1',
    });
  });

  it('serves a key accepted with --networks only from those networks, whatever minion_networks says', async () => {
    const first = cluster.startMinion({ id: 'own1' });
    await first.waitFor('minion ready');
    await first.stop();
    const bad = await cluster.keys('accept', 'own1', '--include-rejected', '--networks', '127.0.0.2/32,10.0.0.0/33');
    expect(bad.exitCode).not.toBe(0);
    expect(String(bad.stderr)).toContain("--networks: '10.0.0.0/33': the prefix length must be 0 to 32");
    expect((await cluster.keys('reject', 'own1')).exitCode).toBe(0);
    const accepted = await cluster.keys('accept', 'own1', '--include-rejected', '--networks', '127.0.0.2/32,fd00::/64');
    expect(accepted.exitCode, String(accepted.stderr)).toBe(0);
    expect(await cluster.waitForAudit((r) => r['event'] === 'key_accepted' && r['minion'] === 'own1')).toMatchObject({
      reason: 'rejected -> accepted (networks 127.0.0.2/32, fd00::/64)',
    });
    // The operator sees the key's own networks after the lists, whose lines stay salt-key's; a minion
    // named after an Object property (ids are the minions' choice) lists like any other.
    await cluster.startMinion({ id: 'constructor' }).waitFor('minion ready');
    const text = await cluster.keys('list');
    expect(text.exitCode, String(text.stderr)).toBe(0);
    expect(String(text.stdout)).toMatch(/^own1$/m);
    expect(String(text.stdout)).toMatch(/^constructor$/m);
    expect(String(text.stdout)).toMatch(/Accepted Keys' Own Networks:\nown1: 127\.0\.0\.2\/32, fd00::\/64$/);
    expect(await cluster.keyList()).not.toHaveProperty('networks');
    const json = JSON.parse(String((await cluster.keys('list', '--json', '--networks')).stdout)) as { networks: Record<string, string[]> };
    expect(json.networks).toEqual({ own1: ['127.0.0.2/32', 'fd00::/64'] });
    const outside = cluster.startMinion({ id: 'own1' });
    try {
      await outside.waitFor(REFUSED);
      expect(await cluster.waitForAudit((r) => r['event'] === 'refused_network' && r['minion'] === 'own1')).toMatchObject({
        peer: '127.0.0.1',
        reason: "127.0.0.1 is outside 127.0.0.2/32, fd00::/64 (the key's own networks)",
      });
    } finally {
      await outside.stop();
    }
    await cluster.startMinion({ id: 'own1', extra: { source_address: '127.0.0.2' } }).waitFor('minion ready');
  });
});

const hasIpv6Loopback = Object.values(networkInterfaces()).some((addrs) => addrs?.some((a) => a.address === '::1'));
if (!hasIpv6Loopback) console.warn('skipping the IPv6 test: no ::1 on this host');

describe.skipIf(!hasIpv6Loopback)('minion_networks on a dual-stack master (interface ::)', () => {
  const cluster = new Cluster(PILLAR, {
    interface: '::',
    auto_accept: true,
    minion_networks: { 'v6*': ['::1/128'], 'v4*': ['127.0.0.2/32'] },
  });

  beforeAll(() => cluster.startMaster());
  afterAll(() => cluster.close());

  it('serves an IPv6 minion from its IPv6 network', async () => {
    await cluster.startMinion({ id: 'v6a', extra: { master: `[::1]:${cluster.port}` } }).waitFor('minion ready');
    expect(await cluster.waitForAudit((r) => r['event'] === 'session_opened' && r['minion'] === 'v6a')).toMatchObject({ peer: '::1' });
    // An IPv6 source_address.
    await cluster.startMinion({ id: 'v6c', extra: { master: `[::1]:${cluster.port}`, source_address: '::1' } }).waitFor('minion ready');
  });

  it('reads an IPv4 peer (::ffff:a.b.c.d on this socket) as its IPv4 address, for IPv4 and IPv6 rules alike', async () => {
    const refused = cluster.startMinion({ id: 'v6b' });
    await refused.waitFor(REFUSED);
    expect(await cluster.waitForAudit((r) => r['event'] === 'refused_network' && r['minion'] === 'v6b')).toMatchObject({
      peer: '::ffff:127.0.0.1',
      reason: "127.0.0.1 is outside ::1/128 (minion_networks 'v6*')",
    });
    await cluster.startMinion({ id: 'v4a', extra: { source_address: '127.0.0.2' } }).waitFor('minion ready');
    expect(await cluster.waitForAudit((r) => r['event'] === 'session_opened' && r['minion'] === 'v4a')).toMatchObject({
      peer: '::ffff:127.0.0.2',
    });
  });
});

const unavailable = netnsUnavailable();
if (unavailable) console.warn(`skipping the network namespace test: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('minion_networks, from a network namespace', () => {
  const ns = new VethNamespace('e2e', 214);
  const cluster = new Cluster(PILLAR, {
    interface: ns.hostIp,
    auto_accept: true,
    minion_networks: { 'ns-ok': [ns.subnet], 'ns-no': ['192.0.2.0/24', 'fd00::/64'] },
  });

  beforeAll(async () => {
    ns.create();
    await cluster.startMaster();
  });
  afterAll(async () => {
    await cluster.close();
    ns.remove();
  });

  const master = () => `${ns.hostIp}:${cluster.port}`;

  it('serves a minion in the namespace whose networks include its address', async () => {
    const minion = cluster.startMinion({ id: 'ns-ok', wrap: ns.exec, extra: { master: master() } });
    await minion.waitFor('minion ready');
    expect(await cluster.waitForAudit((r) => r['event'] === 'session_opened' && r['minion'] === 'ns-ok')).toMatchObject({
      peer: ns.peerIp,
    });
  });

  it('refuses, and audits with its address, a minion in the namespace whose networks do not', async () => {
    const minion = cluster.startMinion({ id: 'ns-no', wrap: ns.exec, extra: { master: master() } });
    await minion.waitFor(REFUSED);
    expect(await cluster.waitForAudit((r) => r['event'] === 'refused_network' && r['minion'] === 'ns-no')).toMatchObject({
      peer: ns.peerIp,
      reason: `${ns.peerIp} is outside 192.0.2.0/24, fd00::/64 (minion_networks 'ns-no')`,
    });
    expect(minion.count('minion ready')).toBe(0);
  });
});
