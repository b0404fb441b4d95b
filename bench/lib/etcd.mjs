// A real etcd cluster on loopback for the cluster tests and benchmarks, from Debian's etcd-server.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureDebianPackages, hasCommand } from './apt.mjs';
import { freePort } from './proc.mjs';

/** Debian's etcd 3.4 (etcd-server, etcd-client), installed with apt-get on a machine that lacks it. */
export function ensureEtcd() {
  ensureDebianPackages('etcd tests', ['etcd-server', 'etcd-client'], () => !hasCommand('etcd') || !hasCommand('etcdctl'), ['etcd.service']);
}

/** openssl, to make the certificates of a TLS cluster (Debian's openssl package when missing). */
export function ensureOpenssl() {
  ensureDebianPackages('etcd TLS tests', ['openssl'], () => !hasCommand('openssl'));
}

/** @typedef {{ name: string, clientUrl: string, peerUrl: string, dataDir: string, proc: import('node:child_process').ChildProcess | undefined, log: string }} Member */
/** @typedef {{ ca: string, cert: string, key: string }} TlsFiles PEM files: a CA certificate, and a certificate and key it signed */

/** Lifetime of the test certificates: a day is more than any test takes. */
const CERT_DAYS = '1';

/**
 * A certificate authority in `dir`, made with the openssl command: `ca.pem`/`ca.key`, and
 * `issue()` for certificates it signs. EC P-256 keys; every key file is 0600.
 */
export class TestCa {
  /** @param {string} dir @param {string} name */
  constructor(dir, name) {
    this.dir = dir;
    this.name = name;
    this.ca = join(dir, `${name}.pem`);
    this.caKey = join(dir, `${name}.key`);
  }

  /** Makes the CA's key and self-signed certificate in `dir` (created when missing). */
  /** @param {string} dir @param {string} name @returns {Promise<TestCa>} */
  static async create(dir, name) {
    ensureOpenssl();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = new TestCa(dir, name);
    await openssl('req', '-x509', ...EC_KEY, '-keyout', ca.caKey, '-out', ca.ca, '-days', CERT_DAYS, '-subj', `/CN=${name}`);
    chmodSync(ca.caKey, 0o600);
    return ca;
  }

  /**
   * A certificate for `cn` signed by this CA: `usage` 'client' (clientAuth), or 'peer'
   * (serverAuth and clientAuth, with `ip` as its subjectAltName: a member's certificate
   * serves clients and authenticates to the other members).
   */
  /** @param {string} cn @param {'client' | 'peer'} usage @param {string} [ip] @returns {Promise<TlsFiles>} */
  async issue(cn, usage, ip = '127.0.0.1') {
    const [cert, key, csr, ext] = ['pem', 'key', 'csr', 'ext'].map((e) => join(this.dir, `${cn}.${e}`));
    writeFileSync(
      ext,
      usage === 'peer'
        ? `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:${ip}\n`
        : 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    );
    await openssl('req', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`);
    chmodSync(key, 0o600);
    await openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca,
      '-CAkey',
      this.caKey,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      CERT_DAYS,
      '-extfile',
      ext,
      '-out',
      cert,
    );
    return { ca: this.ca, cert, key };
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** @param {...string} args */
async function openssl(...args) {
  const r = await execa('openssl', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr}`);
}

/**
 * A real etcd cluster of separate processes on loopback, for tests: free ports,
 * data in a temporary directory, heartbeat and election timeouts short enough
 * that losing and regaining a leader takes well under a second.
 */
export class EtcdCluster {
  dir = mkdtempSync(join(tmpdir(), 'brine-etcd-'));
  /** @type {Member[]} */
  members = [];
  /** The CA the members trust (TLS clusters only). @type {TestCa | undefined} */
  authority;
  /** Each member's certificate, for clients and peers alike. @type {Map<string, TlsFiles>} */
  memberTls = new Map();
  /** A client certificate the members accept, and the CA to check theirs (TLS clusters only). @type {TlsFiles | undefined} */
  tls;

  /** untrustedCa(), once made. @type {TestCa | undefined} */
  rogue;
  killOnExit = () => this.members.forEach((m) => m.proc?.kill('SIGKILL'));

  constructor() {
    process.once('exit', this.killOnExit);
  }

  /**
   * Starts `size` members and waits until the cluster has a leader and takes writes.
   * `tls`: clients and peers speak TLS only (https:// URLs, client certificates required,
   * see tls and untrustedClient()); the certificates are made with openssl in `dir`.
   */
  /** @param {number} [size] @param {{ tls?: boolean }} [opts] @returns {Promise<EtcdCluster>} */
  static async start(size = 3, opts = {}) {
    ensureEtcd();
    const cluster = new EtcdCluster();
    const scheme = opts.tls ? 'https' : 'http';
    for (let i = 0; i < size; i++) {
      const [client, peer] = [await freePort(), await freePort()];
      const name = `etcd${i}`;
      cluster.members.push({
        name,
        clientUrl: `${scheme}://127.0.0.1:${client}`,
        peerUrl: `${scheme}://127.0.0.1:${peer}`,
        dataDir: join(cluster.dir, name),
        proc: undefined,
        log: '',
      });
    }
    if (opts.tls) {
      cluster.authority = await TestCa.create(join(cluster.dir, 'tls'), 'brine-test-ca');
      for (const m of cluster.members) cluster.memberTls.set(m.name, await cluster.authority.issue(m.name, 'peer'));
      cluster.tls = await cluster.authority.issue('brine-master', 'client');
    }
    for (let i = 0; i < size; i++) cluster.launch(i, 'new');
    await cluster.waitWritable();
    return cluster;
  }

  /** A second CA, which the members do not trust (made at the first call). */
  /** @returns {Promise<TestCa>} */
  async untrustedCa() {
    if (!this.tls) throw new Error('untrustedCa(): the cluster was not started with tls');
    this.rogue ??= await TestCa.create(join(this.dir, 'rogue'), 'rogue-ca');
    return this.rogue;
  }

  /**
   * A client certificate for `cn` signed by untrustedCa(); `ca` is still the members'
   * CA, so only the client side is wrong.
   */
  /** @param {string} cn @returns {Promise<TlsFiles>} */
  async untrustedClient(cn) {
    const rogue = await this.untrustedCa();
    return { ...(await rogue.issue(cn, 'client')), ca: /** @type {TlsFiles} */ (this.tls).ca };
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
      ...this.tlsFlags(m.name),
    ];
    m.log = '';
    m.proc = spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (/** @type {Buffer} */ d) => (m.log = (m.log + d.toString()).slice(-20_000));
    m.proc.stdout.on('data', keep);
    m.proc.stderr.on('data', keep);
  }

  /** Server and peer TLS of member `name`: client certificates from the cluster's CA required on both. */
  /** @param {string} name @returns {string[]} */
  tlsFlags(name) {
    const own = this.memberTls.get(name);
    if (!own) return [];
    return [
      `--cert-file=${own.cert}`,
      `--key-file=${own.key}`,
      `--trusted-ca-file=${own.ca}`,
      '--client-cert-auth',
      `--peer-cert-file=${own.cert}`,
      `--peer-key-file=${own.key}`,
      `--peer-trusted-ca-file=${own.ca}`,
      '--peer-client-cert-auth',
    ];
  }

  /** etcdctl against every member (v3 API), e.g. `get --prefix /brine`. */
  /** @param {...string} args @returns {Promise<{ exitCode: number | undefined, stdout: string, stderr: string }>} */
  async etcdctl(...args) {
    const tls = this.tls ? [`--cacert=${this.tls.ca}`, `--cert=${this.tls.cert}`, `--key=${this.tls.key}`] : [];
    const r = await execa('etcdctl', [`--endpoints=${this.endpoints.join(',')}`, '--command-timeout=2s', ...tls, ...args], {
      reject: false,
      env: { ETCDCTL_API: '3' },
    });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** Waits until a write through any member succeeds: a leader is elected and a quorum is up. */
  async waitWritable(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.etcdctl('put', '/brine-test/ready', String(Date.now()));
      if (r.exitCode === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `etcd cluster not writable: ${r.stderr}\n${this.members.map((m) => `--- ${m.name}\n${m.log.slice(-2000)}`).join('\n')}`,
        );
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
