// @ts-check
// Everything a VM needs from the host, made ready automatically: the Debian packages,
// an uncompressed kernel for QEMU's PVH entry, and a busybox initramfs. Results are
// cached and named by a hash of their inputs, so a second call costs a few milliseconds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VmDependencyError } from './errors.mjs';

/** Debian packages used on the host (QEMU, kernel, initramfs) or inside the guest. */
export const REQUIRED_PACKAGES = Object.freeze([
  'qemu-system-x86',
  'linux-image-amd64',
  'busybox-static',
  'cryptsetup',
  'lvm2',
  'socat',
  'xfsprogs',
  'e2fsprogs',
  'kmod',
  'xz-utils',
  'util-linux',
  'systemd',
]);

/** Installed when a test first boots a guest with a software TPM (RunOptions.tpmState); tpm2-tools brings the
 * libtss2 libraries systemd-creds loads in the guest. */
export const TPM_PACKAGES = Object.freeze(['swtpm', 'swtpm-tools', 'tpm2-tools']);

/**
 * Loaded by the initramfs, dependencies first, to reach the host root over 9p and stack the overlay
 * (virtio_blk, ext4 and the crc32c its metadata checksums need: for a persistent root disk, when a test asks for one).
 */
const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'virtio_blk', 'crc32c_generic', 'ext4'];

const GUEST_INIT = join(dirname(fileURLToPath(import.meta.url)), 'guest', 'init.sh');
const BUSYBOX = '/bin/busybox';

/**
 * @typedef {object} VmAssets
 * @property {string} qemu path of qemu-system-x86_64
 * @property {string} kernelVersion e.g. 6.1.0-56-amd64
 * @property {string} vmlinux uncompressed kernel (ELF) for PVH boot
 * @property {string} bzImage the same kernel as Debian ships it, booted through the firmware (for guests with a TPM)
 * @property {string} initrd uncompressed newc cpio
 */

/**
 * Directory for cached kernels and initramfs images: $BRINE_VM_CACHE, else
 * /var/cache/brine-vm for root, else ~/.cache/brine-vm.
 * @returns {string}
 */
export function cacheDir() {
  if (process.env.BRINE_VM_CACHE) return process.env.BRINE_VM_CACHE;
  return process.getuid?.() === 0 ? '/var/cache/brine-vm' : join(homedir(), '.cache', 'brine-vm');
}

/**
 * Installs whichever of `packages` are missing, with apt-get, as root.
 * @param {readonly string[]} [packages]
 * @returns {string[]} the packages it installed (empty when all were there)
 */
export function installMissingPackages(packages = REQUIRED_PACKAGES) {
  const missing = missingPackages(packages);
  if (missing.length === 0) return [];
  const command = `apt-get update && INITRD=No apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new VmDependencyError(
      `the VM harness needs Debian packages that are not installed: ${missing.join(' ')}.\nInstall them as root: ${command}`,
      missing,
    );
  }
  process.stderr.write(`brine-vm: installing ${missing.join(' ')} (first run on this machine)\n`);
  // INITRD=No: the harness builds its own initramfs, and the distribution's hooks are slow and may fail.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', INITRD: 'No' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Use-Pty=0', ...missing]]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) {
      const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd().split('\n').slice(-30).join('\n');
      throw new VmDependencyError(
        `apt-get ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`}) while installing ${missing.join(' ')}:\n${output}\nRetry by hand: ${command}`,
        missing,
      );
    }
  }
  const still = missingPackages(packages);
  if (still.length > 0)
    throw new VmDependencyError(`apt-get reported success but these packages are still not installed: ${still.join(' ')}`, still);
  return missing;
}

/**
 * @param {readonly string[]} packages
 * @returns {string[]}
 */
function missingPackages(packages) {
  // dpkg-query exits non-zero when a name is unknown to dpkg; the lines it prints still tell the rest.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Abbrev}\n', ...packages], { encoding: 'utf8' });
  if (r.error)
    throw new VmDependencyError(`cannot run dpkg-query (${r.error.message}): the VM harness needs a Debian-based host`, [...packages]);
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((line) => / ii\s*$/.test(line))
      .map((line) => line.split(/[ :]/)[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

/**
 * Installs what is missing, then returns the kernel and initramfs to boot, building them when their inputs changed.
 * @returns {VmAssets}
 */
export function provision() {
  installMissingPackages();
  const qemu = '/usr/bin/qemu-system-x86_64';
  if (!existsSync(qemu))
    throw new VmDependencyError(
      `${qemu} is missing although qemu-system-x86 is installed; reinstall it: apt-get install --reinstall qemu-system-x86`,
      ['qemu-system-x86'],
    );
  const kernelVersion = newestKernel();
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const bzImage = readFileSync(`/boot/vmlinuz-${kernelVersion}`);
  const vmlinux = cached(dir, `vmlinux-${kernelVersion}`, hash(bzImage), () => extractVmlinux(bzImage, kernelVersion));
  const cpio = buildInitramfs(kernelVersion);
  const initrd = cached(dir, `initrd-${kernelVersion}`, hash(cpio), () => cpio);
  return { qemu, kernelVersion, vmlinux, bzImage: `/boot/vmlinuz-${kernelVersion}`, initrd };
}

/**
 * The newest kernel in /boot whose modules are installed.
 * @returns {string}
 */
function newestKernel() {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/modules.dep`))
    .sort(compareVersions);
  const newest = versions.at(-1);
  if (!newest)
    throw new VmDependencyError(
      'no kernel with modules in /boot and /lib/modules; install one: INITRD=No apt-get install -y linux-image-amd64',
      ['linux-image-amd64'],
    );
  return newest;
}

/**
 * Orders kernel versions like `sort -V` for the cases Debian uses (6.1.0-9 < 6.1.0-56).
 * @param {string} a
 * @param {string} b
 */
export function compareVersions(a, b) {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** @param {Uint8Array} data */
function hash(data) {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/**
 * Returns dir/prefix-key, making it with `make` when absent; other versions with the same prefix are removed.
 * @param {string} dir
 * @param {string} prefix
 * @param {string} key
 * @param {() => Uint8Array} make
 */
function cached(dir, prefix, key, make) {
  const path = join(dir, `${prefix}-${key}`);
  if (existsSync(path)) return path;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, make());
  renameSync(tmp, path);
  for (const f of readdirSync(dir)) {
    if (f.startsWith(`${prefix}-`) && f !== basename(path) && !f.includes('.tmp-')) rmSync(join(dir, f), { force: true });
  }
  return path;
}

/**
 * Debian's bzImage holds the kernel as an xz stream after a small decompressor; QEMU can boot
 * the ELF inside directly through PVH, which skips that decompressor (about 3 s under TCG).
 * @param {Buffer} bzImage
 * @param {string} version
 * @returns {Buffer}
 */
function extractVmlinux(bzImage, version) {
  const magic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  for (let at = bzImage.indexOf(magic); at >= 0; at = bzImage.indexOf(magic, at + 1)) {
    const r = spawnSync('xz', ['-dc', '--single-stream'], { input: bzImage.subarray(at), maxBuffer: 512 * 1024 * 1024 });
    if (r.status === 0 && r.stdout.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return r.stdout;
  }
  throw new VmDependencyError(
    `found no xz-compressed ELF kernel in /boot/vmlinuz-${version}; the harness expects Debian's kernel (CONFIG_KERNEL_XZ) and xz-utils`,
    ['linux-image-amd64', 'xz-utils'],
  );
}

/**
 * The initramfs: static busybox, guest/init.sh as /init, and the modules needed to mount the root.
 * Built in memory with fixed metadata, so the same inputs give the same bytes (and cache name).
 * @param {string} kernelVersion
 * @returns {Buffer}
 */
export function buildInitramfs(kernelVersion) {
  const modules = moduleLoadOrder(kernelVersion, INITRAMFS_MODULES);
  const cpio = new CpioWriter();
  for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'mnt', 'mnt/lower', 'mnt/rw', 'lib', 'lib/modules']) cpio.dir(d);
  // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
  cpio.charDevice('dev/console', 5, 1);
  cpio.file('bin/busybox', readFileSync(BUSYBOX), 0o755);
  cpio.file('init', readFileSync(GUEST_INIT), 0o755);
  for (const m of modules) cpio.file(`lib/modules/${m.name}.ko`, readFileSync(m.path), 0o644);
  cpio.file('modules', Buffer.from(modules.map((m) => `${m.name}\n`).join('')), 0o644);
  return cpio.finish();
}

/**
 * The modules to insmod, dependencies before dependants, from the kernel's modules.dep.
 * Built-in modules are left out.
 * @param {string} kernelVersion
 * @param {readonly string[]} wanted module names
 * @returns {{ name: string, path: string }[]}
 */
export function moduleLoadOrder(kernelVersion, wanted) {
  const base = `/lib/modules/${kernelVersion}`;
  /** Module names treat - and _ alike; files use either. */
  const norm = (/** @type {string} */ s) => basename(s).replace(/\.ko$/, '').replace(/-/g, '_');
  /** @type {Map<string, { file: string, deps: string[] }>} */
  const byName = new Map();
  for (const line of readFileSync(`${base}/modules.dep`, 'utf8').split('\n')) {
    const [file, deps = ''] = line.split(':');
    if (file) byName.set(norm(file), { file, deps: deps.trim().split(/\s+/).filter(Boolean) });
  }
  const builtin = new Set(readFileSync(`${base}/modules.builtin`, 'utf8').split('\n').filter(Boolean).map(norm));
  /** @type {{ name: string, path: string }[]} */
  const order = [];
  const seen = new Set();
  /** @param {string} name */
  const visit = (name) => {
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const entry = byName.get(name);
    if (!entry)
      throw new VmDependencyError(`kernel ${kernelVersion} has no module ${name}; the harness expects Debian's linux-image-amd64`, [
        'linux-image-amd64',
      ]);
    for (const dep of entry.deps) visit(norm(dep));
    order.push({ name, path: join(base, entry.file) });
  };
  wanted.forEach((w) => visit(norm(w)));
  return order;
}

/** Writes a "newc" cpio archive, the format the kernel unpacks as initramfs. */
class CpioWriter {
  /** @type {Buffer[]} */
  #parts = [];
  #ino = 1;

  /** @param {string} name */
  dir(name) {
    this.#entry(name, 0o040755, Buffer.alloc(0));
  }

  /**
   * @param {string} name
   * @param {Uint8Array} data
   * @param {number} perm
   */
  file(name, data, perm) {
    this.#entry(name, 0o100000 | perm, data);
  }

  /**
   * @param {string} name
   * @param {number} major
   * @param {number} minor
   */
  charDevice(name, major, minor) {
    this.#entry(name, 0o020600, Buffer.alloc(0), major, minor);
  }

  finish() {
    this.#entry('TRAILER!!!', 0, Buffer.alloc(0));
    return Buffer.concat(this.#parts);
  }

  /**
   * @param {string} name
   * @param {number} mode
   * @param {Uint8Array} data
   * @param {number} [rdevMajor]
   * @param {number} [rdevMinor]
   */
  #entry(name, mode, data, rdevMajor = 0, rdevMinor = 0) {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [this.#ino++, mode, 0, 0, mode & 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0];
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`);
    this.#parts.push(header, nameBytes, pad(header.length + nameBytes.length), Buffer.from(data), pad(data.length));
  }
}

/** @param {number} length */
function pad(length) {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
