// `master keys seal` with the real systemd-creds (host key: this machine has no TPM; the TPM2
// path is tested in test/vm/tpm.vm.test.ts, with systemd loading the credentials itself). Here
// the credentials directory systemd would make is filled by `systemd-creds decrypt`, as systemd
// does at a unit's start, to check how the master picks its keys.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster } from '../support/cluster.js';

const PASSPHRASE = 'sealed-master-keys-7f3a91';
const KEYS = ['master.sign.key', 'master.box.key', 'pillar.key'];

describe('master keys seal: the secret keys as systemd credentials', () => {
  const pillar = mkdtempSync(join(tmpdir(), 'brine-e2e-seal-pillar-'));
  const cluster = new Cluster(pillar, { auto_accept: true });
  const pki = join(cluster.dir, 'master-pki');
  const creds = join(cluster.dir, 'creds');
  const out = join(cluster.dir, 'out');
  let fingerprint = '';

  const seal = (...args: string[]) => cluster.masterCmd('keys', 'seal', '--with-key', 'host', '--dir', creds, '--drop-in', '-', ...args);

  beforeAll(async () => {
    mkdirSync(out);
    await cluster.startMaster();
    fingerprint = String((await cluster.keys('fingerprint')).stdout);
    const sealed = await execa(join(BIN, 'master'), ['secret', 'encrypt', '--path', 'luks:password', '-c', cluster.masterConfig], {
      input: `${PASSPHRASE}\n`,
    });
    writeFileSync(join(pillar, 'top.sls'), "base:\n  '*':\n    - luks\n");
    writeFileSync(join(pillar, 'luks.sls'), `luks:\n  password: ${String(sealed.stdout).trim()}\n`);
    await cluster.master!.stop();
  });
  afterAll(async () => {
    await cluster.close();
    rmSync(pillar, { recursive: true, force: true });
  });

  it('seals the three secret keys, prints the drop-in, keeps the plain files until asked; a re-run changes nothing', async () => {
    const r = await seal();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    for (const k of KEYS) {
      expect(String(r.stderr)).toContain(`${k}: sealed into ${join(creds, `${k}.cred`)}`);
      expect(String(r.stdout)).toContain(`LoadCredentialEncrypted=${k}:${join(creds, `${k}.cred`)}`);
      expect(existsSync(join(pki, k))).toBe(true);
      // Sealed, not copied: the credential does not hold the key file's text.
      expect(readFileSync(join(creds, `${k}.cred`)).includes(readFileSync(join(pki, k)).subarray(0, 40))).toBe(false);
    }
    const again = await seal();
    expect(again.exitCode).toBe(0);
    for (const k of KEYS) expect(String(again.stderr)).toContain(`${k}: already sealed in`);
  });

  it('a plain key that changed since (a rekey) is sealed anew, never left shadowed by a stale credential', async () => {
    const before = readFileSync(join(creds, 'pillar.key.cred'));
    const r = await cluster.masterCmd('secret', 'rekey');
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const resealed = await seal();
    expect(String(resealed.stderr)).toContain('pillar.key: sealed into');
    expect(String(resealed.stderr)).toContain('master.sign.key: already sealed in');
    expect(readFileSync(join(creds, 'pillar.key.cred')).equals(before)).toBe(false);
  });

  it('--remove-plain removes each plain key once its credential holds it; the master then runs on the credentials alone', async () => {
    const r = await seal('--remove-plain');
    expect(r.exitCode, String(r.stderr)).toBe(0);
    for (const k of KEYS) expect(existsSync(join(pki, k))).toBe(false);
    // What systemd does for LoadCredentialEncrypted= at the unit's start.
    const dir = join(cluster.dir, 'credentials-directory');
    mkdirSync(dir, { mode: 0o700 });
    for (const k of KEYS) {
      const d = spawnSync('systemd-creds', ['decrypt', `--name=${k}`, join(creds, `${k}.cred`), join(dir, k)]);
      expect(d.status, String(d.stderr)).toBe(0);
      chmodSync(join(dir, k), 0o400); // as systemd leaves them
    }
    cluster.masterEnv = { CREDENTIALS_DIRECTORY: dir };
    const master = await cluster.startMaster();
    expect(master.lines()).toContainEqual(
      expect.objectContaining({ msg: 'secret keys from systemd credentials (sealed on disk, unsealed by systemd at start)', keys: KEYS }),
    );
    expect(String((await cluster.keys('fingerprint')).stdout)).toBe(fingerprint);
    // The pillar key from the credential opens the value for the minion's state.
    const minion = cluster.startMinion({ id: 'db1', extra: { grains: { out_dir: out } } });
    await minion.waitFor('minion ready');
    const applied = await cluster.masterCmd('apply', 'db1', 'unlock');
    expect(applied.exitCode, String(applied.stdout)).toBe(0);
    expect(readFileSync(join(out, 'db1.key'), 'utf8')).toBe(`${PASSPHRASE}\n`);
  });

  it('a plain key put back beside the credential is used, with a warning naming it', async () => {
    await cluster.master!.stop();
    const dir = cluster.masterEnv['CREDENTIALS_DIRECTORY']!;
    writeFileSync(join(pki, 'pillar.key'), readFileSync(join(dir, 'pillar.key')), { mode: 0o600 });
    const master = await cluster.startMaster();
    const warned = await master.waitFor(
      'plain key files in pki_dir are used instead of the systemd credentials of the same name (newer, e.g. after a rekey): run `master keys seal --remove-plain` to seal them',
    );
    expect(warned['keys']).toEqual(['pillar.key']);
  });
});
