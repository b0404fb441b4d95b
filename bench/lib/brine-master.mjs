// A real master started from the CLI in a temporary directory, with minion keys accepted
// beforehand (provisioning), for the footprint and memory benchmarks.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForLog } from './proc.mjs';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The command that runs a CLI as the release packages do: node on the package's bin script
 * (/usr/bin/<name> is a symlink to it, node in its shebang). Not node_modules/.bin's pnpm shim,
 * a shell that runs sed, dirname and uname before it execs node: ~45 ms more per start here.
 */
export function cliCommand(root, name, args, nodeFlags = []) {
  return [process.execPath, [...nodeFlags, join(root, 'packages', name, 'bin', `${name}.js`), ...args]];
}

/** Starts a CLI (cliCommand), its output collected in `log`. */
export function spawnCli(root, name, args, nodeFlags = [], env = process.env) {
  const [cmd, argv] = cliCommand(root, name, args, nodeFlags);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const state = { child, log: '', exited: new Promise((resolve) => child.once('exit', resolve)) };
  child.stdout.on('data', (d) => (state.log += d));
  child.stderr.on('data', (d) => (state.log += d));
  return state;
}

/** The `Environment=` settings of the master's systemd unit. */
export function masterUnitEnvironment() {
  const unit = readFileSync(join(repoRoot, 'packages', 'master', 'systemd', 'brine-master.service'), 'utf8');
  return Object.fromEntries([...unit.matchAll(/^Environment=([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
}

/** Every simulated minion of a bench connects from 127.0.0.1: far more than one address's default share. */
export const MANY_FROM_ONE_ADDRESS = { max_connections_per_address: 100_000 };

/**
 * `accepted`: [id, base64 public key] pairs written as accepted keys before the master starts;
 * `options`: more master config (name → scalar); `keysFrom`: another bench master whose key pair
 * this one uses (the masters of one cluster share it).
 * BRINE_BENCH_NODE_FLAGS (e.g. --cpu-prof, --heapsnapshot-signal=SIGUSR2) go to the master's node.
 */
export async function startMaster({ root = repoRoot, accepted = [], options = {}, keysFrom } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'brine-master-bench-'));
  let master;
  const stop = async () => {
    master?.child.kill('SIGTERM');
    await master?.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const pillar = join(dir, 'pillar');
    mkdirSync(pillar);
    writeFileSync(join(pillar, 'top.sls'), "base:\n  '*':\n    - luks\n");
    writeFileSync(join(pillar, 'luks.sls'), 'luks:\n  password: bench-passphrase-not-a-secret\n');
    const pki = join(dir, 'pki');
    mkdirSync(join(pki, 'minions'), { recursive: true, mode: 0o700 });
    for (const [id, pub] of accepted) writeFileSync(join(pki, 'minions', id), `${pub}\n`);
    for (const file of keysFrom ? ['master.sign.key', 'master.box.key', 'master.pub'] : [])
      copyFileSync(join(keysFrom.dir, 'pki', file), join(pki, file));
    const config = join(dir, 'master.yml');
    const lines = [`interface: 127.0.0.1`, `port: ${port}`, `pki_dir: ${pki}`, `pillar_roots: [${pillar}]`];
    lines.push(`audit_log: ${dir}/audit.jsonl`, `sock_dir: ${dir}/run`, `cachedir: ${dir}/cache`, `sock_group: ''`, 'log_level: info');
    lines.push(...Object.entries(options).map(([k, v]) => `${k}: ${v}`), '');
    writeFileSync(config, lines.join('\n'));
    // The environment of packages/master/systemd/brine-master.service (malloc settings), as in production.
    const env = { ...masterUnitEnvironment(), ...process.env };
    const launch = async () => {
      master = spawnCli(root, 'master', ['-c', config], (process.env.BRINE_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), env);
      const { fingerprint } = await waitForLog(() => master.log, 'master identity');
      await waitForLog(() => master.log, 'master listening');
      return fingerprint;
    };
    const fingerprint = await launch();
    const handle = { dir, config, port, fingerprint, pid: master.child.pid, master, stop };
    /** kill -9, then the same master again on the same port and files (a crash and systemd's restart). */
    handle.crashAndRestart = async () => {
      master.child.kill('SIGKILL');
      await master.exited;
      await launch();
      Object.assign(handle, { pid: master.child.pid, master });
    };
    return handle;
  } catch (err) {
    await stop();
    throw err;
  }
}
