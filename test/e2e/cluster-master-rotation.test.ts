// Master key rotation on a cluster (HA.md, The master key pair): rotated on master A, the files
// copied by hand to master B, a minion served by B moves to the new key; after the period both
// masters restart with the new pair, and the identity published in etcd follows.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, readKeyFile } from '@brine/common';
import { MasterChannel, masterTrust } from '@brine/minion';
import { fingerprint, MASTER_IDENTITY_BYTES, MinionIdentity, X25519Key } from '@brine/protocol';
import { describe, expect, it } from 'vitest';
import { type Cluster, ROOT } from '../support/cluster.js';
import { mastersOnEtcd } from '../support/masters.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const log = createLogger({ name: 'test', level: 'silent' });
const pinOf = (pki: string) => fingerprint(readKeyFile(join(pki, 'minion_master.pub'), MASTER_IDENTITY_BYTES, { secret: false }));

describe('master key rotation across two masters of a cluster', () => {
  const masters = mastersOnEtcd(['a', 'b'], PILLAR, { master: { auto_accept: true } });

  it('moves a minion of the other master once the files are copied, and both restart on the new pair', { timeout: 120_000 }, async () => {
    const [a, b] = masters as [Cluster, Cluster];
    const pki = join(b.dir, 'sim-pki');
    mkdirSync(pki, { recursive: true });
    const channel = new MasterChannel({
      host: '127.0.0.1',
      port: b.port,
      identity: new MinionIdentity('hsim1', X25519Key.generate()),
      trust: masterTrust(pki, undefined, log),
      role: 'cli',
      grains: {},
      timeoutMs: 5000,
      log,
    });
    try {
      expect((await channel.request('pillar.get', { path: 'site' })).value).toBe('e2e');
      const oldFp = pinOf(pki);

      const started = await a.keys('rotate-master', '--period', '12s');
      expect(started.exitCode, String(started.stderr)).toBe(0);
      expect(String(started.stdout)).toContain('cluster: copy master.next.sign.key');
      const newFp = /new: (\S+)/.exec(String(started.stdout))![1]!;
      // The operator's copy, rotation record last.
      for (const file of ['master.next.sign.key', 'master.next.box.key', 'master.next.pub', 'master.rotation'])
        copyFileSync(join(a.dir, 'master-pki', file), join(b.dir, 'master-pki', file));
      await b.master!.waitFor(
        'master key rotation: serving the old and the new key until the period ends; minions that pinned the old one move to the new one',
      );

      // B closed the session; the next request handshakes with the old pin and brings the statement.
      expect((await channel.request('pillar.get', { path: 'site' })).value).toBe('e2e');
      expect(pinOf(pki)).toBe(newFp);
      expect(newFp).not.toBe(oldFp);

      for (const m of [a, b])
        await m.master!.waitFor('master key rotation period ended: only the new key is served; the old secret keys are erased', {
          timeoutMs: 20_000,
        });
      // Restarted, each master holds the new pair and the cluster's published identity follows (B first, then A).
      for (const m of [b, a]) {
        await m.master!.stop();
        const again = await m.startMaster();
        expect(await again.waitFor('master identity (minions pin this as master_finger)')).toMatchObject({ fingerprint: newFp });
      }
      expect((await channel.request('pillar.get', { path: 'site' })).value).toBe('e2e');
    } finally {
      channel.close();
    }
  });
});
