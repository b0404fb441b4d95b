import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT, type Daemon } from '../support/cluster.js';
import { EtcdCluster } from '../../bench/lib/etcd.mjs';
import { shareMasterKey } from '../support/masters.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
/** Pillar values that must never reach etcd, a return or a log. */
const SECRETS = ['WEB1-SECRET-b2e4d1', 'DB1-SECRET-7f3a9c'];

interface Return {
  minion: string;
  success: boolean;
  ret: unknown;
  master?: string;
}
interface Job {
  jid: string;
  origin: string;
  minions: string[];
  master?: string;
}
interface Status {
  id: string;
  connected: boolean;
  master?: string | null;
  address: string | null;
  startup: { result: string; jid: string | null };
  pillar_diverged?: Record<string, string>;
}

/**
 * Jobs, returns, grains and status across three real masters sharing a real
 * 3-member etcd: minions connect to B and C, the operator works on any master.
 */
describe('jobs, returns, grains and status across the masters of a cluster', () => {
  let etcd: EtcdCluster;
  let a: Cluster;
  let b: Cluster;
  let c: Cluster;
  /** C's own copy of the pillar, edited to make it diverge. */
  let cPillar: string;
  let out: string;
  let web1: Daemon;
  let db1: Daemon;

  const jobsList = async (m: Cluster): Promise<Job[]> => JSON.parse(String((await m.masterCmd('jobs', 'list', '--json')).stdout)) as Job[];
  const jobShow = async (m: Cluster, jid: string): Promise<{ job: Job; returns: Return[] } | undefined> => {
    const r = await m.masterCmd('jobs', 'show', jid, '--json');
    return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as { job: Job; returns: Return[] }) : undefined;
  };
  const returnsOn = async (m: Cluster, jid: string) => (await jobShow(m, jid))?.returns.map((r) => [r.minion, r.success, r.master]) ?? [];
  const status = async (m: Cluster): Promise<Status[]> =>
    (JSON.parse(String((await m.masterCmd('status', '--json')).stdout)) as { minions: Status[] }).minions;
  const audit = (m: Cluster, event: string, minion: string) => m.audit().filter((r) => r['event'] === event && r['minion'] === minion);

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3);
    const cluster = (name: string, pillar = PILLAR) =>
      new Cluster(pillar, { auto_accept: true, cluster: { etcd: etcd.endpoints, name, pillar_check: 1 } });
    a = cluster('a');
    cPillar = join(a.dir, 'pillar-c');
    cpSync(PILLAR, cPillar, { recursive: true });
    [b, c] = [cluster('b'), cluster('c', cPillar)];
    await a.startMaster();
    for (const m of [b, c]) {
      shareMasterKey(a, m);
      await m.startMaster();
    }
    out = join(a.dir, 'out');
    mkdirSync(out);
    // web1 on B runs startup states; db1 on C is found by its grains.
    web1 = b.startMinion({ id: 'web1', extra: { grains: { out_dir: out }, startup_states: 'sls', sls_list: ['hello'] } });
    db1 = c.startMinion({ id: 'db1', extra: { grains: { out_dir: out, role: 'db' } } });
    await Promise.all([web1.waitFor('startup states succeeded'), db1.waitFor('minion ready')]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a, b, c].map((m) => m?.close()));
    await etcd?.stop();
  });

  it("apply '*' on A reaches the minions on B and C; A prints every return, C shows them all, B lists the job", async () => {
    const apply = await a.masterCmd('apply', '*', 'hello');
    expect(apply.exitCode, `${String(apply.stdout)}\n${String(apply.stderr)}`).toBe(0);
    expect(String(apply.stdout)).toMatch(/^web1:$/m);
    expect(String(apply.stdout)).toMatch(/^db1:$/m);
    for (const id of ['web1', 'db1']) expect(readFileSync(join(out, `${id}.txt`), 'utf8').trim()).toBe(`hello from ${id}, site e2e`);
    const [published] = (await jobsList(a)).filter((j) => j.origin === 'master');
    expect(published).toMatchObject({ minions: ['db1', 'web1'], master: 'a' });
    const jid = published!.jid;
    await expect
      .poll(() => returnsOn(c, jid), { timeout: 10_000, interval: 200 })
      .toEqual([
        ['db1', true, 'c'],
        ['web1', true, 'b'],
      ]);
    expect((await jobsList(b)).map((j) => j.jid)).toContain(jid);
    // Each master delivered to the minion it holds, the publisher to none.
    expect(b.master!.lines().some((l) => l['msg'] === 'delivered a job published on another master' && l['jid'] === jid)).toBe(true);
    expect(c.master!.lines().some((l) => l['msg'] === 'delivered a job published on another master' && l['jid'] === jid)).toBe(true);
    // Returns are redacted: no pillar secret in etcd, whatever it holds.
    const dump = await etcd.etcdctl('get', '--prefix', '/brine');
    expect(dump.stdout).toContain(jid);
    for (const secret of SECRETS) expect(dump.stdout).not.toContain(secret);
  });

  it('a startup job begun on B is listed on A; status on A shows every minion with its master, connection and startup result', async () => {
    const startup = (await jobsList(a)).filter((j) => j.origin === 'startup');
    expect(startup).toEqual([expect.objectContaining({ minions: ['web1'], master: 'b' })]);
    expect(await returnsOn(a, startup[0]!.jid)).toEqual([['web1', true, 'b']]);
    const minions = await status(a);
    expect(minions.map((m) => [m.id, m.connected, m.master, m.startup.result])).toEqual([
      ['db1', true, 'c', 'none'],
      ['web1', true, 'b', 'ok'],
    ]);
    expect(minions.find((m) => m.id === 'web1')!.startup.jid).toBe(startup[0]!.jid);
    expect(minions.every((m) => m.address === '127.0.0.1')).toBe(true);
    const table = await a.masterCmd('status');
    expect(String(table.stdout)).toMatch(/^MINION\s+CONNECTION\s+LAST SEEN\s+ADDRESS\s+MASTER\s+PILLAR\s+STARTUP$/m);
    expect(String(table.stdout)).toMatch(/^db1\s+connected\s+\S+\s+127\.0\.0\.1\s+c\s+same\s+none$/m);
  });

  it('grain targeting on A reaches the minion on C by the grains it reported to C', async () => {
    const ping = await a.masterCmd('ping', '-G', 'role:db', '--json');
    expect(ping.exitCode, String(ping.stderr)).toBe(0);
    expect(JSON.parse(String(ping.stdout))).toEqual({ db1: true });
    const grains = JSON.parse(String((await a.masterCmd('grains', 'db1', '--json')).stdout)) as Record<string, Record<string, unknown>>;
    expect(grains['db1']).toMatchObject({ role: 'db', id: 'db1' });
  });

  it("a master whose pillar for a minion differs from its peers' is reported in status and audited, never with a value", async () => {
    writeFileSync(join(cPillar, 'db1.sls'), 'luks:\n  password: DB1-OTHER-SECRET\n  vg_name: vg_db\n');
    const diverged = async () => (await status(a)).find((m) => m.id === 'db1')!.pillar_diverged;
    await expect.poll(diverged, { timeout: 15_000, interval: 300 }).toBeDefined();
    const hashes = (await diverged())!;
    expect(Object.keys(hashes)).toEqual(['a', 'b', 'c']);
    expect(hashes['a']).toBe(hashes['b']);
    expect(hashes['c']).not.toBe(hashes['a']);
    expect((await status(a)).find((m) => m.id === 'web1')!.pillar_diverged).toBeUndefined();
    expect((await a.masterCmd('status', 'db1')).exitCode).toBe(1);
    const [record] = audit(c, 'pillar_diverged', 'db1');
    expect(record!['reason']).toContain(`c=${hashes['c']}`);
    expect(JSON.stringify(record)).not.toContain('DB1-');
    const dump = await etcd.etcdctl('get', '--prefix', '/brine/pillar/');
    expect(dump.stdout).not.toContain('DB1-');

    cpSync(join(PILLAR, 'db1.sls'), join(cPillar, 'db1.sls'));
    await expect.poll(diverged, { timeout: 15_000, interval: 300 }).toBeUndefined();
    await expect.poll(() => audit(c, 'pillar_converged', 'db1').length, { timeout: 5_000 }).toBe(1);
  });

  it('a return that arrives while etcd has no quorum is spooled, acknowledged, and lands on every master once etcd is back', async () => {
    const [received, finished] = [db1.count('job received'), db1.count('job finished')];
    const apply = c.masterCmd('apply', 'db1', 'slow');
    const started = await db1.waitFor('job received', { times: received + 1 });
    const jid = String(started['jid']);
    // The job is in etcd; its return (3 s later) is not, until etcd has a quorum again.
    await expect.poll(async () => (await jobShow(a, jid))?.job.minions, { timeout: 5_000, interval: 100 }).toEqual(['db1']);
    await Promise.all([etcd.kill(1), etcd.kill(2)]);
    try {
      const applied = await apply;
      expect(applied.exitCode, String(applied.stderr)).toBe(0);
      expect(String(applied.stdout)).toContain('finished');
      await c.master!.waitFor('etcd did not take a write; spooled on disk and retried until it does');
      // Acknowledged: the minion does not keep it.
      await db1.waitFor('job finished', { times: finished + 1 });
      expect(db1.count('could not deliver a job return; retrying')).toBe(0);
      expect(await returnsOn(a, jid)).toEqual([]);
      // An operator's job is not spooled: it fails, and nothing is sent.
      const ping = await a.masterCmd('ping', '*');
      expect(ping.exitCode).toBe(1);
      expect(String(ping.stderr)).toContain('etcd did not answer');
    } finally {
      etcd.restart(1);
      etcd.restart(2);
    }
    await etcd.waitWritable();
    await c.master!.waitFor('every spooled write reached etcd', { timeoutMs: 20_000 });
    for (const m of [a, b, c]) await expect.poll(() => returnsOn(m, jid), { timeout: 10_000, interval: 200 }).toEqual([['db1', true, 'c']]);
  });

  it('a return for a job begun on A, delivered to B after A was killed, is kept and shown by B and C', async () => {
    const vault = a.startMinion({
      id: 'vault1',
      extra: { master: [a.address, b.address], master_type: 'failover', grains: { out_dir: out } },
    });
    expect((await vault.waitFor('minion ready'))['master']).toBe(a.address);
    const apply = a.masterCmd('apply', 'vault1', 'slow');
    const jid = String((await vault.waitFor('job received'))['jid']);
    await a.master!.stop('SIGKILL');
    await apply;
    await vault.waitFor('job finished');
    for (const m of [b, c]) await expect.poll(() => returnsOn(m, jid), { timeout: 20_000, interval: 300 }).toEqual([['vault1', true, 'b']]);
    expect(vault.count('master does not know this job any more; dropping its return')).toBe(0);
    // A's sessions left etcd with its lease: status on C shows vault1 on B.
    await expect.poll(async () => (await status(c)).find((m) => m.id === 'vault1')?.master, { timeout: 20_000, interval: 300 }).toBe('b');
  });
});
