import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

describe('master pinning and bad configuration', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  let masterFinger = '';

  beforeAll(async () => {
    const master = await cluster.startMaster();
    masterFinger = String((await master.waitFor('master identity (minions pin this as master_finger)'))['fingerprint']);
  });
  afterAll(() => cluster.close());

  it('connects when master_finger matches, and auto_accept admits the key', async () => {
    const minion = cluster.startMinion({ id: 'web1', extra: { master_finger: masterFinger.toUpperCase() } });
    await minion.waitFor('minion ready');
    expect(minion.output).not.toContain('TRUSTING MASTER ON FIRST USE');
    expect((await cluster.keyList()).accepted).toEqual(['web1']);
  });

  it('refuses a master whose fingerprint differs from master_finger', async () => {
    const wrong = masterFinger.replace(/^../, masterFinger.startsWith('00') ? '11' : '00');
    const minion = cluster.startMinion({ id: 'db1', extra: { master_finger: wrong } });
    const refusal = await minion.waitFor('cannot authenticate to the master yet');
    expect(refusal).toMatchObject({ code: 'master_mismatch' });
    expect(String(refusal['reason'])).toContain(`does not match master_finger ${wrong}`);
    expect(minion.count('minion ready')).toBe(0);
    // Nothing was learned about it: a minion that refuses the master never sends its identity.
    expect((await cluster.keyList()).accepted).not.toContain('db1');
  });

  it('refuses a re-keyed master after trusting the first one (TOFU)', async () => {
    const tofu = cluster.startMinion({ id: 'tofu1' });
    await tofu.waitFor('minion ready');
    expect(tofu.output).toContain('TRUSTING MASTER ON FIRST USE');
    await tofu.stop();
    // A different master (new keys) on the same address.
    await cluster.master!.stop();
    const other = new Cluster(PILLAR, { auto_accept: true });
    other.port = cluster.port;
    try {
      await other.startMaster();
      const again = cluster.startMinion({ id: 'tofu1' });
      const refusal = await again.waitFor('cannot authenticate to the master yet');
      expect(refusal).toMatchObject({ code: 'master_mismatch' });
      expect(String(refusal['reason'])).toContain('master key changed');
      await again.stop();
    } finally {
      await other.close();
    }
    await cluster.startMaster();
  });

  it('names file and line for a malformed config and exits 2', async () => {
    const bad = join(cluster.dir, 'bad-master.yml');
    writeFileSync(bad, 'port: 4506\ninterface: [oops\n');
    const r = await cluster.run('master', ['-c', bad]);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/bad-master\.yml:\d+:\d+: YAML error/);

    writeFileSync(bad, 'port: 4506\nauto_acept: true\n');
    const typo = await cluster.run('master', ['-c', bad]);
    expect(typo.exitCode).toBe(2);
    expect(String(typo.stderr)).toContain("bad-master.yml:2: unknown option 'auto_acept'");

    const badId = join(cluster.dir, 'bad-minion.yml');
    writeFileSync(badId, 'id: ../../etc\n');
    const id = await cluster.run('minion', ['-c', badId]);
    expect(id.exitCode).toBe(2);
    expect(String(id.stderr)).toContain('minion id "../../etc": minion id contains \'..\'');
  });

  it('refuses to start with a secret key others can read', async () => {
    const { chmodSync } = await import('node:fs');
    chmodSync(join(cluster.dir, 'master-pki', 'master.box.key'), 0o644);
    const r = await cluster.run('master', ['-c', cluster.masterConfig]);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('secret key is accessible by group or others');
    chmodSync(join(cluster.dir, 'master-pki', 'master.box.key'), 0o600);
  });
});
