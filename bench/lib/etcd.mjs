// A real etcd cluster on loopback for the cluster tests and benchmarks, from Debian's etcd-server.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureDebianPackages, hasCommand } from './apt.mjs';
import { freePort } from './proc.mjs';

/** Debian's etcd 3.4 (etcd-server, etcd-client), installed with apt-get on a machine that lacks it. */
export function ensureEtcd() {
  ensureDebianPackages('etcd tests', ['etcd-server', 'etcd-client'], () => !hasCommand('etcd') || !hasCommand('etcdctl'), ['etcd.service']);
}

/** @typedef {{ name: string, clientUrl: string, peerUrl: string, dataDir: string, proc: import('node:child_process').ChildProcess | undefined, log: string }} Member */

/**
 * A real etcd cluster of separate processes on loopback, for tests: free ports,
 * data in a temporary directory, heartbeat and election timeouts short enough
 * that losing and regaining a leader takes well under a second.
 */
export class EtcdCluster {
  dir = mkdtempSync(join(tmpdir(), 'brine-etcd-'));
  /** @type {Member[]} */
  members = [];
  killOnExit = () => this.members.forEach((m) => m.proc?.kill('SIGKILL'));

  constructor() {
    process.once('exit', this.killOnExit);
  }

  /** Starts `size` members and waits until the cluster has a leader and takes writes. */
  /** @returns {Promise<EtcdCluster>} */
  static async start(size = 3) {
    ensureEtcd();
    const cluster = new EtcdCluster();
    for (let i = 0; i < size; i++) {
      const [client, peer] = [await freePort(), await freePort()];
      const name = `etcd${i}`;
      cluster.members.push({ name, clientUrl: `http://127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}`, dataDir: join(cluster.dir, name), proc: undefined, log: '' });
    }
    for (let i = 0; i < size; i++) cluster.launch(i, 'new');
    await cluster.waitWritable();
    return cluster;
  }

  /** @returns {string[]} */
  get endpoints() {
    return this.members.map((m) => m.clientUrl);
  }

  /** @param {number} i @param {'new' | 'existing'} state */
  launch(i, state) {
    const m = this.members[i];
    const initial = this.members.map((o) => `${o.name}=${o.peerUrl}`).join(',');
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initial}`,
      `--initial-cluster-state=${state}`,
      '--initial-cluster-token=brine-test',
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--logger=zap',
      '--log-level=warn',
    ];
    m.log = '';
    m.proc = spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (/** @type {Buffer} */ d) => (m.log = (m.log + d.toString()).slice(-20_000));
    m.proc.stdout.on('data', keep);
    m.proc.stderr.on('data', keep);
  }

  /** etcdctl against every member (v3 API), e.g. `get --prefix /brine`. */
  /** @param {...string} args @returns {Promise<{ exitCode: number | undefined, stdout: string, stderr: string }>} */
  async etcdctl(...args) {
    const r = await execa('etcdctl', [`--endpoints=${this.endpoints.join(',')}`, '--command-timeout=2s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** Waits until a write through any member succeeds: a leader is elected and a quorum is up. */
  async waitWritable(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.etcdctl('put', '/brine-test/ready', String(Date.now()));
      if (r.exitCode === 0) return;
      if (Date.now() > deadline) throw new Error(`etcd cluster not writable: ${r.stderr}\n${this.members.map((m) => `--- ${m.name}\n${m.log.slice(-2000)}`).join('\n')}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /** Index of the member that leads the cluster now. */
  /** @returns {Promise<number>} */
  async leader() {
    const r = await this.etcdctl('endpoint', 'status', '-w', 'json');
    /** @type {{ Endpoint: string, Status: { leader: number, header: { member_id: number } } }[]} */
    const status = JSON.parse(r.stdout);
    const lead = status.find((s) => s.Status.header.member_id === s.Status.leader);
    if (!lead) throw new Error(`no etcd member leads: ${r.stdout} ${r.stderr}`);
    return this.endpoints.indexOf(lead.Endpoint);
  }

  /** kill -9 of member `i`; its data stays for restart(). */
  /** @param {number} i */
  async kill(i) {
    const proc = this.members[i].proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((done) => proc.once('exit', done));
    proc.kill('SIGKILL');
    await exited;
    this.members[i].proc = undefined;
  }

  /** Starts member `i` again from its data directory (it rejoins the cluster). */
  /** @param {number} i */
  restart(i) {
    if (this.members[i].proc) throw new Error(`${this.members[i].name} is running`);
    this.launch(i, 'existing');
  }

  async stop() {
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    process.off('exit', this.killOnExit);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
