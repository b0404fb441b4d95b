// Core grains against what Salt 3006 reports on the same machines (salt/grains/core.py:
// os_data, _virtual, hostname, ip_interfaces, hwaddr_interfaces; salt/grains/disks.py).
import { describe, expect, it, vi } from 'vitest';
import { coreGrains, type GrainSources } from '../src/grains.js';

const base: GrainSources = {
  osRelease: '',
  hosts: '127.0.0.1 localhost\n',
  hostname: 'db1',
  kernel: 'Linux',
  kernelRelease: '6.1.0-28-amd64',
  kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)',
  arch: 'x64',
  numCpus: 4,
  memBytes: 8 * 1024 ** 3 - 300 * 1024 ** 2,
  machineId: '5a1c2e7f0b3d4c6e8f9a0b1c2d3e4f50',
  dmi: {},
  container: undefined,
  hypervisor: false,
  init: 'systemd',
  rotational: {},
  interfaces: {
    lo: [
      { address: '127.0.0.1', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true },
      { address: '::1', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true },
    ],
    ens3: [
      { address: '10.0.0.5', family: 'IPv4', mac: '52:54:00:12:34:56', internal: false },
      { address: 'fe80::5054:ff:fe12:3456', family: 'IPv6', mac: '52:54:00:12:34:56', internal: false },
    ],
  },
  brineVersion: '0.1.0',
};

const DEBIAN_12 =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
const UBUNTU_2204 =
  'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n';
const ROCKY_9 =
  'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n';

describe('core grains as Salt 3006 computes them', () => {
  it('Debian 12 in a KVM guest', () => {
    const g = coreGrains({
      ...base,
      osRelease: DEBIAN_12,
      hosts: '127.0.0.1 localhost\n127.0.1.1 db1.example.net db1\n',
      dmi: { sys_vendor: 'QEMU', product_name: 'Standard PC (Q35 + ICH9, 2009)', product_uuid: 'A0B1C2D3-0000-1111-2222-333344445555' },
      rotational: { vda: '1', vdb: '1', loop0: '0' },
    });
    expect(g).toMatchObject({
      os: 'Debian',
      os_family: 'Debian',
      osfullname: 'Debian GNU/Linux',
      osrelease: '12',
      osrelease_info: [12],
      osmajorrelease: 12,
      oscodename: 'bookworm',
      osfinger: 'Debian-12',
      osarch: 'amd64',
      kernel: 'Linux',
      kernelrelease: '6.1.0-28-amd64',
      cpuarch: 'x86_64',
      num_cpus: 4,
      mem_total: 7892,
      host: 'db1',
      nodename: 'db1',
      fqdn: 'db1.example.net',
      domain: 'example.net',
      machine_id: '5a1c2e7f0b3d4c6e8f9a0b1c2d3e4f50',
      virtual: 'kvm',
      init: 'systemd',
      ipv4: ['127.0.0.1', '10.0.0.5'],
      ipv6: ['::1', 'fe80::5054:ff:fe12:3456'],
      ip4_interfaces: { lo: ['127.0.0.1'], ens3: ['10.0.0.5'] },
      ip6_interfaces: { lo: ['::1'], ens3: ['fe80::5054:ff:fe12:3456'] },
      hwaddr_interfaces: { lo: '00:00:00:00:00:00', ens3: '52:54:00:12:34:56' },
      disks: ['vda', 'vdb'],
      SSDs: ['loop0'],
      uuid: 'a0b1c2d3-0000-1111-2222-333344445555',
      manufacturer: 'QEMU',
      brineversion: '0.1.0',
    });
  });

  it('Ubuntu 22.04 on hardware: the whole release in osfinger, the Debian family, physical', () => {
    const g = coreGrains({
      ...base,
      osRelease: UBUNTU_2204,
      dmi: { sys_vendor: 'Dell Inc.', product_name: 'PowerEdge R650', product_serial: 'ABC1234' },
    });
    expect(g).toMatchObject({
      os: 'Ubuntu',
      os_family: 'Debian',
      osfullname: 'Ubuntu',
      osrelease: '22.04',
      osrelease_info: [22, 4],
      osmajorrelease: 22,
      oscodename: 'jammy',
      osfinger: 'Ubuntu-22.04',
      virtual: 'physical',
      serialnumber: 'ABC1234',
      fqdn: 'db1',
      domain: '',
    });
  });

  it("disks and SSDs in Python's sorted() order, with no ICU collator on the start path", () => {
    // localeCompare's first call builds an ICU collator (~8 ms of a minion's start), and its order is not Python's ('sda' before 'Sda').
    const collate = vi.spyOn(String.prototype, 'localeCompare');
    try {
      const g = coreGrains({ ...base, rotational: { sdb: '1', Sda: '1', nvme0n1: '0', sda: '1', NVMe9: '0' } });
      expect(g).toMatchObject({ disks: ['Sda', 'sda', 'sdb'], SSDs: ['NVMe9', 'nvme0n1'] });
      expect(collate).not.toHaveBeenCalled();
    } finally {
      collate.mockRestore();
    }
  });

  it('Rocky 9 on VMware, aarch64: RedHat family, codename from VERSION, the CPU arch as osarch', () => {
    const g = coreGrains({ ...base, arch: 'arm64', osRelease: ROCKY_9, dmi: { sys_vendor: 'VMware, Inc.', product_name: 'VMware7,1' } });
    expect(g).toMatchObject({
      os: 'Rocky',
      os_family: 'RedHat',
      osfullname: 'Rocky Linux',
      osrelease: '9.3',
      osmajorrelease: 9,
      oscodename: 'Blue Onyx',
      osfinger: 'Rocky-9',
      cpuarch: 'aarch64',
      osarch: 'aarch64',
      virtual: 'VMware',
    });
  });

  it('a distribution it does not know takes its family from ID_LIKE; a container is said to be one', () => {
    const g = coreGrains({ ...base, osRelease: 'NAME="Pop!_OS"\nID=pop\nID_LIKE="ubuntu debian"\nVERSION_ID="22.04"\n', container: 'lxc' });
    expect(g).toMatchObject({ os: 'Pop!_OS', os_family: 'Debian', virtual: 'LXC' });
  });
});
