// Installing from the packages, for real: `npm run package` builds the .deb files, a master
// machine and a minion machine (two QEMU guests with persistent root disks, systemd as PID 1,
// no Node anywhere on them) install them with dpkg -i, the operator accepts the key, and the
// minion server reboots into an unlocked, mounted volume from the installed package alone.
// Then version N+1 is installed over N on both and the server reboots again: keys, accepted
// keys, configuration, job cache and data are all still there.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT } from '../support/cluster.js';
import { createDisk, createRootDisk, prepareVm, runInVm, type RunResult } from './harness.mjs';
import { acquireVmLock } from './lock.mjs';
import { facts, WAIT_READY } from './minion-unit.js';
import { installMissingPackages } from './provision.mjs';

const PASSPHRASE = 'vm-package-passphrase-5d1f0a9e77';
const ID = 'dbpkg'; // matches 'db*' in the example top file
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const NEXT = `${VERSION}+next`;

const share = mkdtempSync(join(tmpdir(), 'brine-package-'));
const control = join(share, 'master-control');
const masterRoot = join(share, 'master-root.img');
const minionRoot = join(share, 'minion-root.img');
const data = join(share, 'data.img');

/** Both machines: no Node reachable, so only what the package ships can run Brine. */
const HIDE_NODE = `rm -f /usr/bin/node /usr/bin/nodejs /usr/local/bin/node; hash -r
if command -v node; then echo "node is still reachable"; exit 9; fi`;

/**
 * The master machine's job: run the scripts the test drops into the control folder, one by one,
 * until told to stop. So the test can act on the master (install, accept, upgrade) while the
 * minion machine boots beside it.
 */
const MASTER_LOOP = `${HIDE_NODE}
i=0
while [ ! -e ${control}/stop ]; do
  if [ -e ${control}/$i.sh ]; then
    bash ${control}/$i.sh > ${control}/$i.out 2> ${control}/$i.err; echo $? > ${control}/$i.rc.tmp; mv ${control}/$i.rc.tmp ${control}/$i.rc
    i=$((i+1))
  else
    sleep 0.3
  fi
done`;

let masterVm: Promise<RunResult> | undefined;
let releaseLock: (() => Promise<void>) | undefined;
let step = 0;

/** Runs a script as root on the master machine; a non-zero status fails the test. */
async function onMaster(script: string, timeoutMs = 180_000): Promise<{ out: string; err: string }> {
  const n = step++;
  writeFileSync(join(control, `${n}.tmp`), `set -u\n${script}\n`);
  renameSync(join(control, `${n}.tmp`), join(control, `${n}.sh`));
  const deadline = Date.now() + timeoutMs;
  let vmEnded = false;
  void masterVm?.finally(() => (vmEnded = true));
  while (!existsSync(join(control, `${n}.rc`))) {
    if (vmEnded) throw new Error(`the master machine stopped before running step ${n}: ${JSON.stringify(await masterVm)}`);
    if (Date.now() > deadline) throw new Error(`step ${n} on the master did not finish within ${timeoutMs / 1000} s:\n${script}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const read = (ext: string) => readFileSync(join(control, `${n}.${ext}`), 'utf8');
  expect(Number(read('rc')), `master step ${n}:\n${script}\n${read('out')}${read('err')}`).toBe(0);
  return { out: read('out'), err: read('err') };
}

/** What the minion machine reports about itself at the end of a boot. */
const REPORT = `
pid=$(systemctl show -p MainPID --value brine-minion)
echo "exe=$(readlink /proc/$pid/exe)"
echo "version=$(minion --version)"
echo "node=$(command -v node || echo none)"
echo "fingerprint=$(minion fingerprint)"
echo "mount_source=$(findmnt -n -o SOURCE /srv/data)"
echo "redis=$(systemctl is-active redis-server)"`;

function bootMinion(port: number, command: string): Promise<RunResult> {
  return runInVm({
    systemd: true,
    // The minion's unit holds multi-user.target back until its startup states ran.
    jobAfter: 'basic.target',
    rootDisk: minionRoot,
    disks: [data],
    shareDir: share,
    forwards: [{ guestPort: 4506, hostPort: port }],
    cpus: 1,
    memoryMiB: 1536,
    lockHeld: true,
    command: `set -u\n${command}\njournalctl -u brine-minion -o cat > ${share}/minion-journal-$(date +%s).log`,
    timeoutMs: 600_000,
  });
}

function buildPackages(version: string, out: string): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--fast', '--version', version, '--out', out], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
}

describe('installed from the packages: dpkg -i on two machines, unlock at reboot, upgrade N to N+1', { timeout: 900_000 }, () => {
  let port = 0;

  beforeAll(async () => {
    installMissingPackages(['redis-server']);
    await prepareVm();
    buildPackages(VERSION, join(share, 'n'));
    buildPackages(NEXT, join(share, 'next'));
    mkdirSync(control);
    // The site's pillar and states, as an operator would deploy them to /srv/brine on the master.
    cpSync(join(ROOT, 'states'), join(share, 'states'), { recursive: true });
    mkdirSync(join(share, 'pillar', 'minions'), { recursive: true });
    writeFileSync(join(share, 'pillar', 'top.sls'), `base:\n  '*':\n    - common\n  '${ID}':\n    - minions.${ID}\n`);
    cpSync(join(ROOT, 'pillar', 'common.sls'), join(share, 'pillar', 'common.sls'));
    writeFileSync(
      join(share, 'pillar', 'minions', `${ID}.sls`),
      `luks:\n  password: !secret ${PASSPHRASE}\n` +
        stringify({ dev_name: '/dev/vda', vg_name: 'vg_data', mountpoint: '/srv/data', pbkdf: 'pbkdf2', pbkdf_force_iterations: 1000 })
          .trimEnd()
          .replace(/^/gm, '  ') +
        '\n',
    );
    await createRootDisk(masterRoot, 512);
    await createRootDisk(minionRoot, 512);
    await createDisk(data, 96);
    port = await freePort();
    // Two guests at once for the whole file: the lock is taken here, not per boot.
    const lock = await acquireVmLock(30 * 60_000);
    releaseLock = () => lock.release();
    masterVm = runInVm({
      systemd: true,
      rootDisk: masterRoot,
      shareDir: share,
      inbound: [{ hostPort: port, guestPort: 4506 }],
      cpus: 1,
      memoryMiB: 1024,
      lockHeld: true,
      command: MASTER_LOOP,
      timeoutMs: 1_500_000,
    });
  });

  afterAll(async () => {
    writeFileSync(join(control, 'stop'), '');
    await masterVm?.catch(() => undefined);
    await releaseLock?.();
    rmSync(share, { recursive: true, force: true });
  });

  it('master machine: dpkg -i starts a master running as brine from the package, with the shipped default config', async () => {
    const r = await onMaster(`
dpkg -i ${share}/n/brine-master_${VERSION}_amd64.deb
cp -r ${share}/pillar/. /srv/brine/pillar/ && cp -r ${share}/states/. /srv/brine/states/
for i in $(seq 60); do [ -e /var/lib/brine/pki/master.pub ] && break; sleep 1; done
pid=$(systemctl show -p MainPID --value brine-master)
echo "active=$(systemctl is-active brine-master)"
echo "enabled=$(systemctl is-enabled brine-master)"
echo "user=$(ps -o user= -p $pid)"
echo "exe=$(readlink /proc/$pid/exe)"
echo "version=$(master --version)"
echo "alias=$(brine-master --version)"
echo "srv=$(stat -c %U:%G:%a /srv/brine/pillar)"
echo "conffile=$(dpkg-query -W -f='\${Conffiles}' brine-master | awk '{print $1}')"
echo "fingerprint=$(master keys fingerprint | sed 's/^master: //')"`);
    const f = facts(r.out);
    expect(f).toMatchObject({
      active: 'active',
      enabled: 'enabled',
      user: 'brine',
      exe: '/usr/lib/brine/master/node',
      version: VERSION,
      alias: VERSION,
      srv: 'root:brine:750',
      conffile: '/etc/brine/master',
    });
    writeFileSync(
      join(share, 'minion.yml'),
      stringify({
        master: `10.0.2.100:4506`,
        master_finger: f['fingerprint'],
        id: ID,
        startup_states: 'highstate',
        acceptance_wait_time: 2,
        reconnect_max: 4,
        request_timeout: 10,
        startup_retry_max: 5,
      }),
    );
  });

  it('minion machine: dpkg -i, the operator accepts the key on the master, the blank disk becomes an unlocked, mounted volume', async () => {
    const guest = bootMinion(
      port,
      `${HIDE_NODE}
dpkg -i ${share}/n/brine-minion_${VERSION}_amd64.deb
# The operator's edit of the shipped configuration.
cp ${share}/minion.yml /etc/brine/minion
systemctl restart --no-block brine-minion
${WAIT_READY(400)}
${REPORT}
echo written-on-first-boot > /srv/data/package-check`,
    );
    // On the master: the new key shows up pending and is accepted, as an operator does.
    let accepted = false;
    for (let i = 0; i < 200 && !accepted; i++) {
      const { out } = await onMaster('master keys list --json');
      if ((JSON.parse(out) as { pending: string[] }).pending.includes(ID)) {
        await onMaster(`master keys accept ${ID}`);
        accepted = true;
      } else await new Promise((r) => setTimeout(r, 2000));
    }
    expect(accepted).toBe(true);
    const r = await guest;
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f).toMatchObject({
      exe: '/usr/lib/brine/minion/node',
      version: VERSION,
      node: 'none',
      mount_source: '/dev/mapper/data_crypt',
      redis: 'active',
    });
    writeFileSync(join(share, 'fingerprint-1'), f['fingerprint']!);
  });

  it('reboot: unlocked and mounted again from the installed package alone, data intact', async () => {
    const r = await bootMinion(port, `${WAIT_READY(300)}\n${REPORT}\necho "check=$(cat /srv/data/package-check)"`);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f).toMatchObject({
      exe: '/usr/lib/brine/minion/node',
      version: VERSION,
      node: 'none',
      mount_source: '/dev/mapper/data_crypt',
      redis: 'active',
      check: 'written-on-first-boot',
    });
    expect(f['fingerprint']).toBe(readFileSync(join(share, 'fingerprint-1'), 'utf8'));
  });

  it('upgrade to N+1 on both machines, reboot: keys, accepted keys, configuration, job cache and data are all kept', async () => {
    const before = await onMaster(
      `echo "pid=$(systemctl show -p MainPID --value brine-master)"; echo "jobs=$(ls /var/cache/brine/master/jobs | wc -l)"; echo "fingerprint=$(master keys fingerprint | sed 's/^master: //')"`,
    );
    const m = await onMaster(`
dpkg -i ${share}/next/brine-master_${NEXT}_amd64.deb
for i in $(seq 60); do [ "$(systemctl is-active brine-master)" = active ] && break; sleep 1; done
echo "pid=$(systemctl show -p MainPID --value brine-master)"
echo "version=$(master --version)"
echo "fingerprint=$(master keys fingerprint | sed 's/^master: //')"
echo "accepted=$(master keys list --json | tr -d ' \\n')"
echo "jobs=$(ls /var/cache/brine/master/jobs | wc -l)"`);
    const b = facts(before.out);
    const a = facts(m.out);
    expect(a['version']).toBe(NEXT);
    expect(a['pid']).not.toBe(b['pid']); // restarted on upgrade
    expect(a['fingerprint']).toBe(b['fingerprint']);
    expect(a['accepted']).toContain(`"accepted":["${ID}"]`);
    expect(Number(a['jobs'])).toBeGreaterThanOrEqual(Number(b['jobs']));
    expect(Number(b['jobs'])).toBeGreaterThanOrEqual(2); // the startup runs of both boots

    // The minion: upgraded in place (the daemon restarts into N+1 and unlocks again), then a reboot.
    const upgraded = await bootMinion(
      port,
      `${WAIT_READY(300)}
old=$(systemctl show -p MainPID --value brine-minion)
dpkg -i ${share}/next/brine-minion_${NEXT}_amd64.deb
for i in $(seq 300); do
  pid=$(systemctl show -p MainPID --value brine-minion)
  [ "$pid" != "$old" ] && [ "$pid" != 0 ] && [ "$(systemctl is-active brine-minion)" = active ] && break
  sleep 1
done
${REPORT}
echo "config=$(grep -c '^id: ${ID}' /etc/brine/minion)"`,
    );
    expect(upgraded.exitCode, upgraded.stdout + upgraded.stderr).toBe(0);
    expect(facts(upgraded.stdout)).toMatchObject({ version: NEXT, config: '1', mount_source: '/dev/mapper/data_crypt' });

    const r = await bootMinion(port, `${WAIT_READY(300)}\n${REPORT}\necho "check=$(cat /srv/data/package-check)"`);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f).toMatchObject({
      exe: '/usr/lib/brine/minion/node',
      version: NEXT,
      node: 'none',
      mount_source: '/dev/mapper/data_crypt',
      redis: 'active',
      check: 'written-on-first-boot',
    });
    expect(f['fingerprint']).toBe(readFileSync(join(share, 'fingerprint-1'), 'utf8'));

    // One job cache across the upgrade: every boot's startup run is there, and status says ok.
    const jobs = JSON.parse((await onMaster('master jobs list --json')).out) as { origin?: string }[];
    expect(jobs.filter((j) => j.origin === 'startup').length).toBeGreaterThanOrEqual(4);
    // Exit status 1: the minion machine is powered off by now, so it is disconnected.
    const status = JSON.parse((await onMaster(`master status ${ID} --json || [ $? = 1 ]`)).out) as {
      minions: { id: string; startup: { result: string } }[];
    };
    expect(status.minions).toEqual([
      expect.objectContaining({ id: ID, connected: false, startup: expect.objectContaining({ result: 'ok' }) }),
    ]);
  });

  it('remove keeps keys and stops the daemons; purge deletes keys and caches after saying so, and never the pillar', async () => {
    const r = await onMaster(`
dpkg -i ${share}/next/brine-minion_${NEXT}_amd64.deb >/dev/null
for i in $(seq 60); do [ -e /etc/brine/pki/minion/minion.pub ] && break; sleep 1; done
dpkg -r brine-master brine-minion >/dev/null
echo "master_after_remove=$(systemctl is-active brine-master)"
echo "minion_after_remove=$(systemctl is-active brine-minion)"
echo "master_keys_kept=$(ls /var/lib/brine/pki | wc -l)"
echo "minion_keys_kept=$(ls /etc/brine/pki/minion | wc -l)"
echo "config_kept=$(test -e /etc/brine/master && echo yes)"
dpkg -P brine-master brine-minion > ${control}/purge.out 2>&1
echo "master_keys=$(test -e /var/lib/brine && echo present || echo gone)"
echo "minion_keys=$(test -e /etc/brine/pki/minion && echo present || echo gone)"
echo "job_cache=$(test -e /var/cache/brine/master && echo present || echo gone)"
echo "config=$(test -e /etc/brine/master && echo present || echo gone)"
echo "pillar=$(ls /srv/brine/pillar/top.sls)"`);
    expect(facts(r.out)).toMatchObject({
      master_after_remove: 'inactive',
      minion_after_remove: 'inactive',
      config_kept: 'yes',
      master_keys: 'gone',
      minion_keys: 'gone',
      job_cache: 'gone',
      config: 'gone',
      pillar: '/srv/brine/pillar/top.sls',
    });
    expect(Number(facts(r.out)['master_keys_kept'])).toBeGreaterThan(0);
    expect(Number(facts(r.out)['minion_keys_kept'])).toBeGreaterThan(0);
    const said = readFileSync(join(control, 'purge.out'), 'utf8');
    expect(said).toContain('brine-master: purge deletes');
    expect(said).toContain('brine-minion: purge deletes');
    expect(said).toContain('kept /srv/brine');
  });

  it('leaves the passphrase in no file of either machine outside the pillar, and on no disk', () => {
    const needle = Buffer.from(PASSPHRASE);
    expect(readFileSync(data).includes(needle)).toBe(false);
    expect(readFileSync(minionRoot).includes(needle)).toBe(false);
    for (const log of readdirSync(share).filter((f) => f.startsWith('minion-journal-'))) {
      expect(readFileSync(join(share, log)).includes(needle)).toBe(false);
    }
  });
});
