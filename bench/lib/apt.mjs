// Peers of the benchmarks and of the cluster tests (etcd) come from Debian: installed with
// apt-get when missing (CI and a developer's machine start fresh), as test/vm/provision.mjs
// does for the VM harness.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const LOCK_RETRY_MS = 2000;

/** True when `command` is on PATH. */
export const hasCommand = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/**
 * Installs Debian `packages` (apt-get update first) when `missing()` says a tool is absent;
 * throws when not root or when the tools are still missing. `who` names the peer in messages.
 * `services`: systemd units the packages enable and start on install, stopped and disabled
 * again, since the caller runs its own processes (a host's etcd on the default ports would be
 * a stranger to them).
 */
export function ensureDebianPackages(who, packages, missing, services = []) {
  if (!missing()) return;
  const list = packages.join(' ');
  if (process.getuid() !== 0) throw new Error(`${who}: install ${list} (Debian packages), or run as root to have them installed`);
  process.stderr.write(`${who}: installing ${list} with apt-get (first run on this machine)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another process of this machine may hold dpkg's lock (a parallel bench or test): wait for it.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  for (const args of [
    ['update', '-qq', ...lock],
    ['install', '-y', '-qq', '--no-install-recommends', ...lock, ...packages],
  ]) {
    // `update` does not wait for the lists lock: while another run holds it, retry (or stop, once that run installed them).
    for (let waited = 0; ; waited += LOCK_RETRY_MS) {
      const r = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status === 0) break;
      if (!missing()) return;
      const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      if (!/Could not get lock|Unable to lock/.test(output) || waited >= 300_000) {
        throw new Error(
          `${who}: apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${output.trimEnd().split('\n').slice(-20).join('\n')}`,
        );
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_RETRY_MS);
    }
  }
  if (missing()) throw new Error(`${who}: tools still missing after apt-get install ${list}`);
  if (services.length > 0 && existsSync('/run/systemd/system')) {
    const r = spawnSync('systemctl', ['disable', '--now', ...services], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error(`${who}: systemctl disable --now ${services.join(' ')} failed (exit ${r.status ?? r.signal})`);
  }
}
