// Keys bound to the machine, for real: guests with a software TPM2 (swtpm, QEMU's tpm-tis).
// A minion seals its key to its TPM at first start and unlocks its volume from a pillar that
// holds only !encrypted values; it does again after a reboot; both its disks copied into a
// machine with a fresh TPM cannot authenticate and get nothing. The master's own keys, sealed
// with `master keys seal`, reach it through LoadCredentialEncrypted= and nowhere else.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster, ROOT } from '../support/cluster.js';
import { createDisk, createRootDisk, prepareVm, runInVm } from './harness.mjs';
import { facts, WAIT_READY } from './minion-unit.js';

const PASSPHRASE = 'vm-tpm-passphrase-e8b2c4a19f';
const ID = 'tpmvm';
const PORT_IN_GUEST = 4506;
const GUEST_PKI = '/var/lib/brine/minion-pki';

const work = mkdtempSync(join(tmpdir(), 'brine-vm-tpm-'));
const pillar = join(work, 'pillar');
const states = join(work, 'states');
const cluster = new Cluster(pillar, {}, states);
const machine = { tpm: join(work, 'tpm-a'), root: join(work, 'root-a.img'), data: join(work, 'data-a.img') };
const thief = { tpm: join(work, 'tpm-b'), root: join(work, 'root-b.img'), data: join(work, 'data-b.img') };

const STATES = `
data-luks:
  luks.formatted:
    - name: /dev/vda
    - key_pillar: luks:password
    - pbkdf: pbkdf2
    - pbkdf_force_iterations: 1000
data-open:
  luks.mapped:
    - name: data_crypt
    - device: /dev/vda
    - key_pillar: luks:password
    - require: [data-luks]
`;

/** The minion's unit and config live on the machine's own root disk, as on a server. */
const SETUP = `
set -eu
mkdir -p /etc/brine
cat > /etc/brine/minion.yml <<'EOF'
${stringify({
  master: `10.0.2.100:${PORT_IN_GUEST}`,
  id: ID,
  pki_dir: GUEST_PKI,
  cachedir: '/var/cache/brine/minion',
  startup_states: 'highstate',
  acceptance_wait_time: 2,
  reconnect_max: 4,
  request_timeout: 10,
  startup_retry_max: 5,
})}EOF
sed "s#^ExecStart=.*#ExecStart=${ROOT}/node_modules/.bin/minion -c /etc/brine/minion.yml#" \\
  ${ROOT}/packages/minion/systemd/brine-minion.service > /etc/systemd/system/brine-minion.service
systemctl enable brine-minion.service
`;

const REPORT = `
echo "mapped=$(cryptsetup status data_crypt >/dev/null 2>&1 && echo yes || echo no)"
echo "pki=$(ls ${GUEST_PKI} | tr '\\n' ' ')"
journalctl -u brine-minion -o cat > ${work}/$BOOT.log`;

function boot(m: typeof machine, name: string, command: string) {
  return runInVm({
    systemd: true,
    jobAfter: 'basic.target',
    setup: SETUP,
    disks: [m.data],
    rootDisk: m.root,
    tpmState: m.tpm,
    shareDir: work,
    env: { BOOT: name },
    forwards: [{ guestPort: PORT_IN_GUEST, hostPort: cluster.port }],
    command: `set -u\n${command}\n${REPORT}`,
    // A first boot formats the volume; on a loaded 2-core machine it took 227 s once.
    timeoutMs: 300_000,
  });
}

const deliveries = () => cluster.audit().filter((r) => r['event'] === 'pillar_delivered' && r['minion'] === ID).length;

describe('a minion key sealed to its TPM2; a pillar of !encrypted values only', { timeout: 600_000 }, () => {
  beforeAll(async () => {
    await prepareVm();
    for (const dir of [pillar, states, machine.tpm, thief.tpm]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(states, 'top.sls'), "base:\n  '*':\n    - data\n");
    writeFileSync(join(states, 'data.sls'), STATES);
    await cluster.writeMasterConfig();
    const sealed = await execa(
      join(BIN, 'master'),
      ['secret', 'encrypt', '--path', 'luks:password', '--minion', ID, '-c', cluster.masterConfig],
      { input: `${PASSPHRASE}\n`, reject: false },
    );
    expect(sealed.exitCode, String(sealed.stderr)).toBe(0);
    writeFileSync(join(pillar, 'top.sls'), "base:\n  '*':\n    - luks\n");
    writeFileSync(join(pillar, 'luks.sls'), `luks:\n  password: ${String(sealed.stdout).trim()}\n`);
    await cluster.startMaster();
    await createRootDisk(machine.root, 256);
    await createDisk(machine.data, 48);
  });
  afterAll(async () => {
    await cluster.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('first boot: the key is made and sealed to the TPM, accepted by the operator, and the volume unlocks', async () => {
    // The operator accepts the key once it is pending, as with any new server.
    let accepted = false;
    const accept = (async () => {
      while (!accepted) {
        const listed = JSON.parse(String((await cluster.keys('list', '--json')).stdout)) as { pending: string[] };
        if (listed.pending.includes(ID)) {
          expect((await cluster.keys('accept', ID)).exitCode).toBe(0);
          accepted = true;
        } else await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const r = await boot(machine, 'boot1', WAIT_READY(200));
    accepted = true;
    await accept;
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    const log = readFileSync(join(work, 'boot1.log'), 'utf8');
    expect(f['mapped'], log).toBe('yes');
    // Sealed, and no plain secret key on the machine's disk.
    expect(f['pki']?.split(' '), log).toEqual(expect.arrayContaining(['minion.key.cred', 'minion.pub']));
    expect(f['pki']).not.toMatch(/(^| )minion\.key( |$)/);
    expect(log).toContain("minion key sealed to this machine's TPM2");
    expect(deliveries()).toBeGreaterThanOrEqual(1);
  });

  it('reboot on the same machine: the sealed key opens with its TPM, the volume unlocks again; a key rotation stays sealed', async () => {
    const before = deliveries();
    const minion = `${join(ROOT, 'node_modules', '.bin', 'minion')} -c /etc/brine/minion.yml`;
    const old = String((await cluster.keys('fingerprint', ID)).stdout);
    const r = await boot(
      machine,
      'boot2',
      `${WAIT_READY(200)}
${minion} rotate-key > ${work}/rotate.out 2>&1 || { cat ${work}/rotate.out; exit 73; }
echo "rotated_fp=$(${minion} fingerprint | sed 's/^[^:]*: //')"
echo "pki_after=$(ls ${GUEST_PKI} | tr '\n' ' ')"`,
    );
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f['mapped']).toBe('yes');
    expect(deliveries()).toBeGreaterThan(before);
    // The new key is the one the master accepts now, and it is sealed like the old one: no plain or pending file.
    const now = String((await cluster.keys('fingerprint', ID)).stdout);
    expect(now).not.toBe(old);
    expect(now).toContain(f['rotated_fp']);
    expect(f['pki_after']?.trim().split(' ')).toEqual(expect.arrayContaining(['minion.key.cred', 'minion.pub']));
    expect(f['pki_after']).not.toMatch(/minion\.key( |$)|minion\.key\.next/);
  });

  it('both disks copied into a machine with a fresh TPM: it cannot authenticate and nothing is delivered', async () => {
    copyFileSync(machine.root, thief.root);
    copyFileSync(machine.data, thief.data);
    const before = deliveries();
    const sessionsBefore = cluster.audit().filter((r) => r['minion'] === ID && r['event'] === 'session_opened').length;
    const r = await boot(thief, 'thief', 'sleep 25\necho "minion=$(systemctl is-active brine-minion)"');
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(facts(r.stdout)).toMatchObject({ mapped: 'no' });
    expect(facts(r.stdout)['minion']).not.toBe('active');
    expect(readFileSync(join(work, 'thief.log'), 'utf8')).toContain('cannot authenticate here');
    expect(deliveries()).toBe(before);
    expect(cluster.audit().filter((x) => x['minion'] === ID && x['event'] === 'session_opened').length).toBe(sessionsBefore);
  });

  it('the passphrase is nowhere in plaintext: pillar tree, master disk, logs, audit, either machine disk', () => {
    const needle = Buffer.from(PASSPHRASE);
    const hits = [pillar, cluster.dir].flatMap((dir) => grepTree(dir, needle));
    expect(hits).toEqual([]);
    for (const image of [machine.root, machine.data, thief.root, thief.data]) expect(readFileSync(image).includes(needle)).toBe(false);
    const logs = [
      ...cluster.daemons.map((d) => d.output),
      ...['boot1', 'boot2', 'thief'].map((b) => readFileSync(join(work, `${b}.log`), 'utf8')),
    ];
    expect(logs.join('\n')).toContain('session with master established');
    expect(logs.join('\n')).not.toContain(PASSPHRASE);
    expect(JSON.stringify(cluster.audit())).not.toContain(PASSPHRASE);
  });
});

/** Files under `dir` whose bytes contain `needle`. */
function grepTree(dir: string, needle: Buffer): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((file) => statSync(file).isFile() && readFileSync(file).includes(needle));
}

const MASTER_CONFIG = stringify({
  interface: '127.0.0.1',
  port: PORT_IN_GUEST,
  pki_dir: '/var/lib/brine/pki',
  pillar_roots: ['/srv/brine/pillar'],
  file_roots: [join(ROOT, 'test', 'fixtures', 'states')],
  auto_accept: true,
});

/**
 * The shipped master unit, run from this checkout by the user it names. The checkout may live
 * under /tmp or /home (a CI clone), which the unit's PrivateTmp= and ProtectHome= would hide from
 * it; only those two are relaxed, the credentials under test are the unit's own.
 */
const MASTER_SETUP = `
set -eu
adduser --quiet --system --group --home /var/lib/brine --no-create-home brine
mkdir -p /etc/brine /srv/brine/pillar
cat > /etc/brine/master <<'EOF'
${MASTER_CONFIG}EOF
sed -e "s#^ExecStart=.*#ExecStart=${ROOT}/node_modules/.bin/master -c /etc/brine/master#" \\
  -e 's#^PrivateTmp=yes#PrivateTmp=no#' -e 's#^ProtectHome=yes#ProtectHome=read-only#' \\
  ${ROOT}/packages/master/systemd/brine-master.service > /etc/systemd/system/brine-master.service
`;

/** Waits for a unit's journal to show a message (the master logs JSON lines). */
const WAIT_LOG = (unit: string, text: string) => `
for i in $(seq 90); do journalctl -u ${unit} -o cat | grep -q "${text}" && break; sleep 1; done
journalctl -u ${unit} -o cat | grep -q "${text}" || { journalctl -u ${unit} -o cat | tail -30; exit 71; }`;

describe("the master's keys sealed to its TPM2 and loaded through LoadCredentialEncrypted=", { timeout: 600_000 }, () => {
  const tpm = join(work, 'tpm-master');

  it('seal, remove the plain files, restart: same identity, sessions work, !encrypted values still open', async () => {
    await prepareVm();
    mkdirSync(tpm, { recursive: true });
    const master = `${join(ROOT, 'node_modules', '.bin', 'master')} -c /etc/brine/master`;
    const r = await runInVm({
      systemd: true,
      setup: MASTER_SETUP,
      tpmState: tpm,
      env: { PASS: PASSPHRASE },
      timeoutMs: 240_000,
      command: `set -eu
systemctl start brine-master
${WAIT_LOG('brine-master', 'master identity')}
echo "fp_plain=$(${master} keys fingerprint)"
sealed=$(printf '%s\\n' "$PASS" | ${master} secret encrypt --path luks:password --minion mvm)
printf "base:\\n  '*':\\n    - luks\\n" > /srv/brine/pillar/top.sls
printf 'luks:\\n  password: %s\\n' "$sealed" > /srv/brine/pillar/luks.sls
systemctl stop brine-master
${master} keys seal --with-key tpm2 --remove-plain
echo "pki=$(ls /var/lib/brine/pki | tr '\\n' ' ')"
echo "creds=$(ls /etc/brine/credentials | tr '\\n' ' ')"
echo "dropin=$(grep -c '^LoadCredentialEncrypted=' /etc/systemd/system/brine-master.service.d/credentials.conf)"
systemctl daemon-reload
systemctl start brine-master
${WAIT_LOG('brine-master', 'secret keys from systemd credentials')}
echo "fp_sealed=$(${master} keys fingerprint)"
mkdir -p /tmp/out /tmp/mvm
printf 'master: 127.0.0.1:${PORT_IN_GUEST}\\nid: mvm\\npki_dir: /tmp/mvm/pki\\ncachedir: /tmp/mvm/cache\\nsock_dir: /tmp/mvm/run\\ngrains:\\n  out_dir: /tmp/out\\n' > /tmp/mvm/minion.yml
${join(ROOT, 'node_modules', '.bin', 'minion')} -c /tmp/mvm/minion.yml > /tmp/mvm/log 2>&1 &
for i in $(seq 60); do grep -q 'minion ready' /tmp/mvm/log && break; sleep 1; done
${master} apply mvm unlock > /tmp/mvm/apply.out || { cat /tmp/mvm/apply.out /tmp/mvm/log | tail -30; exit 72; }
echo "key_ok=$( [ "$(cat /tmp/out/mvm.key)" = "$PASS" ] && echo yes || echo no)"
echo "journal_leak=$(journalctl -o cat | grep -c "$PASS" || true)"`,
    });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const f = facts(r.stdout);
    expect(f['fp_sealed']).toBe(f['fp_plain']);
    const pki = f['pki']?.trim().split(' ') ?? [];
    expect(pki).toEqual(expect.arrayContaining(['master.pub', 'pillar.pub']));
    for (const plain of ['master.sign.key', 'master.box.key', 'pillar.key']) expect(pki).not.toContain(plain);
    expect(f['creds']?.trim().split(' ').sort()).toEqual(['master.box.key.cred', 'master.sign.key.cred', 'pillar.key.cred']);
    expect(f).toMatchObject({ dropin: '3', key_ok: 'yes', journal_leak: '0' });
  });
});
