import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCiphertexts } from '@brine/states';
import {
  decryptFor,
  encryptValue,
  loadPillarCrypto,
  PillarKeyring,
  pillarKeyPaths,
  pillarPublicKey,
  writeNewPillarKey,
} from '../src/pillar-crypto.js';
import { rekeyPillar } from '../src/pillar-rekey.js';

const VALUE = 'r3key-me-please';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-'));
  const pki = join(dir, 'pki');
  const roots = join(dir, 'pillar');
  mkdirSync(pki);
  mkdirSync(roots);
  const { publicKey } = pillarPublicKey(pki);
  const seal = (path: string, minion?: string) => encryptValue(Buffer.from(VALUE), { path, ...(minion && { minion }) }, publicKey);
  const text = `# keep me\nluks:\n  password: !encrypted ${seal('luks:password', 'db1')}   # comment\n  vg: vg0\nlist:\n  - !encrypted '${seal('list:0')}'\n`;
  writeFileSync(join(roots, 'db1.sls'), text);
  chmodSync(join(roots, 'db1.sls'), 0o640);
  writeFileSync(join(roots, 'plain.sls'), 'nothing: here\n');
  return { pki, roots, text, file: join(roots, 'db1.sls') };
}

const open = (pki: string, ciphertext: string, path: string, minion: string) => {
  const ring = new PillarKeyring(pki);
  return Buffer.from(decryptFor(ciphertext, { path, minion }, (id) => ring.key(id))).toString();
};

beforeAll(loadPillarCrypto);

describe('rekeyPillar', () => {
  it('seals every value to a new key, keeping bindings and every other byte; the old key is gone', () => {
    const { pki, roots, text, file } = setup();
    const before = findCiphertexts(text);
    const done = rekeyPillar([roots], pki);
    expect(done).toMatchObject({ files: [file], values: 2 });
    expect(done.oldKeyId).not.toBe(done.keyId);
    const after = readFileSync(file, 'utf8');
    const now = findCiphertexts(after);
    expect(after.replace(now[0]!.ciphertext, 'X').replace(now[1]!.ciphertext, 'Y')).toBe(
      text.replace(before[0]!.ciphertext, 'X').replace(before[1]!.ciphertext, 'Y'),
    );
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(open(pki, now[0]!.ciphertext, 'luks:password', 'db1')).toBe(VALUE);
    expect(open(pki, now[1]!.ciphertext, 'list:0', 'any')).toBe(VALUE);
    expect(() => open(pki, now[0]!.ciphertext, 'luks:password', 'db2')).toThrow(/encrypted for minion 'db1'/);
    expect(() => open(pki, before[0]!.ciphertext, 'luks:password', 'db1')).toThrow(/which this master does not hold/);
    expect(existsSync(pillarKeyPaths(pki).nextSecret)).toBe(false);
  });

  it('changes nothing when a value does not open, naming file and line', () => {
    const { pki, roots, file } = setup();
    const stranger = mkdtempSync(join(tmpdir(), 'rekey-other-'));
    const { publicKey } = pillarPublicKey(stranger);
    const broken = `x: !encrypted ${encryptValue(Buffer.from('v'), { path: 'x' }, publicKey)}\n`;
    writeFileSync(join(roots, 'zz.sls'), broken);
    const text = readFileSync(file, 'utf8');
    const key = readFileSync(pillarKeyPaths(pki).secret, 'utf8');
    expect(() => rekeyPillar([roots], pki)).toThrow(new RegExp(`nothing was changed.*\\n${join(roots, 'zz.sls')}:1: sealed to pillar key`));
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(readFileSync(pillarKeyPaths(pki).secret, 'utf8')).toBe(key);
  });

  it('finishes a rekey cut short: values under either key, the next key kept', () => {
    const { pki, roots, file } = setup();
    const p = pillarKeyPaths(pki);
    writeNewPillarKey(p.nextSecret, p.nextPub);
    // The current key stays where it is: the next waits in pillar.next.*.
    expect(pillarPublicKey(pki).created).toBe(false);
    const half = `done: !encrypted ${encryptValue(Buffer.from(VALUE), { path: 'done' }, new Uint8Array(Buffer.from(readFileSync(p.nextPub, 'utf8'), 'base64')))}\n`;
    writeFileSync(join(roots, 'half.sls'), half);
    // The running master opens both meanwhile.
    expect(open(pki, findCiphertexts(half)[0]!.ciphertext, 'done', 'm')).toBe(VALUE);
    const done = rekeyPillar([roots], pki);
    expect(done.files).toEqual([file]);
    expect(readFileSync(join(roots, 'half.sls'), 'utf8')).toBe(half);
    expect(open(pki, findCiphertexts(half)[0]!.ciphertext, 'done', 'm')).toBe(VALUE);
  });
});
