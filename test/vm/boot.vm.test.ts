// The boot flow, for real: a server in a VM boots with systemd, its minion (the
// shipped unit file) fetches the LUKS key from a real master on the host, and the
// shipped example states build or unlock the encrypted volume, mount it and start
// redis on it. No mocks: QEMU, systemd, LVM, cryptsetup, mkfs, redis and both daemons.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKeyFile, writeKeyFile } from '@brine/common';
import { fingerprint, KEY_BYTES, MASTER_IDENTITY_BYTES } from '@brine/protocol';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, freePort, ROOT } from '../support/cluster.js';
import { createDisk, prepareVm, runInVm } from './harness.mjs';
import { facts, WAIT_READY } from './minion-unit.js';
import { installMissingPackages } from './provision.mjs';

const PASSPHRASE = 'vm-boot-passphrase-3c9e41d7b2';
const ID = 'dbvm'; // matches 'db*' in the example top file
const MASTER_PORT_IN_GUEST = 4506;

const share = mkdtempSync(join(tmpdir(), 'brine-boot-'));
const pillar = mkdtempSync(join(tmpdir(), 'brine-boot-pillar-'));
// The example state tree shipped in states/, and the example pillar with this VM's values and cheap LUKS settings.
const cluster = new Cluster(pillar, {}, join(ROOT, 'states'));
// A second master of the same cluster (same key pair, accepted keys and pillar), second in the minion's list.
const second = cluster.sibling();
const disk = join(share, 'data.img');

/** Installs the shipped unit for the minion and a sampler that records every process's argv during boot. */
const SETUP = `
set -eu
sed "s#^ExecStart=.*#ExecStart=${ROOT}/node_modules/.bin/minion -c ${share}/minion.yml#" \\
  ${ROOT}/packages/minion/systemd/brine-minion.service > /etc/systemd/system/brine-minion.service
systemctl enable brine-minion.service
cat > /etc/systemd/system/argv-sampler.service <<'EOF'
[Unit]
DefaultDependencies=no
[Service]
ExecStart=/bin/sh -c 'while :; do cat /proc/[0-9]*/cmdline; echo; sleep 0.05; done >> ${share}/argv.log 2>/dev/null'
[Install]
WantedBy=sysinit.target
EOF
systemctl enable argv-sampler.service
`;

/** Saves the minion's journal for this boot on the share, so the host can check it too. */
const SAVE_JOURNAL = (name: string) => `journalctl -u brine-minion -o cat > ${share}/${name}.log`;

function boot(name: string, command: string, timeoutMs = 240_000) {
  return runInVm({
    systemd: true,
    // The minion's unit holds multi-user.target back until its startup states have run; these
    // commands watch the boot while it waits (and wait for the minion themselves).
    jobAfter: 'basic.target',
    setup: SETUP,
    disks: [disk],
    shareDir: share,
    forwards: [
      { guestPort: MASTER_PORT_IN_GUEST, hostPort: cluster.port },
      { guestHost: '10.0.2.101', guestPort: MASTER_PORT_IN_GUEST, hostPort: second.port },
    ],
    command: `set -u\n${command}\n${SAVE_JOURNAL(name)}`,
    timeoutMs,
  });
}

// Each boot may first wait for another test file's VM to finish (one VM at a time).
describe('unattended boot: key from the master, volume built or unlocked, service on it', { timeout: 600_000 }, () => {
  beforeAll(async () => {
    installMissingPackages(['redis-server']);
    await prepareVm();
    writeFileSync(join(pillar, 'top.sls'), `base:\n  '*':\n    - common\n  '${ID}':\n    - minions.${ID}\n`);
    writeFileSync(join(pillar, 'common.sls'), readFileSync(join(ROOT, 'pillar', 'common.sls')));
    mkdirSync(join(pillar, 'minions'));
    writeFileSync(
      join(pillar, 'minions', `${ID}.sls`),
      // Marked as the example pillar marks it: the minion renders without it and fetches it raw.
      `luks:\n  password: !secret ${PASSPHRASE}\n` +
        stringify({ dev_name: '/dev/vda', vg_name: 'vg_data', mountpoint: '/srv/data', pbkdf: 'pbkdf2', pbkdf_force_iterations: 1000 })
          .trimEnd()
          .replace(/^/gm, '  ') +
        '\n',
    );
    await cluster.startMaster();
    second.port = await freePort();
    const identity = readKeyFile(join(cluster.dir, 'master-pki', 'master.pub'), MASTER_IDENTITY_BYTES, { secret: false });
    writeFileSync(
      join(share, 'minion.yml'),
      stringify({
        master: [`10.0.2.100:${MASTER_PORT_IN_GUEST}`, `10.0.2.101:${MASTER_PORT_IN_GUEST}`],
        master_type: 'failover',
        master_finger: fingerprint(identity),
        id: ID,
        pki_dir: join(share, 'pki'),
        cachedir: join(share, 'cache'),
        startup_states: 'highstate',
        acceptance_wait_time: 2,
        reconnect_max: 4,
        request_timeout: 10,
        startup_retry_max: 5,
      }),
    );
    // Provisioning: the minion's key is made before its first boot and pre-seeded as accepted on the master.
    const fp = await cluster.run('minion', ['keygen', '-c', join(share, 'minion.yml')]);
    expect(fp.exitCode).toBe(0);
    writeKeyFile(
      join(cluster.dir, 'master-pki', 'minions', ID),
      readKeyFile(join(share, 'pki', 'minion.pub'), KEY_BYTES, { secret: false }),
      { secret: false },
    );
    await createDisk(disk, 96);
  });
  afterAll(async () => {
    await second.close();
    await cluster.close();
    rmSync(share, { recursive: true, force: true });
    rmSync(pillar, { recursive: true, force: true });
  });

  it('first boot: a blank disk becomes PV, VG, LV, LUKS, ext4, mounted, and redis runs with its data there', async () => {
    const r = await boot(
      'boot1',
      `${WAIT_READY(200)}
echo "mount_source=$(findmnt -n -o SOURCE /srv/data)"
echo "luks_type=$(cryptsetup status data_crypt | awk '$1=="type:"{print $2}')"
echo "backing=$(cryptsetup status data_crypt | awk '$1=="device:"{print $2}')"
echo "redis=$(systemctl is-active redis-server)"
redis-cli set brine-check survives-reboot >/dev/null && redis-cli save >/dev/null
echo "dump=$(ls /srv/data/redis/dump.rdb)"
echo "luks_uuid=$(cryptsetup luksUUID /dev/vg_data/data)"
echo "fs_uuid=$(blkid -s UUID -o value /dev/mapper/data_crypt)"`,
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f).toMatchObject({
      mount_source: '/dev/mapper/data_crypt',
      luks_type: 'LUKS2',
      backing: '/dev/mapper/vg_data-data',
      redis: 'active',
      dump: '/srv/data/redis/dump.rdb',
    });
    writeFileSync(join(share, 'uuids-1'), `${f['luks_uuid']} ${f['fs_uuid']}`);
    expect(readFileSync(join(share, 'boot1.log'), 'utf8')).toContain('startup states succeeded');
  });

  it('reboot: the same volume is unlocked and mounted again, nothing reformatted, the data intact', async () => {
    const r = await boot(
      'boot2',
      `${WAIT_READY(200)}
echo "redis=$(systemctl is-active redis-server)"
echo "value=$(redis-cli get brine-check)"
echo "luks_uuid=$(cryptsetup luksUUID /dev/vg_data/data)"
echo "fs_uuid=$(blkid -s UUID -o value /dev/mapper/data_crypt)"`,
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f).toMatchObject({ redis: 'active', value: 'survives-reboot' });
    expect(`${f['luks_uuid']} ${f['fs_uuid']}`).toBe(readFileSync(join(share, 'uuids-1'), 'utf8'));
  });

  it('master down at boot: the minion retries, redis stays off the bare mount point; when the master starts, the boot completes', async () => {
    await cluster.master!.stop();
    const marker = join(share, 'waited');
    const guest = boot(
      'boot3',
      `sleep 25
echo "redis_before=$(systemctl is-active redis-server)"
echo "mounted_before=$(findmnt -n /srv/data >/dev/null && echo yes || echo no)"
echo "bare_dir_entries=$( [ -d /srv/data ] && ls -A /srv/data | wc -l || echo 0)"
echo "minion_before=$(systemctl is-active brine-minion)"
touch ${marker}
${WAIT_READY(200)}
echo "redis_after=$(systemctl is-active redis-server)"
echo "value=$(redis-cli get brine-check)"`,
      300_000,
    );
    // The host starts the master only after the guest has looked at its state without one.
    const started = (async () => {
      while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 500));
      await cluster.startMaster();
    })();
    const r = await guest;
    await started;
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(facts(r.stdout)).toMatchObject({
      redis_before: 'inactive',
      mounted_before: 'no',
      bare_dir_entries: '0',
      minion_before: 'activating',
      redis_after: 'active',
      value: 'survives-reboot',
    });
    expect(readFileSync(join(share, 'boot3.log'), 'utf8')).toContain('cannot authenticate to the master yet');
  });

  it('leaves the passphrase nowhere: disk image, guest files, logs, returns, any argv', async () => {
    const needle = Buffer.from(PASSPHRASE);
    // The whole image: LVM metadata, the LUKS header, everything not inside the encrypted mapping.
    expect(readFileSync(disk).includes(needle)).toBe(false);
    // Every process's command line seen during the boots.
    const argv = readFileSync(join(share, 'argv.log'), 'utf8');
    expect(argv).toContain('cryptsetup');
    expect(argv).not.toContain(PASSPHRASE);
    // The minion's journals, its cache (mirrored states, pending returns), keys and config.
    const shareFiles = ['boot1.log', 'boot2.log', 'boot3.log'].map((f) => readFileSync(join(share, f), 'utf8')).join('\n');
    expect(shareFiles).toContain('session with master established');
    expect(shareFiles).not.toContain(PASSPHRASE);
    for (const dir of ['cache', 'pki']) expect(grepTree(join(share, dir), needle)).toEqual([]);
    // The master's output and audit log, and every job return it keeps.
    const jobs = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as { jid: string }[];
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    const returns = await Promise.all(jobs.map((j) => cluster.masterCmd('jobs', 'show', j.jid, '--json')));
    const master = [...cluster.daemons.map((d) => d.output), JSON.stringify(cluster.audit()), ...returns.map((x) => String(x.stdout))].join(
      '\n',
    );
    expect(master).toContain('luks_|-data-crypt_|-data_crypt_|-mapped');
    expect(master).not.toContain(PASSPHRASE);
    expect(grepTree(join(cluster.dir, 'master-cache'), needle)).toEqual([]);
  });

  it('the first master in the list down at boot: unlocked through the second, no operator action', async () => {
    await cluster.master!.stop();
    second.copyPkiFrom(cluster);
    await second.startMaster();
    const r = await boot(
      'boot-second',
      `${WAIT_READY(200)}
echo "redis=$(systemctl is-active redis-server)"
echo "value=$(redis-cli get brine-check)"`,
    );
    // The key came from the second master: its audit log has the delivery.
    const delivered = second.audit();
    await second.master!.stop();
    await cluster.startMaster();
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(facts(r.stdout)).toMatchObject({ redis: 'active', value: 'survives-reboot' });
    expect(delivered).toContainEqual(expect.objectContaining({ event: 'pillar_delivered', minion: ID, secret: true }));
  });

  it('a revoked minion key cannot unlock at the next boot', async () => {
    expect((await cluster.keys('reject', ID)).exitCode).toBe(0);
    const r = await boot(
      'boot4',
      `sleep 30
echo "minion=$(systemctl is-active brine-minion)"
echo "mapped=$(cryptsetup status data_crypt >/dev/null 2>&1 && echo yes || echo no)"
echo "redis=$(systemctl is-active redis-server)"`,
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(facts(r.stdout)).toMatchObject({ minion: 'activating', mapped: 'no', redis: 'inactive' });
    expect(readFileSync(join(share, 'boot4.log'), 'utf8')).toContain("master rejected this minion's key");
    expect(cluster.audit()).toContainEqual(expect.objectContaining({ event: 'refused_rejected', minion: ID }));
  });
});

/** Files under `dir` whose bytes contain `needle`. */
function grepTree(dir: string, needle: Buffer): string[] {
  if (!existsSync(dir)) return [];
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}
