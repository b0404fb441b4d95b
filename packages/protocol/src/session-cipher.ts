import { COUNTER_BYTES, NONCE_BYTES } from './constants.js';
import { writeCounter } from './codec.js';
import { open, seal, zero } from './crypto.js';
import { ProtocolError } from './errors.js';

export const Direction = { MinionToMaster: 1, MasterToMinion: 2 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

function nonce(direction: Direction, counter: number): Uint8Array {
  const n = new Uint8Array(NONCE_BYTES);
  n[0] = direction;
  writeCounter(n, NONCE_BYTES - COUNTER_BYTES, counter);
  return n;
}

/**
 * One side of an established session: a key per direction and a message counter
 * per direction. The counter is the nonce, so no nonce repeats under a key, and
 * the receiver accepts only counters above the last one it accepted, so replayed
 * and reordered frames are refused.
 */
export class SessionCipher {
  private nextSend = 0;
  private lastReceived = -1;
  private destroyed = false;
  private received = 0;

  constructor(
    private readonly sendKey: Uint8Array,
    private readonly receiveKey: Uint8Array,
    private readonly sendDirection: Direction,
  ) {}

  private get receiveDirection(): Direction {
    return this.sendDirection === Direction.MinionToMaster ? Direction.MasterToMinion : Direction.MinionToMaster;
  }

  seal(plain: Uint8Array): { counter: number; ciphertext: Uint8Array } {
    // A destroyed cipher's keys are zeros: sealing under them would publish the plaintext.
    if (this.destroyed) throw new Error('session cipher is destroyed; nothing may be sealed under it');
    const counter = this.nextSend++;
    return { counter, ciphertext: seal(this.sendKey, nonce(this.sendDirection, counter), plain) };
  }

  open(counter: number, ciphertext: Uint8Array): Uint8Array {
    if (this.destroyed) throw new ProtocolError('unknown_session', 'session is closed');
    if (counter <= this.lastReceived) {
      throw new ProtocolError('replay', `counter ${counter} not above last accepted ${this.lastReceived}`);
    }
    const plain = open(this.receiveKey, nonce(this.receiveDirection, counter), ciphertext);
    if (!plain) throw new ProtocolError('tampered', 'message authentication failed');
    this.lastReceived = counter;
    this.received++;
    return plain;
  }

  /** Messages sealed and opened so far: re-keying and session limits count these. */
  get messages(): number {
    return this.nextSend + this.received;
  }

  /** Forgets the keys; the cipher is unusable afterwards. */
  destroy(): void {
    this.destroyed = true;
    zero(this.sendKey, this.receiveKey);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}
