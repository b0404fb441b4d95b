// Master key rotation (PROTOCOL.md, Master key rotation) with a real master: 50 simulated
// minions (each its own key pair, socket, session and pki_dir, through the real channel and
// trust code in this process) and three real minion daemons, one configured with master_finger.
// The master is restarted in the middle of the period. Every minion ends up pinning the new key
// and keeps getting its pillar; after the period the old key is never presented, and a minion
// still pinning it is refused with a message that says why.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, readKeyFile } from '@brine/common';
import { ChannelError, MasterChannel, masterTrust } from '@brine/minion';
import { fingerprint, generateMinionKeys, MASTER_IDENTITY_BYTES, MinionIdentity, X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type Daemon, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const N = 50;
const PERIOD_S = 25;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger({ name: 'fleet', level: 'silent' });

interface SimMinion {
  id: string;
  pki: string;
  channel: MasterChannel;
}

const pinOf = (pki: string) => fingerprint(readKeyFile(join(pki, 'minion_master.pub'), MASTER_IDENTITY_BYTES, { secret: false }));

describe('master key rotation with 50 minions and a master restart mid-period', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const fleet: SimMinion[] = [];
  const daemons: { id: string; daemon: Daemon }[] = [];
  let oldFp = '';
  let newFp = '';

  const open = (pki: string, identity: MinionIdentity) =>
    new MasterChannel({
      host: '127.0.0.1',
      port: cluster.port,
      identity,
      trust: masterTrust(pki, undefined, log),
      role: 'cli',
      grains: {},
      timeoutMs: 5000,
      log,
    });

  const getSite = async (m: SimMinion) => {
    // A request that meets a restarted master or a closed session handshakes again (once); a timeout is retried here.
    for (let attempt = 0; ; attempt++) {
      try {
        return (await m.channel.request('pillar.get', { path: 'site' })).value;
      } catch (err) {
        if (attempt >= 5 || !(err instanceof ChannelError) || !['timeout', 'session_lost'].includes(err.code)) throw err;
        await sleep(200);
      }
    }
  };

  beforeAll(async () => {
    const master = await cluster.startMaster();
    oldFp = String((await master.waitFor('master identity (minions pin this as master_finger)'))['fingerprint']);
    for (let i = 0; i < N; i++) {
      const id = `fleet${i}`;
      const pki = join(cluster.dir, `fleet-pki-${i}`);
      mkdirSync(pki, { recursive: true });
      const identity = new MinionIdentity(id, X25519Key.fromSecret(generateMinionKeys().boxSecret));
      fleet.push({ id, pki, channel: open(pki, identity) });
    }
    // Trust on first use pins the old key in each pki_dir.
    expect(await Promise.all(fleet.map(getSite))).toEqual(Array(N).fill('e2e'));
    expect(new Set(fleet.map((m) => pinOf(m.pki)))).toEqual(new Set([oldFp]));
    for (const [id, extra] of [
      ['rot-d0', { master_finger: oldFp }],
      ['rot-d1', {}],
      ['rot-d2', {}],
    ] as const) {
      const daemon = cluster.startMinion({ id, extra: { ...extra, master_alive_interval: 1 } });
      daemons.push({ id, daemon });
    }
    for (const { daemon } of daemons) await daemon.waitFor('minion ready');
  }, 60_000);

  afterAll(async () => {
    for (const m of fleet) m.channel.close();
    await cluster.close();
  });

  it('moves every minion to the new key during the period, across a master restart', { timeout: 120_000 }, async () => {
    const started = await cluster.keys('rotate-master', '--period', `${PERIOD_S}s`);
    expect(started.exitCode, String(started.stderr)).toBe(0);
    newFp = /new: (\S+)/.exec(String(started.stdout))![1]!;
    expect(String(started.stdout)).toContain(`old: ${oldFp}`);
    const fpOut = String((await cluster.keys('fingerprint')).stdout);
    expect(fpOut).toContain(`master: ${newFp}`);
    expect(fpOut).toContain(`: ${oldFp}`);
    await cluster.master!.waitFor(
      'master key rotation: serving the old and the new key until the period ends; minions that pinned the old one move to the new one',
    );

    // Half the fleet asks now (its sessions were closed: it handshakes again, pinning the old key).
    const first = fleet.slice(0, N / 2);
    expect(await Promise.all(first.map(getSite))).toEqual(Array(N / 2).fill('e2e'));
    expect(new Set(first.map((m) => pinOf(m.pki)))).toEqual(new Set([newFp]));

    // The master restarts mid-period: it serves both keys again from the files in pki_dir.
    await cluster.master!.stop();
    const again = await cluster.startMaster();
    const rotating = await again.waitFor('master key rotation under way: serving both keys until the period ends');
    expect(rotating).toMatchObject({ old: oldFp, new: newFp });

    expect(await Promise.all(fleet.map(getSite))).toEqual(Array(N).fill('e2e'));
    expect(new Set(fleet.map((m) => pinOf(m.pki)))).toEqual(new Set([newFp]));

    // The daemons: each pins the new key on its own, saying so with both fingerprints.
    for (const { id, daemon } of daemons) {
      const moved = await daemon.waitFor('master key rotated: the old master key vouched for a new one; pinned the new key', {
        timeoutMs: 15_000,
      });
      expect(moved).toMatchObject({ old: oldFp, new: newFp });
      expect(pinOf(join(cluster.dir, `minion-pki-${id}`))).toBe(newFp);
    }
    expect(cluster.audit().filter((r) => r['event'] === 'master_rotation_offered').length).toBeGreaterThanOrEqual(N + 3);
    const status = String((await cluster.keys('rotation')).stdout);
    expect(status).toContain('phase: serving both keys');
    expect(status).toContain(`minions given the statement: ${N + 3} `);
  });

  it('after the period serves only the new key; every minion still gets its pillar; a straggler is told why', {
    timeout: 90_000,
  }, async () => {
    const rec = JSON.parse(String((await cluster.keys('rotation', '--json')).stdout)) as { not_after: string };
    await sleep(Math.max(0, Date.parse(rec.not_after) - Date.now()));
    await cluster.master!.waitFor('master key rotation period ended: only the new key is served; the old secret keys are erased');
    const masterPki = join(cluster.dir, 'master-pki');
    expect(fingerprint(readKeyFile(join(masterPki, 'master.pub'), MASTER_IDENTITY_BYTES, { secret: false }))).toBe(newFp);
    expect(existsSync(join(masterPki, 'master.next.sign.key'))).toBe(false);
    expect(JSON.parse(readFileSync(join(masterPki, 'master.rotation'), 'utf8'))).toMatchObject({ phase: 'done' });

    // None is lost: the whole fleet, and the daemons through one-shot CLI handshakes (the one with master_finger too).
    expect(await Promise.all(fleet.map(getSite))).toEqual(Array(N).fill('e2e'));
    for (const { id } of daemons) {
      const r = await cluster.pillar(id, ['get', 'site']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(String(r.stdout).trim()).toBe('e2e');
    }
    for (const { daemon } of daemons) expect(daemon.child.exitCode).toBeNull();

    // A minion that slept through the period: it still pins the old key, which is never presented again.
    const pki = join(cluster.dir, 'straggler-pki');
    mkdirSync(pki, { recursive: true });
    const oldIdentity = Buffer.from(readFileSync(join(fleet[0]!.pki, 'minion_master.chain'), 'utf8').split('\n')[0]!, 'base64').subarray(
      0,
      MASTER_IDENTITY_BYTES,
    );
    writeFileSync(join(pki, 'minion_master.pub'), `${oldIdentity.toString('base64')}\n`);
    expect(pinOf(pki)).toBe(oldFp);
    const straggler: SimMinion = {
      id: 'straggler',
      pki,
      channel: open(pki, new MinionIdentity('straggler', X25519Key.generate())),
    };
    try {
      const err = await straggler.channel.request('ping').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChannelError);
      expect((err as ChannelError).code).toBe('auth_failed');
      expect((err as Error).message).toContain(`master key ${oldFp} was retired by a key rotation this minion missed`);
    } finally {
      straggler.channel.close();
    }
    expect(pinOf(pki)).toBe(oldFp);
    await cluster.waitForAudit((r) => r['event'] === 'refused_retired_master_key');
    expect(cluster.audit().some((r) => r['event'] === 'master_rotation_finished')).toBe(true);
  });
});
