import {
  COOKIE_BYTES,
  COUNTER_BYTES,
  FrameType,
  KEY_BYTES,
  MAC_BYTES,
  MAGIC,
  MASTER_IDENTITY_BYTES,
  MAX_ID_BYTES,
  MAX_REFUSE_REASON_BYTES,
  PIN_BYTES,
  PREKEY_ID_BYTES,
  PROTOCOL_VERSION,
  REFUSE_VERSION,
  SERVER_RANDOM_BYTES,
  SESSION_ID_BYTES,
  SIGNATURE_BYTES,
} from './constants.js';
import { ProtocolError } from './errors.js';

export interface HelloFrame {
  type: typeof FrameType.Hello;
  clientEphemeral: Uint8Array;
  /**
   * The fingerprint (16 bytes) of the master identity the minion pinned, when it has one:
   * during a master key rotation the master answers with that identity (PROTOCOL.md).
   */
  pinned?: Uint8Array | undefined;
}

export interface WelcomeFrame {
  type: typeof FrameType.Welcome;
  clientEphemeral: Uint8Array;
  masterIdentity: Uint8Array;
  prekeyId: Uint8Array;
  prekey: Uint8Array;
  signature: Uint8Array;
  serverRandom: Uint8Array;
  cookie: Uint8Array;
}

export interface AuthFrame {
  type: typeof FrameType.Auth;
  cookie: Uint8Array;
  sealedIdentity: Uint8Array;
  sealedPayload: Uint8Array;
}

export interface MsgFrame {
  type: typeof FrameType.Msg;
  sessionId: Uint8Array;
  counter: number;
  ciphertext: Uint8Array;
}

/** Unauthenticated refusals: a peer acts on them only as hints (retry, re-handshake). */
export const RefuseCode = {
  BadFrame: 1,
  UnknownSession: 2,
  CookieInvalid: 3,
  AuthFailed: 4,
  TooLarge: 5,
} as const;
export type RefuseCode = (typeof RefuseCode)[keyof typeof RefuseCode];

export interface RefuseFrame {
  type: typeof FrameType.Refuse;
  code: RefuseCode;
  reason: string;
}

export type Frame = HelloFrame | WelcomeFrame | AuthFrame | MsgFrame | RefuseFrame;

/** Largest sealed identity: id length byte, id, minion public key, MAC. */
const MAX_SEALED_IDENTITY = MAC_BYTES + 1 + MAX_ID_BYTES + KEY_BYTES;
const HEADER = 2;

function header(type: FrameType, bodyLength: number): { buf: Uint8Array; at: number } {
  const buf = new Uint8Array(HEADER + bodyLength);
  buf[0] = MAGIC;
  buf[1] = ((type === FrameType.Refuse ? REFUSE_VERSION : PROTOCOL_VERSION) << 4) | type;
  return { buf, at: HEADER };
}

function put(buf: Uint8Array, at: number, ...parts: Uint8Array[]): number {
  for (const part of parts) {
    buf.set(part, at);
    at += part.length;
  }
  return at;
}

function fixed(name: string, value: Uint8Array, size: number): Uint8Array {
  if (value.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${value.length}`);
  return value;
}

export function encodeHello(f: Omit<HelloFrame, 'type'>): Uint8Array {
  const { buf, at } = header(FrameType.Hello, KEY_BYTES + (f.pinned ? PIN_BYTES : 0));
  const next = put(buf, at, fixed('clientEphemeral', f.clientEphemeral, KEY_BYTES));
  if (f.pinned) put(buf, next, fixed('pinned', f.pinned, PIN_BYTES));
  return buf;
}

const WELCOME_BODY = KEY_BYTES + MASTER_IDENTITY_BYTES + PREKEY_ID_BYTES + KEY_BYTES + SIGNATURE_BYTES + SERVER_RANDOM_BYTES + COOKIE_BYTES;

export function encodeWelcome(f: Omit<WelcomeFrame, 'type'>): Uint8Array {
  const { buf, at } = header(FrameType.Welcome, WELCOME_BODY);
  put(
    buf,
    at,
    fixed('clientEphemeral', f.clientEphemeral, KEY_BYTES),
    fixed('masterIdentity', f.masterIdentity, MASTER_IDENTITY_BYTES),
    fixed('prekeyId', f.prekeyId, PREKEY_ID_BYTES),
    fixed('prekey', f.prekey, KEY_BYTES),
    fixed('signature', f.signature, SIGNATURE_BYTES),
    fixed('serverRandom', f.serverRandom, SERVER_RANDOM_BYTES),
    fixed('cookie', f.cookie, COOKIE_BYTES),
  );
  return buf;
}

export function encodeAuth(f: Omit<AuthFrame, 'type'>): Uint8Array {
  if (f.sealedIdentity.length > MAX_SEALED_IDENTITY) throw new RangeError('sealed identity too long');
  const { buf, at } = header(FrameType.Auth, COOKIE_BYTES + 1 + f.sealedIdentity.length + f.sealedPayload.length);
  buf[at + COOKIE_BYTES] = f.sealedIdentity.length;
  put(buf, at, fixed('cookie', f.cookie, COOKIE_BYTES));
  put(buf, at + COOKIE_BYTES + 1, f.sealedIdentity, f.sealedPayload);
  return buf;
}

export function encodeMsg(f: Omit<MsgFrame, 'type'>): Uint8Array {
  const { buf, at } = header(FrameType.Msg, SESSION_ID_BYTES + COUNTER_BYTES + f.ciphertext.length);
  const next = put(buf, at, fixed('sessionId', f.sessionId, SESSION_ID_BYTES));
  writeCounter(buf, next, f.counter);
  put(buf, next + COUNTER_BYTES, f.ciphertext);
  return buf;
}

export function encodeRefuse(f: Omit<RefuseFrame, 'type'>): Uint8Array {
  const reason = Buffer.from(f.reason).subarray(0, MAX_REFUSE_REASON_BYTES);
  const { buf, at } = header(FrameType.Refuse, 1 + reason.length);
  buf[at] = f.code;
  put(buf, at + 1, reason);
  return buf;
}

/** Big-endian u64 counter; counters stay far below 2^53. */
export function writeCounter(buf: Uint8Array, at: number, counter: number): void {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError('counter out of range');
  const view = new DataView(buf.buffer, buf.byteOffset + at, COUNTER_BYTES);
  view.setUint32(0, Math.floor(counter / 2 ** 32));
  view.setUint32(4, counter >>> 0);
}

function readCounter(buf: Uint8Array, at: number): number {
  const view = new DataView(buf.buffer, buf.byteOffset + at, COUNTER_BYTES);
  const value = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
  if (!Number.isSafeInteger(value)) throw new ProtocolError('bad_frame', 'counter out of range');
  return value;
}

/**
 * Parses one frame, checking magic, version, type and exact sizes before any field
 * is read. Anything malformed is a ProtocolError('bad_frame'): the caller drops it.
 */
export function decodeFrame(buf: Uint8Array, maxBytes: number): Frame {
  const bad = (why: string): never => {
    throw new ProtocolError('bad_frame', why);
  };
  if (buf.length > maxBytes) bad(`frame of ${buf.length} bytes exceeds the limit of ${maxBytes}`);
  if (buf.length < HEADER || buf[0] !== MAGIC) bad('not a Brine frame (bad magic)');
  const version = buf[1]! >> 4;
  const type = buf[1]! & 0x0f;
  if (version !== (type === FrameType.Refuse ? REFUSE_VERSION : PROTOCOL_VERSION)) {
    bad(
      `protocol version ${version} is not supported; this side speaks version ${PROTOCOL_VERSION} (upgrade the older of master and minion)`,
    );
  }
  const body = buf.subarray(HEADER);
  const take = (from: number, len: number) => body.subarray(from, from + len);
  switch (type) {
    case FrameType.Hello:
      if (body.length === KEY_BYTES) return { type, clientEphemeral: body };
      if (body.length !== KEY_BYTES + PIN_BYTES)
        bad(`HELLO must be ${HEADER + KEY_BYTES} bytes, or ${HEADER + KEY_BYTES + PIN_BYTES} with a pinned fingerprint`);
      return { type, clientEphemeral: take(0, KEY_BYTES), pinned: take(KEY_BYTES, PIN_BYTES) };
    case FrameType.Welcome: {
      if (body.length !== WELCOME_BODY) bad(`WELCOME must be ${HEADER + WELCOME_BODY} bytes`);
      let at = 0;
      const next = (len: number) => take((at += len) - len, len);
      return {
        type,
        clientEphemeral: next(KEY_BYTES),
        masterIdentity: next(MASTER_IDENTITY_BYTES),
        prekeyId: next(PREKEY_ID_BYTES),
        prekey: next(KEY_BYTES),
        signature: next(SIGNATURE_BYTES),
        serverRandom: next(SERVER_RANDOM_BYTES),
        cookie: next(COOKIE_BYTES),
      };
    }
    case FrameType.Auth: {
      if (body.length < COOKIE_BYTES + 1 + MAC_BYTES * 2) bad('AUTH too short');
      const idLen = body[COOKIE_BYTES]!;
      if (idLen > MAX_SEALED_IDENTITY || idLen < MAC_BYTES + 1 + KEY_BYTES + 1) bad('AUTH identity length out of range');
      const payloadAt = COOKIE_BYTES + 1 + idLen;
      if (body.length < payloadAt + MAC_BYTES) bad('AUTH truncated');
      return {
        type,
        cookie: take(0, COOKIE_BYTES),
        sealedIdentity: take(COOKIE_BYTES + 1, idLen),
        sealedPayload: body.subarray(payloadAt),
      };
    }
    case FrameType.Msg:
      if (body.length < SESSION_ID_BYTES + COUNTER_BYTES + MAC_BYTES) bad('MSG too short');
      return {
        type,
        sessionId: take(0, SESSION_ID_BYTES),
        counter: readCounter(body, SESSION_ID_BYTES),
        ciphertext: body.subarray(SESSION_ID_BYTES + COUNTER_BYTES),
      };
    case FrameType.Refuse: {
      if (body.length < 1 || body.length > 1 + MAX_REFUSE_REASON_BYTES) bad('REFUSE size out of range');
      const code = body[0]!;
      if (!Object.values(RefuseCode).includes(code as RefuseCode)) bad(`unknown REFUSE code ${code}`);
      return { type, code: code as RefuseCode, reason: Buffer.from(body.subarray(1)).toString('utf8') };
    }
    default:
      return bad(`unknown frame type ${type}`);
  }
}
