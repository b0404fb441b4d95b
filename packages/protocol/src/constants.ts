/** First byte of every frame; a peer speaking anything else is dropped before parsing. */
export const MAGIC = 0xb1;
/** 2: the session key also mixes X25519(minion static, prekey), so a stolen master key cannot pose as a minion. */
export const PROTOCOL_VERSION = 2;
/**
 * REFUSE keeps its version-1 header and layout in every version, so peers of
 * different versions can still tell each other why they refuse.
 */
export const REFUSE_VERSION = 1;

export const FrameType = {
  Hello: 0x01,
  Welcome: 0x02,
  Auth: 0x03,
  Msg: 0x04,
  Refuse: 0x05,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MASTER_IDENTITY_BYTES = 64; // Ed25519 public key || X25519 public key
export const SERVER_RANDOM_BYTES = 16;
export const SESSION_ID_BYTES = 16;
export const PREKEY_ID_BYTES = 8;
export const COUNTER_BYTES = 8;
export const NONCE_BYTES = 24;
export const MAC_BYTES = 16;
/** Sealed inside the cookie: e_c || server random || expiry (ms, u64). */
export const COOKIE_PLAIN_BYTES = KEY_BYTES + SERVER_RANDOM_BYTES + 8;
/** prekey id (clear, picks the cookie key) || nonce || secretbox(cookie plain). */
export const COOKIE_BYTES = PREKEY_ID_BYTES + NONCE_BYTES + MAC_BYTES + COOKIE_PLAIN_BYTES;
export const MAX_ID_BYTES = 128;
export const MAX_REFUSE_REASON_BYTES = 200;
/** A HELLO may name the master identity the minion pinned: its fingerprint, 16 bytes (fingerprint.ts). */
export const PIN_BYTES = 16;
/** Rotation statement: old identity || new identity || period end (ms, u64) || Ed25519 signature by the old key. */
export const ROTATION_STATEMENT_BYTES = 2 * MASTER_IDENTITY_BYTES + 8 + SIGNATURE_BYTES;

/** Domain-separation labels: every signature, hash and KDF says what it is for. */
export const Label = {
  prekey: 'brine/v2 prekey',
  transcript: 'brine/v2 transcript',
  identity: 'brine/v2 identity',
  session: 'brine/v2 session',
  rotation: 'brine/v2 master rotation',
  minionKeyRotation: 'brine/v2 minion key rotation',
} as const;
