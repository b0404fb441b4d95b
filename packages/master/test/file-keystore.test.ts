import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X25519Key } from '@brine/protocol';
import { describe, expect, it } from 'vitest';
import { FileKeyStore } from '../src/file-keystore.js';

describe("FileKeyStore: an accepted key's own networks", () => {
  const pki = mkdtempSync(join(tmpdir(), 'brine-pki-'));
  const daemon = new FileKeyStore(pki, { create: true });
  const cli = new FileKeyStore(pki, { create: false });

  it('are written by the accept that gives them, read by the daemon, and go when the key leaves accepted', async () => {
    const key = X25519Key.generate().publicKey;
    await daemon.admit('net1', key, false);
    expect(daemon.networks('net1')).toBeUndefined();
    await cli.move('net1', 'pending', 'accepted', ['127.0.0.2/32', 'fd00::/64']);
    expect(daemon.networks('net1')).toEqual(['127.0.0.2/32', 'fd00::/64']);
    expect(daemon.isAccepted('net1', key)).toBe(true);
    await cli.move('net1', 'accepted', 'rejected');
    expect(daemon.networks('net1')).toBeUndefined();
    // Accepted again without networks: minion_networks applies again.
    await cli.move('net1', 'rejected', 'accepted');
    expect(daemon.networks('net1')).toBeUndefined();
    await cli.move('net1', 'accepted', 'rejected');
    await cli.move('net1', 'rejected', 'accepted', ['10.0.0.0/8']);
    expect(daemon.networks('net1')).toEqual(['10.0.0.0/8']);
    await cli.delete('net1');
    expect(daemon.networks('net1')).toBeUndefined();
  });

  it('match no address when the file was edited into something unreadable', async () => {
    await daemon.admit('net2', X25519Key.generate().publicKey, true);
    writeFileSync(join(pki, 'minions_networks', 'net2'), '# office\n10.0.0.0/8\n');
    expect(daemon.networks('net2')).toEqual(['10.0.0.0/8']);
    writeFileSync(join(pki, 'minions_networks', 'net2'), '10.0.0.0/8\nthe office\n');
    expect(daemon.networks('net2')).toEqual([]);
  });
});
