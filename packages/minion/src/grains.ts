// Core grains as Salt 3006 computes them on Linux (salt/grains/core.py, salt/grains/disks.py),
// read once at start from files the kernel and the OS keep (no command is run: the whole read
// costs a few milliseconds). readGrainSources does the reading; coreGrains is a pure function of
// what it read, tested with fixtures of several distributions.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { arch, cpus, hostname, networkInterfaces, release, totalmem, type, version } from 'node:os';
import { byCodePoint, CLI_VERSION } from '@brine/common';
import type { Json } from '@brine/protocol';

/** What the grains are computed from. */
export interface GrainSources {
  osRelease: string;
  /** /etc/hosts, for the fully qualified name of this host. */
  hosts: string;
  hostname: string;
  kernel: string;
  kernelRelease: string;
  kernelVersion: string;
  /** Node's arch(): x64, arm64, … */
  arch: string;
  numCpus: number;
  memBytes: number;
  machineId: string;
  /** /sys/class/dmi/id/* that exist: sys_vendor, product_name, product_uuid, product_serial, bios_version. */
  dmi: Record<string, string>;
  /** /proc/1/cgroup and the container marker files, for `virtual` in a container. */
  container: string | undefined;
  /** /proc/cpuinfo has the hypervisor flag. */
  hypervisor: boolean;
  /** /run/systemd/system exists (systemd is PID 1), else PID 1's command. */
  init: string;
  /** /sys/block/<dev>/queue/rotational: '0' or '1'. */
  rotational: Record<string, string>;
  interfaces: NodeJS.Dict<{ address: string; family: string; mac: string; internal: boolean }[]>;
  brineVersion: string;
}

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

const DMI_FIELDS = ['sys_vendor', 'product_name', 'product_uuid', 'product_serial', 'bios_version'];

export function readGrainSources(brineVersion: string): GrainSources {
  const dmi: Record<string, string> = {};
  for (const f of DMI_FIELDS) {
    const v = read(`/sys/class/dmi/id/${f}`)?.trim();
    if (v) dmi[f] = v;
  }
  const rotational: Record<string, string> = {};
  for (const dev of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    const flag = read(`/sys/block/${dev}/queue/rotational`)?.[0];
    if (flag !== undefined) rotational[dev] = flag;
  }
  const containerMarker = ['/.dockerenv', '/run/.containerenv'].find((f) => existsSync(f));
  return {
    osRelease: read('/etc/os-release') ?? read('/usr/lib/os-release') ?? '',
    hosts: read('/etc/hosts') ?? '',
    hostname: hostname(),
    kernel: type(),
    kernelRelease: release(),
    kernelVersion: version(),
    arch: arch(),
    numCpus: cpus().length,
    memBytes: totalmem(),
    machineId: read('/etc/machine-id')?.trim() ?? '',
    dmi,
    container: containerMarker ?? read('/run/systemd/container')?.trim(),
    hypervisor: / hypervisor( |$)/m.test(read('/proc/cpuinfo')?.split('\n\n')[0] ?? ''),
    init: existsSync('/run/systemd/system') ? 'systemd' : (read('/proc/1/cmdline')?.split('\0')[0]?.split('/').pop() ?? 'unknown'),
    rotational,
    interfaces: networkInterfaces(),
    brineVersion,
  };
}

function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(["']?)(.*)\2$/.exec(line.trim());
    if (m) out[m[1]!] = m[3]!;
  }
  return out;
}

/** `os` by os-release ID, as Salt names them. */
const OS_NAME: Record<string, string> = {
  debian: 'Debian',
  ubuntu: 'Ubuntu',
  raspbian: 'Raspbian',
  linuxmint: 'Mint',
  rhel: 'RedHat',
  centos: 'CentOS',
  rocky: 'Rocky',
  almalinux: 'AlmaLinux',
  ol: 'OEL',
  fedora: 'Fedora',
  amzn: 'Amazon',
  opensuse: 'SUSE',
  'opensuse-leap': 'Leap',
  'opensuse-tumbleweed': 'openSUSE Tumbleweed',
  sles: 'SUSE',
  arch: 'Arch',
  alpine: 'Alpine',
  gentoo: 'Gentoo',
};

/** `os_family` by `os` (Salt's _OS_FAMILY_MAP), else by os-release ID_LIKE. */
const OS_FAMILY: Record<string, string> = {
  Debian: 'Debian',
  Ubuntu: 'Debian',
  Raspbian: 'Debian',
  Mint: 'Debian',
  RedHat: 'RedHat',
  CentOS: 'RedHat',
  Rocky: 'RedHat',
  AlmaLinux: 'RedHat',
  OEL: 'RedHat',
  Fedora: 'RedHat',
  Amazon: 'RedHat',
  SUSE: 'Suse',
  Leap: 'Suse',
  'openSUSE Tumbleweed': 'Suse',
  Arch: 'Arch',
  Alpine: 'Alpine',
  Gentoo: 'Gentoo',
};
const FAMILY_BY_ID: Record<string, string> = {
  debian: 'Debian',
  ubuntu: 'Debian',
  rhel: 'RedHat',
  fedora: 'RedHat',
  suse: 'Suse',
  arch: 'Arch',
};

const CPU_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x' };
/** Debian's architecture names, Salt's `osarch` there (dpkg --print-architecture). */
const DEB_ARCH: Record<string, string> = {
  x86_64: 'amd64',
  aarch64: 'arm64',
  i386: 'i386',
  armv7l: 'armhf',
  ppc64le: 'ppc64el',
  s390x: 's390x',
};

/** salt/grains/core.py _virtual: what DMI and the CPU say about the machine under the OS. */
function virtual(s: GrainSources): string {
  if (s.container) return /docker/.test(s.container) ? 'container' : s.container === 'lxc' ? 'LXC' : 'container';
  const product = `${s.dmi['sys_vendor'] ?? ''} ${s.dmi['product_name'] ?? ''}`;
  if (/VMware/i.test(product)) return 'VMware';
  if (/VirtualBox|innotek/i.test(product)) return 'VirtualBox';
  if (/Microsoft Corporation.*Virtual Machine/i.test(product)) return 'HyperV';
  if (/Xen/i.test(product)) return 'xen';
  if (/QEMU|KVM|Bochs|OpenStack|Google Compute Engine|Amazon EC2/i.test(product)) return 'kvm';
  return s.hypervisor ? 'kvm' : 'physical';
}

/** The host's name with a domain, as getfqdn finds it in /etc/hosts; the bare name when none is listed. */
function fqdnOf(host: string, hosts: string): string {
  const short = host.split('.')[0]!;
  for (const line of hosts.split('\n')) {
    const names = line.replace(/#.*/, '').trim().split(/\s+/).slice(1);
    if (!names.some((n) => n === host || n.split('.')[0] === short)) continue;
    const full = names.find((n) => n.includes('.') && n.split('.')[0] === short);
    if (full) return full;
  }
  return host;
}

type Iface = { address: string; family: string; mac: string };

function byInterface(s: GrainSources, family: 'IPv4' | 'IPv6'): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, addrs] of Object.entries(s.interfaces))
    out[name] = (addrs ?? []).filter((a: Iface) => a.family === family).map((a) => a.address);
  return out;
}

/** Core grains with Salt's names and types. */
export function coreGrains(s: GrainSources): Record<string, Json> {
  const rel = parseOsRelease(s.osRelease);
  const id = (rel['ID'] ?? '').toLowerCase();
  const os = OS_NAME[id] ?? rel['NAME']?.split(' ')[0] ?? s.kernel;
  const osrelease = rel['VERSION_ID'] ?? '';
  const major = Number.parseInt(osrelease, 10);
  const likes = [id, ...(rel['ID_LIKE'] ?? '').split(' ')];
  const osFamily = OS_FAMILY[os] ?? likes.map((l) => FAMILY_BY_ID[l]).find(Boolean) ?? os;
  const codename = rel['VERSION_CODENAME'] ?? /\(([^)]+)\)/.exec(rel['VERSION'] ?? '')?.[1] ?? '';
  const cpuarch = CPU_ARCH[s.arch] ?? s.arch;
  const fqdn = fqdnOf(s.hostname, s.hosts);
  const host = fqdn.split('.')[0]!;
  const ip4 = byInterface(s, 'IPv4');
  const ip6 = byInterface(s, 'IPv6');
  const hwaddr: Record<string, string> = {};
  for (const [name, addrs] of Object.entries(s.interfaces)) if (addrs?.[0]) hwaddr[name] = addrs[0].mac;
  const rotational = Object.entries(s.rotational).sort(([a], [b]) => byCodePoint(a, b));
  const uuid = s.dmi['product_uuid']?.toLowerCase();
  const grains: Record<string, Json> = {
    os,
    os_family: osFamily,
    osfullname: rel['NAME'] ?? os,
    osrelease,
    osrelease_info: osrelease.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
    oscodename: codename,
    // Salt: the whole release for Ubuntu (22.04), the major one for the rest (Debian-12, Rocky-9).
    osfinger: `${os}-${os === 'Ubuntu' ? osrelease : Number.isNaN(major) ? osrelease : major}`,
    osarch: osFamily === 'Debian' ? (DEB_ARCH[cpuarch] ?? cpuarch) : cpuarch,
    kernel: s.kernel,
    kernelrelease: s.kernelRelease,
    kernelversion: s.kernelVersion,
    cpuarch,
    num_cpus: s.numCpus,
    mem_total: Math.round(s.memBytes / 1024 / 1024),
    host,
    localhost: s.hostname,
    nodename: s.hostname,
    fqdn,
    domain: fqdn.includes('.') ? fqdn.slice(host.length + 1) : '',
    machine_id: s.machineId,
    virtual: virtual(s),
    init: s.init,
    ipv4: Object.values(ip4).flat(),
    ipv6: Object.values(ip6).flat(),
    ip4_interfaces: ip4,
    ip6_interfaces: ip6,
    ip_interfaces: Object.fromEntries(Object.keys(s.interfaces).map((n) => [n, [...ip4[n]!, ...ip6[n]!]])),
    hwaddr_interfaces: hwaddr,
    disks: rotational.filter(([, f]) => f === '1').map(([d]) => d),
    SSDs: rotational.filter(([, f]) => f === '0').map(([d]) => d),
    brineversion: s.brineVersion,
  };
  if (!Number.isNaN(major)) grains['osmajorrelease'] = major;
  if (uuid) grains['uuid'] = uuid;
  if (s.dmi['sys_vendor']) grains['manufacturer'] = s.dmi['sys_vendor'];
  if (s.dmi['product_name']) grains['productname'] = s.dmi['product_name'];
  if (s.dmi['product_serial']) grains['serialnumber'] = s.dmi['product_serial'];
  if (s.dmi['bios_version']) grains['biosversion'] = s.dmi['bios_version'];
  return grains;
}

/** Core grains of this machine, then `id`, then the config's static grains over them, as in Salt. */
export function collectGrains(id: string, configured: Record<string, unknown>): Record<string, Json> {
  return { ...coreGrains(readGrainSources(CLI_VERSION)), id, ...(configured as Record<string, Json>) };
}
