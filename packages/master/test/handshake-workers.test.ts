import { describe, expect, it } from 'vitest';
import { type Prekey, ProtocolError, X25519Key } from '@brine/protocol';
import { HandshakeWorkers } from '../src/handshake-workers.js';

describe('handshake workers that cannot start', () => {
  it('are not restarted in a loop: after three failed starts the work is done on the main thread, said once', async () => {
    const errors: string[] = [];
    const workers = new HandshakeWorkers(1, (err) => errors.push(err.message), new URL('file:///nonexistent/handshake-worker.js'));
    const prekey = { id: new Uint8Array(16), key: X25519Key.generate() } as unknown as Prekey;
    const work = { clientEphemeral: new Uint8Array(32).fill(9), transcript: new Uint8Array(32), sealedIdentity: new Uint8Array(80) };
    // While a worker is tried, a handshake given to it fails as the worker goes (the minion retries).
    await expect(workers.run(prekey, work)).rejects.toThrow('handshake worker exited');
    for (const end = Date.now() + 10_000; Date.now() < end && !errors.some((e) => e.includes('main thread')); )
      await new Promise((r) => setTimeout(r, 50));
    expect(errors.filter((e) => e.includes('handshake workers fail to start'))).toHaveLength(1);
    // Done here now: a forged identity is refused for what it is, not for a worker's exit.
    await expect(workers.run(prekey, work)).rejects.toBeInstanceOf(ProtocolError);
    await workers.close();
  });
});
