/** First byte of every frame; a peer speaking anything else is dropped before parsing. */
export const MAGIC = 0xb1;
export const PROTOCOL_VERSION = 1;

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

/** Domain-separation labels: every signature, hash and KDF says what it is for. */
export const Label = {
  prekey: 'brine/v1 prekey',
  transcript: 'brine/v1 transcript',
  identity: 'brine/v1 identity',
  session: 'brine/v1 session',
} as const;
