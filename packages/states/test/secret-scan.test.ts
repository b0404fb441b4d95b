import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCiphertexts, isSecretKeyName, replaceCiphertexts, scanPlaintextSecrets } from '../src/pillar/secret-scan.js';
import { tree } from './helpers.js';

describe('scanPlaintextSecrets', () => {
  it('lists plaintext values under keys named like secrets, with file and line, never the value', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - db\n",
      'db.sls': [
        'luks:',
        '  password: hunter2-plain',
        '  sealed: !encrypted AAAA',
        '  vg: vg0',
        'api_token: "tok-plain"',
        'db_password: !secret marked-but-plain',
        'ssh_key: |',
        'key_pillar: luks:password',
        'keyboard: us',
        'password_from: {{ pillar.x }}',
        'users:',
        '  - passphrase: in-a-list',
        'secret: ~',
      ].join('\n'),
    });
    const found = scanPlaintextSecrets([root]);
    const file = join(root, 'db.sls');
    expect(found).toEqual([
      { file, line: 2, key: 'password' },
      { file, line: 5, key: 'api_token' },
      { file, line: 6, key: 'db_password' },
      { file, line: 7, key: 'ssh_key' },
      { file, line: 12, key: 'passphrase' },
    ]);
    expect(JSON.stringify(found)).not.toMatch(/plain|in-a-list/);
  });

  it('names a key a secret by a whole part, or by a long secret word in it', () => {
    for (const k of ['password', 'DB_PASSWORD', 'api-key', 'apitoken', 'luks.passphrase', 'client_secret', 'wifi_psk']) {
      expect(isSecretKeyName(k), k).toBe(true);
    }
    for (const k of ['keyboard', 'monkey', 'vg', 'key_pillar', 'cipher']) expect(isSecretKeyName(k), k).toBe(false);
  });
});

describe('ciphertexts in pillar text', () => {
  const text = '# head\na: !encrypted QUJD   # note\nb:\n  - !encrypted \'REVG\'\n  - "!encrypted R0hJ"\nc: plain\n';

  it('are found with their lines, quoted or not', () => {
    expect(findCiphertexts(text)).toEqual([
      { line: 2, ciphertext: 'QUJD' },
      { line: 4, ciphertext: 'REVG' },
      { line: 5, ciphertext: 'R0hJ' },
    ]);
  });

  it('are replaced leaving every other byte as it was', () => {
    const out = replaceCiphertexts(text, ({ line, ciphertext }) => `${ciphertext}x${line}`);
    expect(out).toBe('# head\na: !encrypted QUJDx2   # note\nb:\n  - !encrypted \'REVGx4\'\n  - "!encrypted R0hJx5"\nc: plain\n');
  });
});
