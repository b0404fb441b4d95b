import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';
import { Hostile, T, x25519KeyPair, type RawKeyPair } from './hostile-client.js';
import { acceptKey, attackCluster, authenticated, SECRETS, sleep } from './support.js';

const isMsg = (f: Uint8Array | undefined) => f !== undefined && (f[1]! & 0x0f) === T.msg;

/** Handshakes, sessions and keys under attack: nothing but the real key holder's own requests get an answer. */
describe('adversary against sessions and keys', () => {
  const cluster = attackCluster();

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  it('refuses replayed AUTH and MSG frames in a later session and after a master restart', async () => {
    const key = acceptKey(cluster, 'web1');
    const first = new Hostile({ port: cluster.port });
    const outcome = await first.authenticate('web1', key);
    expect(outcome.status).toBe('accepted');
    const request = first.request('pillar.get', { path: 'luks:password', raw: true });
    expect(Buffer.from(first.open(await (first.send(request), first.receive()))!.body).toString()).toBe(SECRETS[1]);
    // Same connection, same session: the counter was used.
    await first.send(request);
    expect(await first.receive()).toBeUndefined();
    // From another connection, with a newer session of the same minion open.
    const second = new Hostile({ port: cluster.port, receiveTimeoutMs: 700 });
    expect((await second.authenticate('web1', key)).status).toBe('accepted');
    const thief = new Hostile({ port: cluster.port, receiveTimeoutMs: 700 });
    await thief.send(outcome.authFrame);
    expect(isMsg(await thief.receive())).toBe(false);
    await thief.send(request);
    expect(isMsg(await thief.receive())).toBe(false);
    // After a restart the master knows neither the prekey nor the session.
    await cluster.master!.stop();
    await cluster.startMaster();
    const later = new Hostile({ port: cluster.port, receiveTimeoutMs: 700 });
    await later.send(outcome.authFrame);
    expect(isMsg(await later.receive())).toBe(false);
    await later.send(request);
    expect(isMsg(await later.receive())).toBe(false);
    for (const c of [first, second, thief, later]) c.close();
  });

  it('gives nothing for bit flips, truncation or reordering of handshake and session frames', async () => {
    const key = acceptKey(cluster, 'web1');
    let accepted = 0;
    // Flip one bit in each of 12 positions spread over an AUTH (cookie, identity, message 0).
    for (let i = 0; i < 12; i++) {
      const c = new Hostile({ port: cluster.port, receiveTimeoutMs: 300 });
      const honest = new Hostile({ port: cluster.port, receiveTimeoutMs: 500 });
      const { authFrame } = await honest.authenticate('web1', key);
      honest.close();
      const bent = authFrame.slice();
      bent[2 + Math.floor((i * (bent.length - 3)) / 12)]! ^= 1 << (i % 8);
      await c.send(bent);
      if (isMsg(await c.receive())) accepted++;
      c.close();
    }
    expect(accepted).toBe(0);
    const { client } = await authenticated(cluster, 'web1');
    client.socket.receiveTimeout = 300;
    const good = client.request('ping');
    let answers = 0;
    for (const cut of [good.length - 1, good.length - 16, 30, 26]) {
      await client.send(good.slice(0, cut));
      if (client.open(await client.receive())) answers++;
    }
    const flipped = good.slice();
    flipped[good.length - 5]! ^= 0x40;
    await client.send(flipped);
    if (client.open(await client.receive())) answers++;
    expect(answers).toBe(0);
    // Counters out of order: the later one is accepted, the earlier one then refused.
    const s = client.session!;
    const a = client.request('ping', {}, s.sendCounter + 5);
    const b = client.request('ping', {}, s.sendCounter + 2);
    await client.send(a);
    expect(client.open(await client.receive())?.header['ok']).toBe(true);
    await client.send(b);
    expect(await client.receive()).toBeUndefined();
    client.close();
  });

  it('answers keys that are unknown, pending, rejected or denied with their status and never a value', async () => {
    const pki = join(cluster.dir, 'master-pki');
    const rejected = x25519KeyPair();
    writeFileSync(join(pki, 'minions_rejected', 'db1'), `${Buffer.from(rejected.publicKey).toString('base64')}\n`);
    const cases: [string, RawKeyPair, string][] = [
      ['newcomer1', x25519KeyPair(), 'pending'],
      ['newcomer1', x25519KeyPair(), 'denied'],
      ['db1', rejected, 'rejected'],
      ['web1', x25519KeyPair(), 'denied'],
    ];
    for (const [id, key, status] of cases) {
      const c = new Hostile({ port: cluster.port });
      const then = { t: 'req', id: 1, op: 'pillar.get', args: { path: 'luks:password', raw: true } };
      const outcome = await c.authenticate(id, key, { role: 'cli', grains: {}, then });
      expect(outcome.status).toBe(status);
      expect(outcome.res).toBeUndefined();
      expect(outcome.session).toBeUndefined();
      c.close();
    }
  });

  it('delivers nothing after a revocation returns, under pipelined load', async () => {
    const { client } = await authenticated(cluster, 'web1');
    const replies: { ok: boolean; at: number }[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const got = client.open(await client.receive());
        if (got) replies.push({ ok: got.header['ok'] === true, at: Date.now() });
      }
    })();
    const writer = (async () => {
      for (let i = 0; i < 3000; i++) {
        await client.send(client.request('pillar.get', { path: 'luks:password', raw: true }));
        if (i % 100 === 0) await sleep(5);
      }
    })();
    await sleep(150);
    const rejected = await cluster.keys('reject', 'web1');
    const returnedAt = Date.now();
    expect(rejected.exitCode, String(rejected.stderr)).toBe(0);
    await writer;
    await sleep(1500);
    reading = false;
    await reader;
    expect(replies.filter((r) => r.ok).length).toBeGreaterThan(0);
    expect(replies.filter((r) => r.ok && r.at > returnedAt)).toEqual([]);
    const log = readFileSync(cluster.auditLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const lateDeliveries = log.filter(
      (r) => r['event'] === 'pillar_delivered' && r['minion'] === 'web1' && Date.parse(String(r['time'])) > returnedAt,
    );
    expect(lateDeliveries).toEqual([]);
    client.close();
  });
});

describe('adversary reporting grains', () => {
  const cluster = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar-grains'), { nodegroups: { dbs: ['db9'] } });

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  it("cannot reach another minion's pillar or a grain-selected secret by what it reports", async () => {
    const { client } = await authenticated(cluster, 'web1', { grains: { id: 'db2', role: 'db' } });
    const who = await client.call('pillar.get', { path: 'who' });
    expect(who?.header, JSON.stringify(who?.header)).toMatchObject({ ok: true, value: 'web1' });
    const secret = await client.call('pillar.get', { path: 'role_password', raw: true });
    expect(secret?.header['ok']).toBe(false);
    expect(Buffer.from(secret?.body ?? new Uint8Array()).toString()).toBe('');
    client.close();
  });
});
