// @ts-check
// Runs a shell command as root in a fresh QEMU guest that sees the host's filesystem through
// a throw-away overlay, with raw disk images attached, and returns its output and exit status.
// See docs/VM-HARNESS.md. Written as checked JavaScript so Node runs it without a build step.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { VmBootTimeoutError, VmCrashError, VmKernelPanicError, VmSetupError, VmTimeoutError, VmUsageError } from './errors.mjs';
import { acquireVmLock } from './lock.mjs';
import { installMissingPackages, provision, TPM_PACKAGES } from './provision.mjs';

export * from './errors.mjs';

/**
 * A guest → host TCP forward: connections the guest opens to guestHost:guestPort reach
 * 127.0.0.1:hostPort on the host, one host connection per guest connection.
 * @typedef {object} Forward
 * @property {number} guestPort
 * @property {number} hostPort
 * @property {string} [guestHost] an address in the guest's 10.0.2.0/24 network; default 10.0.2.100
 */

/**
 * A host → guest TCP forward: connections to 127.0.0.1:hostPort on the host reach guestPort in the guest.
 * @typedef {object} Inbound
 * @property {number} hostPort
 * @property {number} guestPort
 */

/**
 * @typedef {object} RunOptions
 * @property {string} command bash script (one line or many) run as root in the guest
 * @property {readonly string[]} [disks] raw images, attached in order as /dev/vda, /dev/vdb, …; writes persist
 * @property {boolean} [systemd] boot systemd as PID 1 and run the command from a unit after multi-user.target
 * @property {string} [jobAfter] with systemd, the target the command's unit waits for (default multi-user.target);
 *   basic.target lets a command watch a boot that a unit holds back from reaching multi-user.target
 * @property {string} [setup] bash script run as root before the command; with systemd, before systemd starts,
 *   so units it installs and enables take part in the boot. A non-zero status raises VmSetupError.
 * @property {readonly Forward[]} [forwards] guest → host TCP forwards; any forward also brings up eth0 (10.0.2.15/24)
 * @property {readonly Inbound[]} [inbound] host → guest TCP forwards (a server in the guest); also bring up eth0
 * @property {string} [rootDisk] an image made by createRootDisk that holds the overlay's upper layer instead of
 *   memory: what the guest changes on its root (packages installed, /etc, /var) is there at its next boot on the
 *   same image, as on a server's own disk. Attached after `disks`.
 * @property {string} [tpmState] a directory holding a software TPM2's state (swtpm): the guest gets that TPM as
 *   /dev/tpm0 and /dev/tpmrm0. The same directory at the next boot is the same machine's TPM; a fresh one is
 *   another machine's. The kernel then boots through the firmware (bzImage): slower, but the only way it sees ACPI.
 * @property {boolean} [lockHeld] the caller holds acquireVmLock() itself and runs this guest beside another one
 *   (two machines talking to each other); the run does not wait for the lock
 * @property {Readonly<Record<string, string>>} [env] exported to the setup script and the command
 * @property {string | Uint8Array} [stdin] the command's standard input (default: empty)
 * @property {string} [cwd] the command's working directory in the guest (default: this process's cwd)
 * @property {string} [shareDir] host directory mounted read-write at the same path in the guest
 * @property {number} [timeoutMs] limit for the whole run, boot included (default 300 000)
 * @property {number} [bootTimeoutMs] limit until the guest has switched to its overlay root (default 120 000)
 * @property {number} [memoryMiB] guest memory (default 2048); the overlay's upper layer lives in it
 * @property {number} [cpus] guest CPUs (default 2)
 * @property {number} [lockTimeoutMs] how long to wait for other VMs to finish (default 30 min)
 */

/**
 * @typedef {object} RunResult
 * @property {number} exitCode the command's exit status
 * @property {string} stdout
 * @property {string} stderr
 * @property {string} consoleLog the guest's serial console (kernel, init, and systemd messages)
 * @property {number} durationMs QEMU start to QEMU exit
 * @property {number} bootMs QEMU start until the guest switched to its overlay root (±0.1 s)
 * @property {number} startMs QEMU start until the command started; with systemd, includes systemd's boot (±0.1 s)
 */

const GUEST_DIR = join(dirname(fileURLToPath(import.meta.url)), 'guest');
const KERNEL_CMDLINE = 'console=ttyS0 panic=-1 quiet loglevel=3 8250.nr_uarts=1 mitigations=off';
/** After the guest's own deadline, how long it has to power off before QEMU is killed. */
const POWEROFF_GRACE_MS = 15_000;
/** The guest deadline is whole seconds on a 1 s clock: end it this much early so the host never wins the race. */
const GUEST_DEADLINE_MARGIN_S = 2;
const POLL_MS = 100;
const DEFAULT_LOCK_TIMEOUT_MS = 30 * 60_000;

/**
 * Creates (or empties) a sparse raw disk image of sizeMiB MiB.
 * @param {string} path
 * @param {number} sizeMiB
 * @returns {Promise<string>} the absolute path
 */
export async function createDisk(path, sizeMiB) {
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1) throw new VmUsageError(`disk size must be a whole number of MiB ≥ 1, got ${sizeMiB}`);
  const abs = resolve(path);
  await mkdir(dirname(abs), { recursive: true });
  await writeFile(abs, '');
  await truncate(abs, sizeMiB * 1024 * 1024);
  return abs;
}

/**
 * Creates (or empties) an ext4 image for RunOptions.rootDisk: a guest root that persists across boots.
 * @param {string} path
 * @param {number} sizeMiB
 * @returns {Promise<string>} the absolute path
 */
export async function createRootDisk(path, sizeMiB) {
  const abs = await createDisk(path, sizeMiB);
  const r = spawnSync('mkfs.ext4', ['-q', '-F', '-L', 'brine-root', abs], { encoding: 'utf8' });
  if (r.status !== 0) throw new VmUsageError(`mkfs.ext4 ${abs} failed: ${r.stderr || r.error?.message}`);
  return abs;
}

/** @type {import('./provision.mjs').VmAssets | undefined} */
let assets;

/**
 * Installs missing Debian packages and builds the cached kernel and initramfs, once per process.
 * runInVm does this itself; call it first (e.g. in beforeAll) to keep a first-run apt-get out of a test's time.
 * @param {number} [lockTimeoutMs]
 * @returns {Promise<import('./provision.mjs').VmAssets>}
 */
export async function prepareVm(lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS) {
  if (assets) return assets;
  // Under the lock: two processes must not run apt-get or write the cache at once.
  const lock = await acquireVmLock(lockTimeoutMs);
  try {
    assets = provision();
    return assets;
  } finally {
    await lock.release();
  }
}

/**
 * Boots a fresh VM, runs `command` in it and returns its output and exit status.
 * VMs run one at a time per machine; a call waits for the others.
 * @param {RunOptions} options
 * @returns {Promise<RunResult>}
 */
export async function runInVm(options) {
  const job = checkOptions(options);
  const vm = await prepareVm(options.lockTimeoutMs);
  if (options.lockHeld) return boot(job, vm);
  const lock = await acquireVmLock(options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  try {
    return await boot(job, vm);
  } finally {
    await lock.release();
  }
}

/**
 * @typedef {Required<Omit<RunOptions, 'stdin' | 'setup' | 'shareDir' | 'rootDisk' | 'tpmState' | 'lockTimeoutMs' | 'lockHeld'>> & Pick<RunOptions, 'stdin' | 'setup' | 'shareDir' | 'rootDisk' | 'tpmState'>} Job
 */

/**
 * Validates options before anything starts, so mistakes fail fast with a clear message.
 * @param {RunOptions} o
 * @returns {Job}
 */
function checkOptions(o) {
  if (typeof o.command !== 'string' || o.command.trim() === '') throw new VmUsageError('command must be a non-empty shell script');
  const disks = (o.disks ?? []).map((d) => resolve(d));
  if (disks.length > 26) throw new VmUsageError(`at most 26 disks (/dev/vda–/dev/vdz), got ${disks.length}`);
  const rootDisk = o.rootDisk === undefined ? undefined : resolve(o.rootDisk);
  if (disks.length + (rootDisk ? 1 : 0) > 26) throw new VmUsageError('at most 26 disks (/dev/vda–/dev/vdz), the root disk included');
  for (const d of disks) {
    if (!existsSync(d)) throw new VmUsageError(`disk image ${d} does not exist; make one with createDisk(path, sizeMiB)`);
  }
  if (rootDisk && !existsSync(rootDisk))
    throw new VmUsageError(`root disk ${rootDisk} does not exist; make one with createRootDisk(path, sizeMiB)`);
  for (const f of o.inbound ?? []) {
    for (const port of [f.guestPort, f.hostPort]) {
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new VmUsageError(`inbound ports must be integers 1–65535, got ${JSON.stringify(f)}`);
    }
  }
  for (const f of o.forwards ?? []) {
    const host = f.guestHost ?? '10.0.2.100';
    const last = Number(/^10\.0\.2\.(\d{1,3})$/.exec(host)?.[1]);
    // .2 is the gateway, .3 the DNS, .15 the guest itself.
    if (!(last > 0 && last < 255) || [2, 3, 15].includes(last))
      throw new VmUsageError(`forward guestHost ${host} must be a free address in 10.0.2.0/24 (not .2, .3 or .15)`);
    for (const port of [f.guestPort, f.hostPort]) {
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new VmUsageError(`forward ports must be integers 1–65535, got ${JSON.stringify(f)}`);
    }
  }
  for (const [name, value] of Object.entries(o.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new VmUsageError(`env name ${JSON.stringify(name)} is not a shell variable name`);
    if (typeof value !== 'string' || value.includes('\0')) throw new VmUsageError(`env ${name} must be a string without NUL bytes`);
  }
  if (o.jobAfter !== undefined && !/^[a-z][a-z0-9-]*\.target$/.test(o.jobAfter))
    throw new VmUsageError(`jobAfter must name a systemd target (like basic.target), got ${JSON.stringify(o.jobAfter)}`);
  const shareDir = o.shareDir === undefined ? undefined : resolve(o.shareDir);
  const tpmState = o.tpmState === undefined ? undefined : resolve(o.tpmState);
  if (tpmState !== undefined && !statSync(tpmState, { throwIfNoEntry: false })?.isDirectory())
    throw new VmUsageError(`tpmState ${tpmState} is not a directory; make an empty one for a new machine's TPM`);
  if (shareDir !== undefined && !statSync(shareDir, { throwIfNoEntry: false })?.isDirectory())
    throw new VmUsageError(`shareDir ${shareDir} is not a directory`);
  const job = {
    command: o.command,
    disks,
    systemd: o.systemd ?? false,
    jobAfter: o.jobAfter ?? 'multi-user.target',
    setup: o.setup,
    forwards: o.forwards ?? [],
    inbound: o.inbound ?? [],
    rootDisk,
    tpmState,
    env: o.env ?? {},
    stdin: o.stdin,
    cwd: resolve(o.cwd ?? process.cwd()),
    shareDir,
    timeoutMs: o.timeoutMs ?? 300_000,
    bootTimeoutMs: o.bootTimeoutMs ?? 120_000,
    memoryMiB: o.memoryMiB ?? 2048,
    cpus: o.cpus ?? 2,
  };
  for (const key of /** @type {const} */ (['timeoutMs', 'bootTimeoutMs', 'memoryMiB', 'cpus'])) {
    if (!Number.isInteger(job[key]) || job[key] < 1) throw new VmUsageError(`${key} must be a positive integer, got ${job[key]}`);
  }
  return job;
}

/** @param {string} s */
function shellQuote(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** QEMU splits option values at commas; a literal comma is written twice. @param {string} s */
function qemuEscape(s) {
  return s.replace(/,/g, ',,');
}

/** @returns {string[]} */
function accelArgs() {
  const accel = process.env.BRINE_VM_ACCEL ?? 'tcg';
  if (accel === 'tcg') return ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  // For machines with hardware virtualisation; the software KVM of the project's machines cannot boot Debian's kernel.
  if (accel === 'kvm') return ['-accel', 'kvm', '-cpu', 'host'];
  throw new VmUsageError(`BRINE_VM_ACCEL must be tcg or kvm, got ${accel}`);
}

/**
 * @param {Job} job
 * @param {string} share the job share on the host
 * @param {string} consolePath
 * @param {import('./provision.mjs').VmAssets} vm
 * @returns {string[]}
 */
function qemuArgs(job, share, consolePath, vm) {
  const args = [
    '-machine',
    'q35',
    ...accelArgs(),
    '-m',
    String(job.memoryMiB),
    '-smp',
    String(job.cpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    `file:${qemuEscape(consolePath)}`,
    '-kernel',
    // A PVH boot has no ACPI, and without ACPI no TPM: a guest with a TPM boots the bzImage through the firmware.
    job.tpmState ? vm.bzImage : vm.vmlinux,
    '-initrd',
    vm.initrd,
    // The initramfs mounts this device as the overlay's upper layer (guest/init.sh).
    '-append',
    job.rootDisk ? `${KERNEL_CMDLINE} brine.upper=/dev/vd${String.fromCharCode(97 + job.disks.length)}` : KERNEL_CMDLINE,
    '-device',
    'virtio-rng-pci',
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${qemuEscape(share)},mount_tag=brinejob,security_model=none`,
  ];
  if (job.shareDir) args.push('-virtfs', `local,path=${qemuEscape(job.shareDir)},mount_tag=brineshare,security_model=none`);
  for (const disk of [...job.disks, ...(job.rootDisk ? [job.rootDisk] : [])])
    args.push('-drive', `file=${qemuEscape(disk)},format=raw,if=virtio,cache=unsafe`);
  if (job.tpmState) {
    args.push('-chardev', `socket,id=chrtpm,path=${qemuEscape(tpmSocket(share))}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm');
    args.push('-device', 'tpm-tis,tpmdev=tpm0');
  }
  if (hasNetwork(job)) {
    // cmd:socat gives each guest connection its own host connection; restrict=on keeps the guest off every other address.
    const fwds = job.forwards.map(
      (f) => `guestfwd=tcp:${f.guestHost ?? '10.0.2.100'}:${f.guestPort}-cmd:socat - TCP:127.0.0.1:${f.hostPort}`,
    );
    const inbound = job.inbound.map((f) => `hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`);
    args.push('-netdev', ['user', 'id=n0', 'restrict=on', ...fwds, ...inbound].join(','), '-device', 'virtio-net-pci,netdev=n0');
  }
  return args;
}

/** @param {string} share */
const tpmSocket = (share) => join(share, 'swtpm.sock');

/**
 * Starts a software TPM2 on the job's socket, its state in `stateDir`, for QEMU to connect to.
 * @param {string} stateDir
 * @param {string} share
 * @returns {Promise<import('node:child_process').ChildProcess>}
 */
async function startSwtpm(stateDir, share) {
  installMissingPackages(TPM_PACKAGES);
  const ctrl = tpmSocket(share);
  const swtpm = spawn(
    'setpriv',
    ['--pdeathsig', 'KILL', '--', 'swtpm', 'socket', '--tpm2', '--tpmstate', `dir=${stateDir}`, '--ctrl', `type=unixio,path=${ctrl}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  swtpm.stderr?.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  for (let waited = 0; !existsSync(ctrl); waited += 20) {
    if (swtpm.exitCode !== null || waited > 10_000) {
      swtpm.kill('SIGKILL');
      throw new VmUsageError(`swtpm did not start (state ${stateDir}): ${stderr.trim() || `exit ${swtpm.exitCode}`}`);
    }
    await sleep(20);
  }
  return swtpm;
}

/** @param {Job} job */
const hasNetwork = (job) => job.forwards.length > 0 || job.inbound.length > 0;

/**
 * Writes the files the guest reads from the job share.
 * @param {Job} job
 * @param {string} share
 * @param {number} startedAt host epoch ms when QEMU starts
 */
function writeJobFiles(job, share, startedAt) {
  const conf = {
    BRINE_GUEST_DIR: GUEST_DIR,
    BRINE_SYSTEMD: job.systemd ? '1' : '0',
    BRINE_JOB_AFTER: job.jobAfter,
    BRINE_NET: hasNetwork(job) ? '1' : '0',
    BRINE_DISKS: String(job.disks.length),
    BRINE_SHARE_DIR: job.shareDir ?? '',
    BRINE_CWD: job.cwd,
    BRINE_DEADLINE: String(Math.floor((startedAt + job.timeoutMs) / 1000) - GUEST_DEADLINE_MARGIN_S),
  };
  writeFileSync(
    join(share, 'job.conf'),
    Object.entries(conf)
      .map(([k, v]) => `${k}=${shellQuote(v)}\n`)
      .join(''),
  );
  writeFileSync(
    join(share, 'env.sh'),
    Object.entries(job.env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
      .join(''),
  );
  writeFileSync(join(share, 'command.sh'), job.command);
  if (job.setup !== undefined) writeFileSync(join(share, 'setup.sh'), job.setup);
  if (job.stdin !== undefined) writeFileSync(join(share, 'stdin'), job.stdin);
}

/**
 * @param {Job} job
 * @param {import('./provision.mjs').VmAssets} vm
 * @returns {Promise<RunResult>}
 */
async function boot(job, vm) {
  const dir = mkdtempSync(join(tmpdir(), 'brine-vm-'));
  try {
    return await runQemu(job, vm, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs QEMU until the guest powers off or a limit passes, and turns what the guest left in the
 * job share into a result or a typed error. QEMU is not running any more when this settles.
 * @param {Job} job
 * @param {import('./provision.mjs').VmAssets} vm
 * @param {string} dir a fresh directory for the job share and the console log
 * @returns {Promise<RunResult>}
 */
async function runQemu(job, vm, dir) {
  const share = join(dir, 'share');
  const consolePath = join(dir, 'console.log');
  mkdirSync(share);
  const read = (/** @type {string} */ name) => (existsSync(join(share, name)) ? readFileSync(join(share, name), 'utf8') : '');
  const consoleLog = () => (existsSync(consolePath) ? readFileSync(consolePath, 'utf8') : '');
  const swtpm = job.tpmState ? await startSwtpm(job.tpmState, share) : undefined;
  const startedAt = Date.now();
  writeJobFiles(job, share, startedAt);
  // setpriv: QEMU gets SIGKILL if this process dies, so no guest outlives a killed test run.
  const qemu = spawn('setpriv', ['--pdeathsig', 'KILL', '--', vm.qemu, ...qemuArgs(job, share, consolePath, vm)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let qemuStderr = '';
  qemu.stderr.setEncoding('utf8').on('data', (chunk) => (qemuStderr += chunk));
  /** @type {Promise<{ code: number | null, signal?: NodeJS.Signals | null, error?: Error }>} */
  const exited = new Promise((done) => {
    qemu.on('error', (error) => done({ code: null, error }));
    qemu.on('close', (code, signal) => done({ code, signal }));
  });
  try {
    let bootMs = 0;
    let startMs = 0;
    /** @type {Awaited<typeof exited> | undefined} */
    let exit;
    while (!exit) {
      exit = await Promise.race([exited, sleep(POLL_MS).then(() => undefined)]);
      const elapsed = Date.now() - startedAt;
      if (!bootMs && existsSync(join(share, 'booted'))) bootMs = elapsed;
      if (!startMs && existsSync(join(share, 'started'))) startMs = elapsed;
      if (exit) break;
      if (!bootMs && elapsed > job.bootTimeoutMs) {
        throw new VmBootTimeoutError(
          `the guest did not boot within ${job.bootTimeoutMs / 1000} s (no stage-2 marker); killed QEMU`,
          consoleLog(),
        );
      }
      if (elapsed > job.timeoutMs + POWEROFF_GRACE_MS) {
        throw new VmTimeoutError(`the VM run exceeded timeoutMs ${job.timeoutMs} and the guest did not power off; killed QEMU`, {
          stdout: read('stdout'),
          stderr: read('stderr'),
          consoleLog: consoleLog(),
        });
      }
    }
    const durationMs = Date.now() - startedAt;
    const log = consoleLog();
    if (exit.error) throw new VmCrashError(`could not start ${vm.qemu} through setpriv: ${exit.error.message}`, log, qemuStderr);
    const setupStatus = read('setup.status').trim();
    if (setupStatus !== '' && setupStatus !== '0') throw new VmSetupError(Number(setupStatus), read('setup.out'), log);
    const status = read('status').trim();
    if (status === '') {
      // The reason comes first in a panic, before a stack trace that can push it out of the tail.
      const panic = /Kernel panic - not syncing: ([^\r\n]*)|Kernel panic/.exec(log);
      if (panic) throw new VmKernelPanicError(`the guest kernel panicked${panic[1] ? `: ${panic[1].trim()}` : ''}`, log);
      throw new VmCrashError(
        `QEMU exited (${exit.signal ? `signal ${exit.signal}` : `status ${exit.code}`}) before the guest reported an exit status`,
        log,
        qemuStderr,
      );
    }
    if (existsSync(join(share, 'timedout'))) {
      throw new VmTimeoutError(`the command did not finish within timeoutMs ${job.timeoutMs} (boot included); the guest stopped it`, {
        stdout: read('stdout'),
        stderr: read('stderr'),
        consoleLog: log,
      });
    }
    return { exitCode: Number(status), stdout: read('stdout'), stderr: read('stderr'), consoleLog: log, durationMs, bootMs, startMs };
  } finally {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    await exited;
    // swtpm writes its state as QEMU goes; it may be stopped once QEMU is gone.
    swtpm?.kill('SIGTERM');
  }
}
