import { join } from 'node:path';
import { readKeyFile, writeKeyFile } from '@brine/common';
import { X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const VAULT_SECRET = 'VAULT-SECRET-5d9e21';
const SECRETS = ['DB1-SECRET-7f3a9c', 'WEB1-SECRET-b2e4d1', VAULT_SECRET];

describe('master and minion over the encrypted channel', () => {
  const cluster = new Cluster(PILLAR);

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  /** Starts a minion daemon and accepts its key the way an operator would. */
  async function acceptedMinion(id: string) {
    const minion = cluster.startMinion({ id });
    await minion.waitFor('key not accepted yet; on the master run: master keys accept ' + id);
    const accept = await cluster.keys('accept', id);
    expect(accept.exitCode).toBe(0);
    await minion.waitFor('minion ready');
    return minion;
  }

  it('accept flow: a new minion waits as pending, showing the fingerprint the master lists', async () => {
    const minion = cluster.startMinion({ id: 'db1' });
    const waiting = await minion.waitFor('key not accepted yet; on the master run: master keys accept db1');
    expect((await cluster.keyList()).pending).toEqual(['db1']);
    const fp = await cluster.keys('fingerprint', 'db1');
    expect(String(fp.stdout)).toContain(`db1 (pending): ${String(waiting['fingerprint'])}`);
    const mine = await cluster.run('minion', ['fingerprint', '-c', cluster.minionConfig('db1')]);
    expect(String(mine.stdout)).toBe(`db1: ${String(waiting['fingerprint'])}`);

    const accept = await cluster.keys('accept', 'db*');
    expect(String(accept.stdout)).toContain('accepted db1');
    await minion.waitFor('minion ready');
    expect(await cluster.keyList()).toEqual({ pending: [], accepted: ['db1'], rejected: [], denied: [] });
  });

  it('each minion gets its own pillar and nothing of another', async () => {
    await acceptedMinion('web1');
    const db = await cluster.pillar('db1', ['get', 'luks:password']);
    expect(db.exitCode).toBe(0);
    expect(String(db.stdout)).toBe(SECRETS[0]);
    const web = await cluster.pillar('web1', ['items', '--json']);
    expect(JSON.parse(String(web.stdout))).toEqual({ site: 'e2e', luks: { password: SECRETS[1] } });
    const cross = await cluster.pillar('web1', ['get', 'luks:vg_name']);
    expect(cross.exitCode).toBe(1);
    expect(String(cross.stderr)).toContain("pillar key 'luks:vg_name' not found for web1");
    const delivered = cluster.audit().filter((r) => r['event'] === 'pillar_delivered');
    expect(delivered).toContainEqual(
      expect.objectContaining({ minion: 'db1', path: 'luks:password', op: 'pillar.get', peer: '127.0.0.1' }),
    );
  });

  it('denies a second minion that claims an accepted id with another key, and gives it nothing', async () => {
    cluster.writeMinionConfig({ id: 'db1', pkiName: 'impostor' });
    // A one-shot command never creates keys; give the impostor its own by starting its daemon briefly.
    const impostor = cluster.startMinion({ id: 'db1', pkiName: 'impostor' });
    await impostor.waitFor("master denied this minion's key");
    await impostor.stop();
    const r = await cluster.pillar('db1', ['get', 'luks:password'], 'impostor');
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('a different key is already registered');
    expect(String(r.stdout)).toBe('');
    expect((await cluster.keyList()).denied).toEqual(['db1']);
    expect((await cluster.keyList()).accepted).toContain('db1');
    // The real db1 is unaffected.
    expect((await cluster.pillar('db1', ['get', 'luks:vg_name'])).stdout).toBe('vg_db');
  });

  it('fails only the minion whose pillar file is broken, naming file and line', async () => {
    await acceptedMinion('broken1');
    const r = await cluster.pillar('broken1', ['get', 'site']);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/broken\.sls:\d+:\d+: YAML error: Flow sequence/);
    expect((await cluster.pillar('web1', ['get', 'site'])).stdout).toBe('e2e');
  });

  describe('as an attacker on the wire', () => {
    let raw: RawClient;
    const key = X25519Key.generate();

    beforeAll(async () => {
      // Provisioning pre-seeds the key: it is accepted without a pending step.
      writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'raw1'), key.publicKey, { secret: false });
      raw = new RawClient(cluster.port, 'raw1', key);
      const auth = await raw.handshake();
      expect(auth.header).toMatchObject({ t: 'auth', status: 'accepted' });
    });
    afterAll(() => raw.close());

    it('hands out a single value as raw bytes outside the JSON header, for just-in-time use', async () => {
      writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'db1-raw'), key.publicKey, { secret: false });
      const jit = new RawClient(cluster.port, 'db1-raw', key);
      try {
        expect((await jit.handshake()).header).toMatchObject({ status: 'accepted' });
        // db1-raw matches no top entry with a password: only common data.
        const missing = await jit.call(jit.request('pillar.get', { path: 'luks:password', raw: true }));
        expect(missing?.header).toMatchObject({ ok: false, error: { code: 'not_found' } });
        const site = await jit.call(jit.request('pillar.get', { path: 'site', raw: true }));
        expect(site?.header).toEqual({ t: 'res', id: 2, ok: true, raw: true });
        expect(Buffer.from(site!.body!).toString()).toBe('e2e');
        const tree = await jit.call(jit.request('pillar.get', { path: 'site', raw: false }));
        expect(tree?.header).toMatchObject({ ok: true, value: 'e2e' });
      } finally {
        jit.close();
      }
    });

    it('keeps a value marked !secret out of the pillar it sends, and hands it out only raw', async () => {
      writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'vault1'), key.publicKey, { secret: false });
      const vault = new RawClient(cluster.port, 'vault1', key);
      try {
        expect((await vault.handshake()).header).toMatchObject({ status: 'accepted' });
        const items = await vault.call(vault.request('pillar.items'));
        expect(items?.header).toMatchObject({ ok: true, value: { site: 'e2e', luks: { vg_name: 'vg_vault' } } });
        expect(JSON.stringify(items?.header)).not.toContain(VAULT_SECRET);
        const asJson = await vault.call(vault.request('pillar.get', { path: 'luks:password' }));
        expect(asJson?.header).toMatchObject({ ok: false, error: { code: 'secret', message: expect.stringContaining('key_pillar') } });
        expect(JSON.stringify(asJson?.header)).not.toContain(VAULT_SECRET);
        const justInTime = await vault.call(vault.request('pillar.get', { path: 'luks:password', raw: true }));
        expect(justInTime?.header).toMatchObject({ ok: true, raw: true });
        expect(Buffer.from(justInTime!.body!).toString()).toBe(VAULT_SECRET);
        // Raw fetches say in the audit log whether the value was marked; a refusal is not a delivery.
        const unmarked = await vault.call(vault.request('pillar.get', { path: 'luks:vg_name', raw: true }));
        expect(unmarked?.header).toMatchObject({ ok: true, raw: true });
        const mapping = await vault.call(vault.request('pillar.get', { path: 'luks', raw: true }));
        expect(mapping?.header).toMatchObject({ ok: false, error: { code: 'not_scalar' } });
        const deliveries = () =>
          cluster.audit().filter((r) => r['event'] === 'pillar_delivered' && r['minion'] === 'vault1' && r['op'] === 'pillar.get');
        await expect
          .poll(() => deliveries().map((r) => [r['path'], r['secret']]))
          .toEqual([
            ['luks:password', true],
            ['luks:vg_name', false],
          ]);
      } finally {
        vault.close();
      }
    });

    it('rejects a replayed request frame and keeps serving the session', async () => {
      const frame = raw.request('ping');
      expect((await raw.call(frame))?.header).toMatchObject({ t: 'res', ok: true, value: true });
      expect(await raw.call(frame)).toBeUndefined();
      await cluster.waitForAudit((r) => r['event'] === 'refused_replay' && r['minion'] === 'raw1');
      expect((await raw.call(raw.request('ping')))?.header).toMatchObject({ ok: true });
    });

    it('rejects a replayed handshake', async () => {
      await raw.sendRaw(raw.authFrame!);
      expect(await raw.receive()).toBeUndefined();
      await cluster.waitForAudit((r) => r['event'] === 'refused_replay' && r['minion'] === undefined);
    });

    it('drops a tampered frame', async () => {
      const frame = raw.request('pillar.items');
      frame[frame.length - 3]! ^= 0x40;
      expect(await raw.call(frame)).toBeUndefined();
      await cluster.waitForAudit((r) => r['event'] === 'refused_tampered' && r['minion'] === 'raw1');
      expect((await raw.call(raw.request('ping')))?.header).toMatchObject({ ok: true });
    });

    it('cuts a live session off on its next request after reject, and after delete', async () => {
      expect((await cluster.keys('reject', 'raw1')).exitCode).toBe(0);
      const afterReject = await raw.call(raw.request('ping'));
      expect(afterReject?.header).toMatchObject({ ok: false, error: { code: 'revoked' } });
      expect((await raw.handshake()).header).toMatchObject({ status: 'rejected' });

      expect((await cluster.keys('accept', 'raw1', '--include-rejected')).exitCode).toBe(0);
      expect((await raw.handshake()).header).toMatchObject({ status: 'accepted' });
      expect((await cluster.keys('delete', 'raw1')).exitCode).toBe(0);
      const afterDelete = await raw.call(raw.request('pillar.items'));
      expect(afterDelete?.header).toMatchObject({ ok: false, error: { code: 'revoked' } });
      // A deleted key starts over as pending, like salt-key -d.
      expect((await raw.handshake()).header).toMatchObject({ status: 'pending' });
    });

    it('keeps serving through a burst of garbage, oversize and malformed frames', async () => {
      const junk = new RawClient(cluster.port, 'junk');
      for (let i = 0; i < 1500; i++) {
        const len = 1 + Math.floor(Math.random() * 400);
        const frame = new Uint8Array(len).map(() => Math.floor(Math.random() * 256));
        if (i % 3 === 0) frame[0] = 0xb1; // right magic, garbage after it
        await junk.sendRaw(frame);
      }
      await junk.sendRaw(new Uint8Array(2 << 20)); // over max_message_size (1 MiB)
      await junk.sendRaw(new Uint8Array([0xb1, 0x13]), new Uint8Array(3)); // two frames
      // Closing drops unsent frames (linger 0): wait until the master has seen the last ones.
      await cluster.waitForAudit((rec) => rec['event'] === 'refused_too_large');
      junk.close();
      const r = await cluster.pillar('db1', ['get', 'luks:vg_name']);
      expect(String(r.stdout)).toBe('vg_db');
      const bad = cluster.audit().filter((rec) => rec['event'] === 'refused_bad_frame');
      expect(bad.length).toBeGreaterThan(0);
      // Flooding peers are rate-limited in the audit log rather than filling it.
      expect(bad.length).toBeLessThan(100);
    });
  });

  it('reconnects by itself after a master restart and fetches again', async () => {
    const minion = cluster.daemons.find((d) => d.output.includes('"id":"db1"') && d.count('minion ready') === 1)!;
    const sessions = minion.count('session with master established');
    await cluster.master!.stop();
    await cluster.startMaster();
    // The next keepalive finds the session gone and handshakes again without a restart of the minion.
    await minion.waitFor('session with master established', { times: sessions + 1, timeoutMs: 30_000 });
    expect((await cluster.pillar('db1', ['get', 'luks:vg_name'])).stdout).toBe('vg_db');
  });

  it('never lets a pillar value reach a daemon log or the audit log', async () => {
    const texts = [...cluster.daemons.map((d) => d.output), ...cluster.cliStderr, JSON.stringify(cluster.audit())];
    expect(texts.join('').length).toBeGreaterThan(1000);
    for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('keeps the key files private', () => {
    expect(() => readKeyFile(join(cluster.dir, 'master-pki', 'master.box.key'), 32, { secret: true })).not.toThrow();
    expect(() => readKeyFile(join(cluster.dir, 'minion-pki-db1', 'minion.key'), 32, { secret: true })).not.toThrow();
  });
});
