/**
 * Why a frame or handshake was refused. Codes are stable: they go into the audit
 * log and, for unauthenticated refusals, onto the wire.
 */
export type ProtocolErrorCode =
  | 'bad_frame' // wrong magic, version, type, or size
  | 'unknown_session' // MSG for a session the peer does not hold (e.g. after a restart)
  | 'cookie_invalid' // AUTH with a cookie that does not open or has expired
  | 'replay' // a frame or cookie already seen
  | 'tampered' // authentication tag did not verify
  | 'bad_signature' // master prekey signature did not verify
  | 'master_mismatch' // master identity differs from the pinned one
  | 'bad_payload' // decrypted payload is not a valid message
  | 'bad_key'; // a public key of low order (its Diffie-Hellman result would be all zeros)

export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
