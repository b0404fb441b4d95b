import { encodeMsg, encodePayload, type Header, type SessionCipher } from '@brine/protocol';
import type { Session } from './sessions.js';
import type { MasterTransport } from './transport.js';

/** Everything the master sends inside a session goes through here: sealed, counted, sent. */
export class Outbox {
  constructor(private readonly transport: MasterTransport) {}

  /** Seals and sends; the plaintext (which may hold a secret) is zeroed as soon as it is sealed. */
  send(routingId: Buffer, sessionId: Uint8Array, cipher: SessionCipher, header: Header, body?: Uint8Array): Promise<boolean> {
    if (cipher.isDestroyed) {
      // The session closed while this answer was being prepared (a late acknowledgement): drop it.
      body?.fill(0);
      return Promise.resolve(false);
    }
    const plain = encodePayload(header, body);
    body?.fill(0);
    const { counter, ciphertext } = cipher.seal(plain);
    plain.fill(0);
    return this.transport.send(routingId, encodeMsg({ sessionId, counter, ciphertext }));
  }

  toSession(session: Session, header: Header, body?: Uint8Array): Promise<boolean> {
    return this.send(session.routingId, session.id, session.cipher, header, body);
  }
}
