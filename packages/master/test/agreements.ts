import { X25519Key } from '@brine/protocol';
import { vi } from 'vitest';

/** Every X25519 result `f` computes (a handshake's ee and se, a static shared key), to check they are zeroed. */
export function recordAgreements(f: () => void): Uint8Array[] {
  const made: Uint8Array[] = [];
  const agree = X25519Key.prototype.agree;
  const spy = vi.spyOn(X25519Key.prototype, 'agree').mockImplementation(function (this: X25519Key, peer: Uint8Array) {
    const out = agree.call(this, peer);
    made.push(out);
    return out;
  });
  try {
    f();
  } finally {
    spy.mockRestore();
  }
  return made;
}
