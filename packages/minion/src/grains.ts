import { existsSync, readFileSync } from 'node:fs';
import { arch, cpus, hostname, networkInterfaces, release, totalmem, type } from 'node:os';
import type { Json } from '@brine/protocol';

const readTrimmed = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);

function osRelease(): Record<string, string> {
  const text = readTrimmed('/etc/os-release') ?? '';
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
    if (m) out[m[1]!] = m[3]!;
  }
  return out;
}

const CPU_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' };
const OS_FAMILY: Record<string, string> = {
  debian: 'Debian',
  ubuntu: 'Debian',
  rhel: 'RedHat',
  fedora: 'RedHat',
  centos: 'RedHat',
  arch: 'Arch',
  suse: 'Suse',
  alpine: 'Alpine',
};

/**
 * Core grains with Salt's names, computed once at start. Static `grains:` from
 * the config override computed ones, as in Salt.
 */
export function collectGrains(id: string, configured: Record<string, unknown>): Record<string, Json> {
  const rel = osRelease();
  const families = [rel['ID'], ...(rel['ID_LIKE'] ?? '').split(' ')].filter(Boolean) as string[];
  const addrs = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const host = hostname();
  const grains: Record<string, Json> = {
    id,
    host: host.split('.')[0] ?? host,
    hostname: host,
    fqdn: host,
    os: rel['NAME']?.split(' ')[0] ?? type(),
    os_family: families.map((f) => OS_FAMILY[f]).find(Boolean) ?? type(),
    osrelease: rel['VERSION_ID'] ?? '',
    oscodename: rel['VERSION_CODENAME'] ?? '',
    kernel: type(),
    kernelrelease: release(),
    cpuarch: CPU_ARCH[arch()] ?? arch(),
    num_cpus: cpus().length,
    mem_total: Math.round(totalmem() / 1024 / 1024),
    ipv4: addrs.filter((a) => a.family === 'IPv4').map((a) => a.address),
    ipv6: addrs.filter((a) => a.family === 'IPv6').map((a) => a.address),
    machine_id: readTrimmed('/etc/machine-id') ?? '',
  };
  return { ...grains, ...(configured as Record<string, Json>) };
}
