import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame, Hostile, LOW_ORDER_POINT, msgFrame, T, x25519KeyPair } from './hostile-client.js';
import { acceptKey, attackCluster, authenticated, SECRETS, sleep } from './support.js';

/**
 * The master against a client that follows PROTOCOL.md only where it wants to:
 * each case is a class of attack, with the figure it must hold to.
 */
describe('adversary on the wire', () => {
  const cluster = attackCluster();
  const masterLog = () => cluster.master!.output;

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  it('records the TCP peer of the connection, whatever PLAIN user name another connection claims', async () => {
    const { client: victim } = await authenticated(cluster, 'web1');
    // A thief on another address presents the victim's routing id as its PLAIN user name.
    const thief = new Hostile({ port: cluster.port, source: '127.0.0.2', plainUsername: victim.routingId, receiveTimeoutMs: 500 });
    await thief.send(frame(T.hello, x25519KeyPair().publicKey)).catch(() => undefined);
    await sleep(300);
    const got = await victim.call('pillar.get', { path: 'site' });
    expect(got?.header['value']).toBe('e2e');
    const delivered = await cluster.waitForAudit(
      (r) => r['event'] === 'pillar_delivered' && r['minion'] === 'web1' && r['path'] === 'site',
    );
    expect(delivered['peer']).toBe('127.0.0.1');
    thief.close();
    victim.close();
  });

  it('drops frames of a connection whose routing id is not the user name its address was bound under', async () => {
    const liar = new Hostile({ port: cluster.port, plainUsername: 'ab'.repeat(16), receiveTimeoutMs: 700 });
    expect(await liar.hello(x25519KeyPair().publicKey)).toBeUndefined();
    await cluster.waitForAudit((r) => r['event'] === 'refused_unbound_peer');
    liar.close();
    // The master serves honest clients all the while.
    const { client } = await authenticated(cluster, 'db1');
    expect((await client.call('ping'))?.header['value']).toBe(true);
    client.close();
  });

  it('refuses low-order keys and invalid ids as refusals: audited, answered, never an internal error', async () => {
    const before = masterLog().length;
    // A low-order ephemeral key: the master's X25519 would be all zeros.
    const weakEphemeral = new Hostile({ port: cluster.port });
    const w = await weakEphemeral.hello(LOW_ORDER_POINT);
    expect(w).toBeDefined();
    const identityLength = 16 + 1 + 4 + 32; // MAC, length byte, a 4-byte id, public key
    await weakEphemeral.send(frame(T.auth, w!.cookie, Uint8Array.of(identityLength), new Uint8Array(identityLength), new Uint8Array(40)));
    const refusal = await weakEphemeral.receive();
    expect(refusal).toBeDefined();
    expect(refusal![1]! & 0x0f).toBe(T.refuse);
    // A low-order minion key, and an id that is not UTF-8, each through a well-formed handshake.
    const lowKey = new Hostile({ port: cluster.port });
    const outcomeLow = await lowKey.authenticate('web9', { publicKey: LOW_ORDER_POINT, secretKey: x25519KeyPair().secretKey });
    expect(outcomeLow.status).not.toBe('accepted');
    const badId = new Hostile({ port: cluster.port });
    const outcomeId = await badId.authenticate(Uint8Array.of(0x77, 0xff, 0xfe, 0x31), x25519KeyPair());
    expect(outcomeId.status).not.toBe('accepted');
    await cluster.waitForAudit((r) => r['event'] === 'refused_bad_key');
    await cluster.waitForAudit((r) => r['event'] === 'refused_bad_request' && String(r['reason']).includes('UTF-8'));
    const logged = masterLog().slice(before);
    expect(logged).not.toContain('internal error');
    expect(logged).not.toMatch(/"stack"/);
    for (const c of [weakEphemeral, lowKey, badId]) c.close();
  });

  it('bounds the audit log under a flood of garbage inside a live session', async () => {
    const { client } = await authenticated(cluster, 'web1');
    const s = client.session!;
    const size = () => statSync(cluster.auditLog).size;
    await sleep(200);
    const start = size();
    // The session id travels in clear: anyone on the path can stamp garbage with it.
    for (let i = 0; i < 5000; i++) await client.send(msgFrame(s.id, 1000 + i, new Uint8Array(64)));
    expect((await client.call('ping'))?.header['value']).toBe(true);
    await sleep(300);
    const grown = size() - start;
    const lines = readFileSync(cluster.auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('refused_tampered')).length;
    expect(lines).toBeLessThanOrEqual(20);
    expect(grown).toBeLessThan(20_000);
    client.close();
  });

  it('caps pending keys per address and in all, refusing the rest without writing them', async () => {
    const pendingDir = join(cluster.dir, 'master-pki', 'minions_pre');
    expect(readdirSync(pendingDir)).toEqual([]);
    /** New keys from one address, counted by the auth result each got. */
    const flood = async (source: string, prefix: string, n: number) => {
      const statuses: Record<string, number> = {};
      const client = new Hostile({ port: cluster.port, source });
      for (let i = 0; i < n; i++) {
        const { status } = await client.authenticate(`${prefix}${i}`, x25519KeyPair());
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
      client.close();
      return statuses;
    };
    // max_pending_keys_per_address is 20 and max_pending_keys 40 in this cluster.
    expect(await flood('127.0.0.1', 'flood', 60)).toEqual({ pending: 20, refused: 40 });
    expect(readdirSync(pendingDir)).toHaveLength(20);
    expect(await flood('127.0.0.3', 'other', 30)).toEqual({ pending: 20, refused: 10 });
    expect(await flood('127.0.0.4', 'third', 5)).toEqual({ refused: 5 });
    expect(readdirSync(pendingDir)).toHaveLength(40);
    const refusedLines = readFileSync(cluster.auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('refused_key_limit')).length;
    expect(refusedLines).toBeLessThanOrEqual(30);
  });

  it("never lets one minion name another minion's pillar", async () => {
    const { client } = await authenticated(cluster, 'web1');
    for (const args of [
      { path: 'luks:password', minion: 'db1' },
      { path: 'luks:password', id: 'db1' },
      { path: 'db1:luks:password' },
      { path: '../db1' },
    ]) {
      const got = await client.call('pillar.get', { ...args, raw: true });
      const text = Buffer.from(got?.body ?? new Uint8Array()).toString('utf8');
      expect(text).not.toContain(SECRETS[0]);
      expect(text).not.toContain(SECRETS[2]);
    }
    client.close();
  });

  it('keeps serving a minion while another peer floods requests and never reads the answers', async () => {
    const { client: slow } = await authenticated(cluster, 'db1');
    slow.socket.receiveHighWaterMark = 1;
    // More answers than the master queues for one peer (send_hwm) plus what TCP buffers hold.
    for (let i = 0; i < 30_000; i++) await slow.send(slow.request('state.tree'));
    // Until the master has answered them all: ROUTER reads peers fairly, so only then is the queue full.
    await sleep(4000);
    const honest = new Hostile({ port: cluster.port, receiveTimeoutMs: 10_000 });
    expect((await honest.authenticate('web1', acceptKey(cluster, 'web1'))).status).toBe('accepted');
    expect((await honest.call('pillar.get', { path: 'site' }))?.header['value']).toBe('e2e');
    slow.close();
    honest.close();
  });

  it('leaks no secret into the master log or the audit log', () => {
    const everything = masterLog() + readFileSync(cluster.auditLog, 'utf8');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
    // And after everything above, the master still runs.
    expect(cluster.master!.child.exitCode).toBeNull();
  });
});
