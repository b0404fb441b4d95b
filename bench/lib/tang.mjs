// The boot storm against Tang, the peer Clevis users run: tangd behind socat (a process per
// connection, as its systemd socket does), N key recoveries starting at the same instant from
// client worker processes, one TCP connection each, as booting clevis clients make them.
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, hasCommand } from './apt.mjs';
import { brineRatios, failureDetails, forkClients, requestOnce, runClients } from './peer-clients.mjs';
import { cpuWithChildrenNs, freePort, round, stormSummary } from './proc.mjs';

const TANGD = '/usr/libexec/tangd';
const TANGD_KEYGEN = '/usr/libexec/tangd-keygen';
const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Installs Debian's tang-common, clevis, jose and socat when one is missing (CI starts from a
 * fresh machine). tang-common, not tang: it holds tangd and tangd-keygen without the systemd
 * socket unit that the tang package enables on port 80.
 */
export function ensureTangTools() {
  const missing = () =>
    [TANGD, TANGD_KEYGEN].some((p) => !existsSync(p)) || ['clevis', 'jose', 'socat', 'curl'].some((c) => !hasCommand(c));
  ensureDebianPackages('tang', ['tang-common', 'clevis', 'jose', 'socat', 'curl'], missing);
}

/**
 * Storm of `n` recoveries against a fresh tangd. Server CPU covers socat and every process it
 * forks (a socat child per connection, which runs tangd), from the storm's start until the
 * server has gone quiet, so work on connections that clients gave up on counts too.
 */
export async function stormTang({ n, workers = 4, timeoutS = 60 + n / 20, maxAttempts = 6, attemptTimeoutS = timeoutS }) {
  ensureTangTools();
  const dir = mkdtempSync(join(tmpdir(), 'brine-tang-'));
  const children = [];
  let server;
  try {
    server = await startTang(dir);
    const recovery = await recoveryRequest(dir, server.port);

    const clients = await forkClients(join(here, 'tang-worker.mjs'), n, workers, children);

    const cpu0 = server.cpuNs();
    const go = {
      port: server.port,
      path: `/rec/${recovery.kid}`,
      body: recovery.body,
      expect: recovery.expect,
      maxAttempts,
      attemptTimeoutMs: attemptTimeoutS * 1000,
    };
    const { reports, startAt } = await runClients(clients, () => go, timeoutS, `tang storm of ${n}`);
    const stuck = await server.settle();
    const cpu1 = server.cpuNs();

    const summary = stormSummary(reports, startAt);
    return {
      n,
      ...summary,
      server_cpu_ms_per_recovery: round((cpu1 - cpu0) / 1e6 / Math.max(1, summary.delivered), 3),
      server_cpu_s: round((cpu1 - cpu0) / 1e9, 2),
      cpu_source: server.cpuSource,
      stuck_connections: stuck,
      ...failureDetails(reports),
    };
  } finally {
    for (const child of children) child.kill();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Brine/Tang ratios per storm size, from storm.mjs's Brine results and stormTang's. */
export const brineTangRatios = (brine, tang) => brineRatios(brine, tang, 'server_cpu_ms_per_recovery');

/** Human tables on stderr (stdout carries the JSON). */
export function printTang(tang, ratios = []) {
  const table = (rows) => new console.Console(process.stderr).table(rows);
  table(
    Object.fromEntries(
      tang.map((r) => [
        `Tang N=${r.n}`,
        {
          'wall s': r.wall_s,
          'p50 ms': r.p50_ms,
          'p99 ms': r.p99_ms,
          'server CPU ms/recovery': r.server_cpu_ms_per_recovery,
          errors: r.errors,
          retries: r.retries,
        },
      ]),
    ),
  );
  if (ratios.length)
    table(
      Object.fromEntries(
        ratios.map((r) => [`N=${r.n}`, { 'Brine/Tang CPU per delivery': r.cpu_per_delivery, 'Brine/Tang wall time': r.wall }]),
      ),
    );
}

async function startTang(dir) {
  const db = join(dir, 'db');
  mkdirSync(db);
  // tangd-keygen also tries to chown the keys to _tang; its complaint when that user is absent is harmless.
  execFileSync(TANGD_KEYGEN, [db], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await freePort();
  const logPath = join(dir, 'tangd.log');
  const logFd = openSync(logPath, 'a');
  const socat = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,backlog=1024`, `EXEC:${TANGD} ${db}`], {
    stdio: ['ignore', 'ignore', logFd],
  });
  closeSync(logFd);
  const exited = new Promise((resolve) => socat.once('exit', resolve));
  const cgroup = serverCgroup(socat.pid);
  const cpuNs = cgroup ? () => cgroupCpuNs(cgroup) : () => cpuWithChildrenNs(socat.pid);
  const server = {
    port,
    cpuSource: cgroup ? 'cgroup2 cpu.stat' : '/proc stat of socat with reaped children',
    cpuNs,
    /**
     * Waits until the server has used no CPU for a second: every connection answered, or its
     * tangd blocked on a client that left (tangd has no read timeout). Returns how many
     * connection processes are still alive then.
     */
    async settle() {
      const alive = cgroup
        ? () =>
            readFileSync(join(cgroup, 'cgroup.procs'), 'utf8')
              .split('\n')
              .filter((pid) => pid && Number(pid) !== socat.pid && running(pid)).length
        : () => readFileSync(`/proc/${socat.pid}/task/${socat.pid}/children`, 'utf8').split(' ').filter(Boolean).length;
      let last = cpuNs();
      for (let quietSince = Date.now(), deadline = Date.now() + 60_000; Date.now() - quietSince < 1000 && Date.now() < deadline; ) {
        await sleep(100);
        const now = cpuNs();
        if (now - last > 1e6 || (!cgroup && alive() > 0)) quietSince = Date.now();
        last = now;
      }
      return alive();
    },
    async stop() {
      // Connection processes still running (a failed storm, a client that left) go with socat.
      if (cgroup) writeFileSync(join(cgroup, 'cgroup.kill'), '1');
      else for (const pid of [socat.pid, ...descendants(socat.pid)]) kill(pid);
      await exited;
      if (cgroup) await removeCgroup(cgroup);
    },
  };
  try {
    await waitForHttp(port, '/adv', () => readFileSync(logPath, 'utf8'));
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * socat's own /proc counters see a connection's CPU only once socat has reaped that child,
 * and the child has reaped its tangd; socat children often exit first and leave tangd to
 * init, so these counters can read low (by a quarter in one run of 1,000 here). A cgroup
 * holding socat counts, to the microsecond, the CPU of every process it forks, whoever reaps
 * them: used when cgroup v2 is mounted and writable (root); the /proc counters are the fallback.
 */
function serverCgroup(pid) {
  const mount = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup2')?.[1];
  if (!mount) return undefined;
  const path = join(mount, `brine-tang-${process.pid}-${pid}`);
  try {
    mkdirSync(path);
  } catch {
    return undefined;
  }
  try {
    // socat forks nothing before its first connection, so moving it now counts every child.
    writeFileSync(join(path, 'cgroup.procs'), String(pid));
    return path;
  } catch {
    rmdirSync(path);
    return undefined;
  }
}

function descendants(pid) {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    return kids.flatMap((kid) => [kid, ...descendants(kid)]);
  } catch {
    return []; // exited
  }
}

function kill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already exited
  }
}

function running(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z';
  } catch {
    return false; // gone
  }
}

function cgroupCpuNs(path) {
  const line = readFileSync(join(path, 'cpu.stat'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('usage_usec '));
  return Number(line.split(' ')[1]) * 1000;
}

async function removeCgroup(path) {
  // The kernel refuses while exiting processes are still listed.
  for (let i = 0; ; i++) {
    try {
      rmdirSync(path);
      return;
    } catch (err) {
      if (err.code !== 'EBUSY' || i >= 100) throw err;
      await sleep(50);
    }
  }
}

/**
 * The body of a recovery as clevis-decrypt-tang builds it: encrypt once with `clevis encrypt
 * tang`, then add a fresh ephemeral key to the JWE's client key (`jose jwk exc`, ECMR). The
 * server's answer is completed into the content key with jose once, and the JWE decrypted with
 * it, so the storm replays a request known to recover the secret; every answer to the same
 * request is the same point, so the workers compare answers with this one.
 */
async function recoveryRequest(dir, port) {
  const jose = (args, input) => execFileSync('jose', args, { input, encoding: 'utf8' }).trim();
  const db = join(dir, 'db');
  const signing = readdirSync(db).find((f) => JSON.parse(readFileSync(join(db, f), 'utf8')).alg === 'ES512');
  const thp = signing.replace(/\.jwk$/, ''); // tangd-keygen names each key by its SHA-256 thumbprint
  const secret = 'tang-storm-secret-not-a-secret';
  const jwe = execFileSync('clevis', ['encrypt', 'tang', JSON.stringify({ url: `http://127.0.0.1:${port}`, thp })], {
    input: secret,
    encoding: 'utf8',
  }).trim();
  const header = JSON.parse(Buffer.from(jwe.split('.')[0], 'base64url').toString('utf8'));
  const clt = JSON.stringify(header.epk);
  const srv = jose(['jwk', 'thp', '-i-', '-f', header.kid, '-a', 'S256'], JSON.stringify(header.clevis.tang.adv));
  const eph = jose(['jwk', 'gen', '-i', JSON.stringify({ alg: 'ECMR', crv: header.epk.crv })]);
  const body = jose(['jwk', 'exc', '-i', '{"alg":"ECMR"}', '-l-', '-r-'], clt + eph);

  const { status, data } = await post(port, `/rec/${header.kid}`, body);
  if (status !== 200) throw new Error(`tang: recovery answered ${status}: ${data}`);
  const tmp = jose(['jwk', 'exc', '-i', '{"alg":"ECMR"}', '-l-', '-r-'], eph + srv);
  const key = jose(['jwk', 'exc', '-l-', '-r-'], jose(['jwk', 'pub', '-i-'], data) + tmp);
  writeFileSync(join(dir, 'key.jwk'), key);
  writeFileSync(join(dir, 'secret.jwe'), jwe);
  if (jose(['jwe', 'dec', '-k', join(dir, 'key.jwk'), '-i', join(dir, 'secret.jwe')]) !== secret)
    throw new Error('tang: the recovery request does not recover the secret');
  const { kty, crv, x, y } = JSON.parse(data);
  return { kid: header.kid, body, expect: { kty, crv, x, y } };
}

/** One POST on its own connection (no keep-alive), as clevis's curl makes it. */
export async function post(port, path, body, timeoutMs = 60_000) {
  const headers = { 'content-type': 'application/jwk+json', 'content-length': Buffer.byteLength(body) };
  const { status, data } = await requestOnce(request, { port, path, method: 'POST', headers }, body, timeoutMs);
  return { status, data: data.toString('utf8') };
}

async function waitForHttp(port, path, log) {
  for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
    try {
      const status = await new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, agent: false }, (res) => resolve(res.resume().statusCode))
          .on('error', reject)
          .end();
      });
      if (status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`tang: no answer on port ${port}:\n${log().slice(-2000)}`);
  }
}
