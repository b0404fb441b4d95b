import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, freePort, ROOT, type Daemon } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
/** vault* minions' luks:password, marked !secret in the pillar. */
const VAULT_SECRET = 'VAULT-SECRET-5d9e21';
const ESTABLISHED = 'session with master established';
const MOVED = 'master unavailable; moving to the next one';

/**
 * Minions with several masters (`master: [A, B]`). Until etcd shares state, two
 * masters are made one cluster by copying A's key pair and key directories to B
 * before B starts; they read the same pillar and states.
 */
describe('a minion with several masters', () => {
  const clusters: Cluster[] = [];
  const cluster = (make: () => Cluster = () => new Cluster(PILLAR, { auto_accept: true })): Cluster => {
    const c = make();
    clusters.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
  });

  /** Masters A and B of one cluster (one key pair), started; `sharedCache`: B uses A's job cache, as the cluster's shared one. */
  const pair = async (opts: { sharedCache?: boolean } = {}) => {
    const a = cluster();
    await a.startMaster();
    const b = cluster(() => a.sibling(opts.sharedCache ? { cachedir: join(a.dir, 'master-cache') } : {}));
    b.copyPkiFrom(a);
    await b.startMaster();
    return { a, b };
  };
  const outDir = (c: Cluster) => {
    const out = join(c.dir, 'out');
    mkdirSync(out, { recursive: true });
    return out;
  };
  /** Epoch ms of the `times`-th log line with this message. */
  const at = async (d: Daemon, msg: string, times = 1, timeoutMs = 20_000) =>
    Date.parse(String((await d.waitFor(msg, { times, timeoutMs }))['time']));
  const established = (d: Daemon) => d.lines().filter((l) => l['msg'] === ESTABLISHED);

  it('finds the second master when the first is down at start, and its startup states get their key through it', async () => {
    const b = cluster();
    await b.startMaster();
    const a = cluster(() => b.sibling());
    a.port = await freePort(); // nothing listens: A is down
    const out = outDir(a);
    const minion = a.startMinion({
      id: 'vault1',
      extra: {
        master: [a.address, b.address],
        master_type: 'failover',
        startup_states: 'sls',
        sls_list: ['unlock'],
        grains: { out_dir: out },
      },
    });
    const ready = await minion.waitFor('minion ready');
    expect(ready['master']).toBe(b.address);
    // Well under request_timeout (5 s here): A's refused connection is not waited out.
    expect((await at(minion, 'startup states succeeded')) - (await at(minion, 'minion starting'))).toBeLessThan(4_000);
    expect(readFileSync(join(out, 'vault1.key'), 'utf8').trim()).toBe(VAULT_SECRET);
    // A refused the connection: the minion moved on at once, with no backoff in between.
    expect(minion.lines().find((l) => l['msg'] === MOVED)).toMatchObject({ master: a.address, code: 'unreachable', next: b.address });
    expect(minion.count('cannot authenticate to the master yet')).toBe(0);
    const delivered = b.audit().find((r) => r['event'] === 'pillar_delivered' && r['path'] === 'luks:password');
    expect(delivered).toMatchObject({ minion: 'vault1', secret: true });
    // The secret itself is in no log.
    expect(minion.output).not.toContain(VAULT_SECRET);
  });

  it('moves to the next master within seconds when its master is killed, and answers a ping through it', async () => {
    const { a, b } = await pair();
    // A long master_alive_interval: the dropped connection alone must bring it to B.
    const minion = a.startMinion({
      id: 'web1',
      extra: { master: [a.address, b.address], master_type: 'failover', master_alive_interval: 60 },
    });
    expect((await minion.waitFor('minion ready'))['master']).toBe(a.address);
    const killed = Date.now();
    await a.master!.stop('SIGKILL');
    const onB = await at(minion, ESTABLISHED, 2);
    expect(onB - killed).toBeLessThan(3_000);
    const ping = await b.masterCmd('ping', 'web1', '--json');
    expect(ping.exitCode).toBe(0);
    expect(String(ping.stdout)).toContain('web1');
    expect(minion.lines().find((l) => l['msg'] === MOVED)).toMatchObject({ master: a.address, next: b.address });
  });

  it('notices a master that stops answering with its connection still open within master_alive_interval plus request_timeout', async () => {
    const { a, b } = await pair();
    const minion = a.startMinion({
      id: 'web2',
      extra: { master: [a.address, b.address], master_type: 'failover', master_alive_interval: 1, request_timeout: 2 },
    });
    await minion.waitFor('minion ready');
    const frozen = Date.now();
    a.master!.child.kill('SIGSTOP'); // alive to TCP, deaf to requests: a hung master
    const onB = await at(minion, ESTABLISHED, 2);
    expect(onB - frozen).toBeLessThan(5_000);
    expect(minion.lines().find((l) => l['msg'] === MOVED)).toMatchObject({ master: a.address, code: 'timeout', next: b.address });
    expect((await b.masterCmd('ping', 'web2')).exitCode).toBe(0);
  });

  it('delivers to the next master a return produced after its master died, and the run gets its key there', async () => {
    const { a, b } = await pair({ sharedCache: true });
    const out = outDir(a);
    const minion = a.startMinion({
      id: 'vault2',
      extra: { master: [a.address, b.address], master_type: 'failover', grains: { out_dir: out, nap: '3' } },
    });
    await minion.waitFor('minion ready');
    const apply = a.masterCmd('apply', 'vault2', 'slow-unlock');
    const started = await minion.waitFor('job received');
    await a.master!.stop('SIGKILL');
    await apply;
    const jid = String(started['jid']);
    await expect
      .poll(
        async () => {
          const r = await b.masterCmd('jobs', 'show', jid, '--json');
          return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as { returns: { minion: string; success: boolean }[] }).returns : [];
        },
        { timeout: 20_000, interval: 300 },
      )
      .toEqual([expect.objectContaining({ minion: 'vault2', success: true })]);
    expect(readFileSync(join(out, 'vault2.key'), 'utf8').trim()).toBe(VAULT_SECRET);
    expect(b.audit().some((r) => r['event'] === 'pillar_delivered' && r['minion'] === 'vault2' && r['secret'] === true)).toBe(true);
  });

  it('spreads minions over the masters with master_type random', async () => {
    const { a, b } = await pair();
    // One-shot commands pick their master as the daemon does; 16 runs all on one master: odds 2 in 65,536.
    const config = a.writeMinionConfig({ id: 'db1', extra: { master: [a.address, b.address], master_type: 'random' } });
    expect((await a.run('minion', ['keygen', '-c', config])).exitCode).toBe(0);
    for (let i = 0; i < 16; i += 4) {
      const runs = await Promise.all([0, 1, 2, 3].map(() => a.run('minion', ['pillar', 'get', 'luks:vg_name', '-c', config])));
      for (const r of runs) expect(String(r.stdout)).toBe('vg_db');
    }
    const served = (c: Cluster) => c.audit().filter((r) => r['event'] === 'pillar_delivered' && r['path'] === 'luks:vg_name').length;
    expect(served(a) + served(b)).toBe(16);
    expect(served(a)).toBeGreaterThan(0);
    expect(served(b)).toBeGreaterThan(0);
  });

  it('refuses a master in the list whose key differs from master_finger, and uses the next', async () => {
    const a = cluster();
    const master = await a.startMaster();
    const finger = String((await master.waitFor('master identity (minions pin this as master_finger)'))['fingerprint']);
    const stranger = cluster(() => a.sibling()); // its own key pair
    await stranger.startMaster();
    const minion = a.startMinion({
      id: 'web3',
      extra: { master: [stranger.address, a.address], master_type: 'failover', master_finger: finger },
    });
    expect((await minion.waitFor('minion ready'))['master']).toBe(a.address);
    expect(minion.lines().find((l) => l['msg'] === MOVED)).toMatchObject({ master: stranger.address, code: 'master_mismatch' });
    // The minion never identified itself to the stranger.
    expect(Object.values(await stranger.keyList()).flat()).not.toContain('web3');
  });

  it('pins the first master seen for the whole list without master_finger, so a master with another key is refused', async () => {
    const a = cluster();
    await a.startMaster();
    const stranger = cluster(() => a.sibling());
    await stranger.startMaster();
    const minion = a.startMinion({ id: 'web4', extra: { master: [a.address, stranger.address], master_type: 'failover' } });
    expect((await minion.waitFor('minion ready'))['master']).toBe(a.address);
    expect(minion.output).toContain('TRUSTING MASTER ON FIRST USE');
    await a.master!.stop('SIGKILL');
    // A is gone; the stranger is reachable but holds another key: refused, round after round.
    await expect
      .poll(() => minion.lines().filter((l) => l['msg'] === MOVED && l['code'] === 'master_mismatch').length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    const refusal = minion.lines().find((l) => l['msg'] === MOVED && l['code'] === 'master_mismatch')!;
    expect(refusal['master']).toBe(stranger.address);
    expect(String(refusal['reason'])).toContain('master key changed');
    expect(established(minion)).toHaveLength(1);
    expect(Object.values(await stranger.keyList()).flat()).not.toContain('web4');
    // A comes back: the minion returns to it.
    await a.startMaster();
    await at(minion, ESTABLISHED, 2, 30_000);
  });
});
