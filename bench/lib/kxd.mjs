// The boot storm against kxd (Debian's kxd 0.15, Go): HTTPS with a pinned client certificate
// per key. N clients start at the same instant, each makes a fresh mutual-TLS connection and
// one GET of its own key, as `kxc` does at boot (kxc-cryptsetup runs one kxc process per disk).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, hasCommand } from './apt.mjs';
import { failureDetails, forkClients, runClients } from './peer-clients.mjs';
import { cpuNs, freePort, round, rssMiB, stormSummary } from './proc.mjs';

const KXD = '/usr/bin/kxd';
const KXC = '/usr/bin/kxc';
const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Distinct client certificates, shared round-robin by the clients: one per client would cost an
 * openssl process each (minutes at N = 10,000) and kxd's work per request does not depend on
 * it (it parses the client's certificate and the key's allowed_clients file on every request;
 * no TLS session is resumed).
 */
const CLIENT_CERTS = 50;
/** Fetches made by real kxc processes after each storm, to compare kxd's CPU per fetch. */
const KXC_CHECK = 200;

/** Installs Debian's kxd and kxc (and openssl, for the certificates) when missing. */
export function ensureKxdTools() {
  ensureDebianPackages('kxd', ['kxd', 'kxc', 'openssl'], () => ![KXD, KXC].every((p) => existsSync(p)) || !hasCommand('openssl'));
}

/**
 * Storm of `n` key fetches against a fresh kxd: client i fetches `/v1/host<i>/luks`, whose
 * allowed_clients holds the certificate it presents. Server CPU is kxd's (all its threads), from
 * the storm's start until kxd has gone quiet.
 */
export async function stormKxd({ n, workers = 4, timeoutS = 60 + n / 20, maxAttempts = 6, warmups = 0 }) {
  ensureKxdTools();
  const dir = mkdtempSync(join(tmpdir(), 'brine-kxd-'));
  const children = [];
  let server;
  try {
    const serverPki = selfSigned(dir, 'kxd-server', 'IP:127.0.0.1,DNS:localhost');
    const certs = Array.from({ length: Math.min(n, CLIENT_CERTS) }, (_, c) => selfSigned(dir, `kxc-client-${c}`));
    const keys = makeDataDir(join(dir, 'data'), n, certs);
    server = await startKxd(dir, serverPki);
    const kxc = (i) => {
      const { cert, key } = certs[i % certs.length];
      const url = `kxd://127.0.0.1:${server.port}/host${i}/luks`;
      return new Promise((resolve, reject) => {
        execFile(
          KXC,
          [`--client_cert=${cert}`, `--client_key=${key}`, `--server_cert=${serverPki.cert}`, url],
          { encoding: 'buffer' },
          (err, out, stderr) => {
            if (err) reject(new Error(`kxd: kxc failed for host${i}: ${stderr}`));
            else if (!out.equals(keys[i])) reject(new Error(`kxd: kxc did not get the key of host${i}`));
            else resolve();
          },
        );
      });
    };
    await kxc(0); // the setup works, and kxd answers the real client with the key

    const clients = await forkClients(join(here, 'kxd-worker.mjs'), n, workers, children);
    const go = (first, count) => ({
      port: server.port,
      first,
      serverCert: serverPki.cert,
      clientCerts: certs,
      keys: keys.slice(first, first + count).map((k) => k.toString('base64')),
      maxAttempts,
      attemptTimeoutMs: timeoutS * 1000,
    });
    // Unmeasured storms first when asked, as for Brine's master (storm.mjs --warmup).
    let warmupErrors = 0;
    for (let w = 0; w < warmups; w++) {
      const warm = await runClients(clients, go, timeoutS, `kxd warm-up storm of ${n}`);
      warmupErrors += warm.reports.reduce((sum, r) => sum + r.errors, 0);
    }
    await server.settle();
    const cpu0 = server.cpuNs();
    const allowed0 = server.allowed();
    const { reports, startAt } = await runClients(clients, go, timeoutS, `kxd storm of ${n}`);
    await server.settle();
    const cpu1 = server.cpuNs();
    const allowed1 = server.allowed();
    const kxcCheck = await kxcProcesses(server, Math.min(n, KXC_CHECK), kxc);

    const summary = stormSummary(reports, startAt);
    return {
      n,
      ...summary,
      ...(warmups > 0 && { warmup_errors: warmupErrors }),
      server_cpu_ms_per_delivery: round((cpu1 - cpu0) / 1e6 / Math.max(1, summary.delivered), 3),
      server_cpu_s: round((cpu1 - cpu0) / 1e9, 2),
      server_rss_mib: rssMiB(server.pid),
      allowed_in_log: allowed1 - allowed0,
      tls: [...new Set(reports.flatMap((r) => r.protocols))],
      tls_sessions_resumed: reports.reduce((s, r) => s + r.resumed, 0),
      kxc_processes: kxcCheck,
      client_certs: certs.length,
      ...failureDetails(reports),
    };
  } finally {
    for (const child of children) child.kill();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same fetches by `count` real kxc processes (4 at a time), after the storm: kxd's CPU per
 * fetch from Go's own TLS client, next to the storm's from Node's, shows whether the storm's
 * clients cost kxd what kxc does.
 */
async function kxcProcesses(server, count, kxc) {
  const cpu0 = server.cpuNs();
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) await kxc(next++);
    }),
  );
  const wall = Date.now() - t0;
  await server.settle();
  return {
    fetches: count,
    server_cpu_ms_per_delivery: round((server.cpuNs() - cpu0) / 1e6 / count, 3),
    per_s: round((count * 1000) / wall),
  };
}

/** Human table on stderr (stdout carries the JSON). */
export function printKxd(kxd) {
  new console.Console(process.stderr).table(
    Object.fromEntries(
      kxd.map((r) => [
        `kxd N=${r.n}`,
        {
          'wall s': r.wall_s,
          'p50 ms': r.p50_ms,
          'p99 ms': r.p99_ms,
          'server CPU ms/delivery': r.server_cpu_ms_per_delivery,
          errors: r.errors,
          retries: r.retries,
          'server RSS MiB': r.server_rss_mib,
        },
      ]),
    ),
  );
}

/** A self-signed P-256 certificate (kxgencert, kxd's own tool, makes RSA 2048 ones) and its key, as PEM files. */
function selfSigned(dir, name, subjectAltName) {
  const paths = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) };
  const san = subjectAltName ? ['-addext', `subjectAltName=${subjectAltName}`] : [];
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/O=${name}`,
    ...san,
  ];
  execFileSync('openssl', [...args, '-keyout', paths.key, '-out', paths.cert], { stdio: ['ignore', 'ignore', 'pipe'] });
  return paths;
}

/** kxd's tree: data/host<i>/luks/{key, allowed_clients}, a random 64-byte key each; returns the keys. */
function makeDataDir(data, n, certs) {
  const pems = certs.map(({ cert }) => readFileSync(cert));
  return Array.from({ length: n }, (_, i) => {
    const keyDir = join(data, `host${i}`, 'luks');
    mkdirSync(keyDir, { recursive: true });
    const key = randomBytes(64);
    writeFileSync(join(keyDir, 'key'), key, { mode: 0o600 });
    writeFileSync(join(keyDir, 'allowed_clients'), pems[i % pems.length]);
    return key;
  });
}

async function startKxd(dir, { cert, key }) {
  const port = await freePort();
  const logPath = join(dir, 'kxd.log');
  // --logfile: kxd logs to syslog by default; --hook: a path that does not exist, so no hook runs
  // (none is installed by the package either); no --smtp_addr, so no mail is sent.
  const args = [
    '--ip_addr=127.0.0.1',
    `--port=${port}`,
    `--data_dir=${join(dir, 'data')}`,
    `--cert=${cert}`,
    `--key=${key}`,
    `--logfile=${logPath}`,
    `--hook=${join(dir, 'no-hook')}`,
  ];
  const child = spawn(KXD, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const server = {
    port,
    pid: child.pid,
    cpuNs: () => cpuNs(child.pid),
    /** Requests kxd allowed so far, from its log (a line per key it sent). */
    allowed: () =>
      log()
        .split('\n')
        .filter((l) => l.includes('Allowing request')).length,
    /** Waits until kxd has used no CPU for half a second (connections closed, buffers freed). */
    async settle() {
      let last = cpuNs(child.pid);
      for (let quietSince = Date.now(), deadline = Date.now() + 30_000; Date.now() - quietSince < 500 && Date.now() < deadline; ) {
        await sleep(100);
        const now = cpuNs(child.pid);
        if (now - last > 1e6) quietSince = Date.now();
        last = now;
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
  try {
    await waitForListen(port, () => `${child.exitCode === null ? '' : `kxd exited with ${child.exitCode}\n`}${log().slice(-2000)}`);
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function waitForListen(port, why) {
  for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
    const up = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`kxd: not listening on port ${port}:\n${why()}`);
  }
}
