import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCluster } from '../../bench/lib/etcd.mjs';
import { Cluster, ROOT } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { shareMasterKey, startClusterMasters } from '../support/masters.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

/** The body of a GET of `url` (https with `tls`), or how it failed. */
function get(url: string, tls?: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<string> {
  return new Promise((done) => {
    const req = (tls ? httpsGet : httpGet)(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done(body));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => done(`failed: ${err.message}`));
  });
}

describe('masters on a real 3-member etcd that speaks TLS only, with openssl-made certificates', () => {
  let etcd: EtcdCluster;
  let a: Cluster;
  let b: Cluster;

  beforeAll(async () => {
    etcd = await EtcdCluster.start(3, { tls: true });
    [a, b] = (await startClusterMasters(etcd, ['a', 'b'], PILLAR, { cluster: { tls: etcd.tls } })) as [Cluster, Cluster];
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a, b].map((m) => m?.close()));
    await etcd?.stop();
  });

  it('etcd answers /version over TLS with the client certificate, and nothing in plaintext, on client and peer URLs', async () => {
    const files = etcd.tls!;
    const tls = { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
    for (const m of etcd.members) {
      for (const url of [m.clientUrl, m.peerUrl]) {
        expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        expect(await get(`${url}/version`, tls), url).toContain('"etcdserver":"3.');
        const plain = await get(`${url.replace('https:', 'http:')}/version`);
        expect(plain, url).not.toContain('etcdserver');
      }
    }
  });

  it('a key accepted on master A lets the minion connected to master B get its pillar', async () => {
    const minion = b.startMinion({ id: 'web1' });
    await eventually(async () => expect((await a.keyList()).pending).toContain('web1'));
    const accept = await a.keys('accept', 'web1');
    expect(accept.exitCode, String(accept.stderr)).toBe(0);
    await minion.waitFor('minion ready');
    const pillar = await b.pillar('web1', ['get', 'luks:password']);
    expect(pillar.exitCode, String(pillar.stderr)).toBe(0);
    expect(String(pillar.stdout)).toBe('WEB1-SECRET-b2e4d1');
    // The decision went through the TLS etcd: etcdctl with the client certificate reads it there.
    const stored = await etcd.etcdctl('get', '--keys-only', '--prefix', '/brine/keys/accepted/');
    expect(stored.exitCode, stored.stderr).toBe(0);
    expect(stored.stdout).toContain('/brine/keys/accepted/web1');
    await minion.stop();
  });

  /** Runs a master of the cluster (the cluster's key pair, every endpoint unless told) with `tls` as its cluster.tls, to its exit. */
  async function startWith(name: string, tls: Record<string, string>, endpoints = etcd.endpoints) {
    const m = new Cluster(PILLAR, { cluster: { etcd: endpoints, name, tls } });
    try {
      shareMasterKey(a, m);
      const started = performance.now();
      const r = await m.run('master', ['-c', await m.writeMasterConfig()]);
      process.stdout.write(`${name}: exit ${r.exitCode} after ${(performance.now() - started).toFixed(0)} ms\n`);
      return { exitCode: r.exitCode, stderr: String(r.stderr) };
    } finally {
      await m.close();
    }
  }

  it('a master whose client certificate comes from a CA the members do not trust cannot start, and says which endpoints refused which file', async () => {
    const rogue = await etcd.untrustedClient('rogue-master');
    const r = await startWith('rogue', rogue);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`cannot use etcd: etcd ${etcd.endpoints.join(', ')} refused this master's client certificate ${rogue.cert}`);
    expect(r.stderr).toContain("it must be signed by a CA in the members' --trusted-ca-file");
    expect(r.stderr).not.toContain('check that a quorum');
  });

  it('a master without a client certificate cannot start, and says the members require one', async () => {
    const r = await startWith('nocert', { ca: etcd.tls!.ca });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`cannot use etcd: etcd ${etcd.endpoints.join(', ')} refused this master, which has no client certificate`);
    expect(r.stderr).toContain('set cluster.tls.cert and cluster.tls.key');
  });

  it("a master given another CA than the members' cannot start, and says it does not trust their certificate", async () => {
    const { ca } = await etcd.untrustedCa();
    const r = await startWith('wrongca', { ...etcd.tls!, ca });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`cannot use etcd: this master does not trust the certificate of etcd ${etcd.endpoints.join(', ')}`);
    expect(r.stderr).toContain(`cluster.tls.ca ${ca} must be the CA that signed the members' certificates`);
  });

  it('a master that reaches the members by a name their certificates do not hold cannot start, and says so', async () => {
    const byName = etcd.endpoints.map((u) => u.replace('127.0.0.1', 'localhost'));
    const r = await startWith('byname', etcd.tls!, byName);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      `cannot use etcd: the certificate of etcd ${byName.join(', ')} does not hold the endpoint's host in its subjectAltName`,
    );
    expect(r.stderr).toContain('list the members in cluster.etcd by a name or IP address their certificates hold');
  });

  it('a master whose client certificate cannot be read fails at start, naming the file', async () => {
    const missing = join(etcd.dir, 'tls', 'no-such-cert.pem');
    const r = await startWith('unreadable', { ...etcd.tls!, cert: missing });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`cannot read the etcd client certificate ${missing} (cluster.tls)`);
    expect(r.stderr).toContain('ENOENT');
  });
});
