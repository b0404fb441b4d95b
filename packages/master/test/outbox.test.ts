import { SessionCipher } from '@brine/protocol';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../src/outbox.js';
import type { MasterTransport } from '../src/transport.js';

describe('Outbox', () => {
  it('drops an answer whose session closed meanwhile instead of sealing it under zeroed keys', async () => {
    const sent: Uint8Array[] = [];
    const transport = { send: async (_r: Buffer, f: Uint8Array) => (sent.push(f), true) } as unknown as MasterTransport;
    const cipher = new SessionCipher(nacl.randomBytes(32), nacl.randomBytes(32), 2);
    const late = new TextEncoder().encode('WEB1-SECRET-b2e4d1');
    cipher.destroy();
    const out = await new Outbox(transport).send(
      Buffer.from('r'),
      new Uint8Array(16),
      cipher,
      { t: 'res', id: 1, ok: true, raw: true },
      late,
    );
    expect(out).toBe(false);
    expect(sent).toHaveLength(0);
    expect(late.every((b) => b === 0)).toBe(true);
    // And the cipher itself refuses: its keys are zeros, anyone could open what it sealed.
    expect(() => cipher.seal(new Uint8Array(1))).toThrow(/destroyed/);
  });
});
