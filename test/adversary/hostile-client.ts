/**
 * A hostile minion written from docs/PROTOCOL.md alone, with tweetnacl and
 * node:crypto, importing nothing of Brine's: if the document and the master
 * disagree, these tests find it, and a bug shared by Brine's own client and
 * master cannot hide behind it. Every field can be bent: the routing id and the
 * PLAIN user name separately, the id and key claimed, the frames themselves.
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import * as zmq from 'zeromq';

export const MAGIC = 0xb1;
export const VERSION = 2;
export const T = { hello: 1, welcome: 2, auth: 3, msg: 4, refuse: 5 } as const;

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const sha512 = (...parts: Uint8Array[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string, n: number) => new Uint8Array(hkdfSync('sha512', ikm, salt, utf8(info), n));

/** An X25519 key pair as raw bytes (PROTOCOL.md: keys are NaCl keys). */
export interface RawKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function x25519KeyPair(): RawKeyPair {
  const kp = nacl.box.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

/** X25519 with raw keys through node:crypto (no low-order check: the attacker does not care). */
export function x25519(secret: Uint8Array, peer: Uint8Array): Uint8Array {
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), secret]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peer).toString('base64url') }, format: 'jwk' });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

/** A point of order 8 on Curve25519 (one of the well-known low-order encodings). */
export const LOW_ORDER_POINT = new Uint8Array(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'));

export function frame(type: number, ...body: Uint8Array[]): Uint8Array {
  // REFUSE keeps version 1's header in every version (PROTOCOL.md "Versions").
  return cat(Uint8Array.of(MAGIC, ((type === T.refuse ? 1 : VERSION) << 4) | type), ...body);
}

export interface Welcome {
  clientEphemeral: Uint8Array;
  masterIdentity: Uint8Array;
  prekeyId: Uint8Array;
  prekey: Uint8Array;
  signature: Uint8Array;
  serverRandom: Uint8Array;
  cookie: Uint8Array;
}

/** WELCOME body: e_c 32, identity 64, prekey id 8, P 32, signature 64, r 16, cookie 104. */
export function parseWelcome(f: Uint8Array): Welcome | undefined {
  if (f.length !== 322 || f[0] !== MAGIC || (f[1]! & 0x0f) !== T.welcome) return undefined;
  let at = 2;
  const next = (n: number) => f.slice(at, (at += n));
  return {
    clientEphemeral: next(32),
    masterIdentity: next(64),
    prekeyId: next(8),
    prekey: next(32),
    signature: next(64),
    serverRandom: next(16),
    cookie: next(104),
  };
}

/** Session keys as PROTOCOL.md's handshake derives them. */
export interface Derived {
  kId: Uint8Array;
  toMaster: Uint8Array;
  toMinion: Uint8Array;
}

export function deriveKeys(
  w: Welcome,
  ephemeralSecret: Uint8Array,
  minionSecret: Uint8Array,
  minionPublic: Uint8Array,
  id: Uint8Array,
): Derived {
  const ee = x25519(ephemeralSecret, w.prekey);
  const se = x25519(minionSecret, w.prekey);
  const ss = x25519(minionSecret, w.masterIdentity.subarray(32));
  const transcript = sha512(
    utf8('brine/v2 transcript'),
    w.clientEphemeral,
    w.masterIdentity,
    w.prekeyId,
    w.prekey,
    w.signature,
    w.serverRandom,
    w.cookie,
  );
  const kId = hkdf(ee, transcript, 'brine/v2 identity', 32);
  const k = hkdf(cat(ee, se, ss), sha512(transcript, minionPublic, id), 'brine/v2 session', 64);
  return { kId, toMaster: k.slice(0, 32), toMinion: k.slice(32) };
}

export function nonceFor(direction: 1 | 2, counter: number): Uint8Array {
  const n = new Uint8Array(24);
  n[0] = direction;
  new DataView(n.buffer).setBigUint64(16, BigInt(counter));
  return n;
}

export function payload(header: object, body?: Uint8Array): Uint8Array {
  const json = utf8(JSON.stringify(header));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, json.length);
  return cat(len, json, body ?? new Uint8Array(0));
}

export function parsePayload(p: Uint8Array): { header: Record<string, unknown>; body: Uint8Array } {
  const len = new DataView(p.buffer, p.byteOffset).getUint32(0);
  return { header: JSON.parse(Buffer.from(p.subarray(4, 4 + len)).toString('utf8')), body: p.slice(4 + len) };
}

export function msgFrame(sessionId: Uint8Array, counter: number, sealed: Uint8Array): Uint8Array {
  const c = new Uint8Array(8);
  new DataView(c.buffer).setBigUint64(0, BigInt(counter));
  return frame(T.msg, sessionId, c, sealed);
}

export interface ConnectOptions {
  port: number;
  host?: string;
  /** ZeroMQ routing id; PROTOCOL.md says it equals the PLAIN user name (32 hex). */
  routingId?: string;
  plainUsername?: string;
  /** Source address to connect from (any 127.x address works on loopback). */
  source?: string;
  receiveTimeoutMs?: number;
}

export interface Session {
  id: Uint8Array;
  toMaster: Uint8Array;
  toMinion: Uint8Array;
  sendCounter: number;
}

/** What the auth result said, and the session if it was accepted. */
export interface AuthOutcome {
  status: string;
  message: string;
  res?: Record<string, unknown>;
  session?: Session;
  /** The raw frames, for replay and tampering. */
  authFrame: Uint8Array;
  reply: Uint8Array | undefined;
}

export class Hostile {
  readonly socket: zmq.Dealer;
  readonly routingId: string;
  session: Session | undefined;
  private nextId = 1;

  constructor(opts: ConnectOptions) {
    this.routingId = opts.routingId ?? randomBytes(16).toString('hex');
    this.socket = new zmq.Dealer({
      routingId: this.routingId,
      plainUsername: opts.plainUsername ?? this.routingId,
      plainPassword: 'x',
      linger: 0,
      receiveTimeout: opts.receiveTimeoutMs ?? 2000,
      sendTimeout: 2000,
    });
    const to = `${opts.host ?? '127.0.0.1'}:${opts.port}`;
    this.socket.connect(opts.source ? `tcp://${opts.source}:0;${to}` : `tcp://${to}`);
  }

  async send(...frames: Uint8Array[]): Promise<void> {
    await this.socket.send(frames.map((f) => Buffer.from(f)));
  }

  /** The next frame, or undefined if none comes within the receive timeout. */
  async receive(): Promise<Uint8Array | undefined> {
    try {
      const [raw] = await this.socket.receive();
      return new Uint8Array(raw!);
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') return undefined;
      throw err;
    }
  }

  async hello(ephemeralPublic: Uint8Array): Promise<Welcome | undefined> {
    await this.send(frame(T.hello, ephemeralPublic));
    const got = await this.receive();
    return got && parseWelcome(got);
  }

  /**
   * A full handshake claiming `id` with `key` (the attacker may not hold the
   * secret: pass a wrong one and the master must refuse).
   */
  async authenticate(
    id: string | Uint8Array,
    key: RawKeyPair,
    helloArgs: Record<string, unknown> = { role: 'cli', grains: {} },
  ): Promise<AuthOutcome> {
    const eph = x25519KeyPair();
    const w = await this.hello(eph.publicKey);
    if (!w) throw new Error('no WELCOME from the master');
    const idBytes = typeof id === 'string' ? utf8(id) : id;
    const k = deriveKeys(w, eph.secretKey, key.secretKey, key.publicKey, idBytes);
    const identityNonce = new Uint8Array(24);
    identityNonce[0] = 1;
    const sealedIdentity = nacl.secretbox(cat(Uint8Array.of(idBytes.length), idBytes, key.publicKey), identityNonce, k.kId);
    const first = nacl.secretbox(payload({ t: 'req', id: 0, op: 'hello', args: helloArgs }), nonceFor(1, 0), k.toMaster);
    const authFrame = frame(T.auth, w.cookie, Uint8Array.of(sealedIdentity.length), sealedIdentity, first);
    await this.send(authFrame);
    const reply = await this.receive();
    if (!reply || (reply[1]! & 0x0f) !== T.msg)
      return { status: reply ? `frame type ${reply[1]! & 0x0f}` : 'silence', message: '', authFrame, reply };
    const plain = nacl.secretbox.open(reply.subarray(26), nonceFor(2, 0), k.toMinion);
    if (!plain) return { status: 'unreadable', message: '', authFrame, reply };
    const { header } = parsePayload(plain);
    const outcome: AuthOutcome = {
      status: String(header['status']),
      message: String(header['message']),
      authFrame,
      reply,
      ...(header['res'] !== undefined && { res: header['res'] as Record<string, unknown> }),
    };
    if (header['status'] === 'accepted') {
      outcome.session = { id: reply.slice(2, 18), toMaster: k.toMaster, toMinion: k.toMinion, sendCounter: 1 };
      this.session = outcome.session;
    }
    return outcome;
  }

  /** A sealed request frame of the current session (not sent). */
  request(op: string, args: Record<string, unknown> = {}, counter?: number): Uint8Array {
    const s = this.session!;
    const c = counter ?? s.sendCounter++;
    return msgFrame(s.id, c, nacl.secretbox(payload({ t: 'req', id: this.nextId++, op, args }), nonceFor(1, c), s.toMaster));
  }

  /** Opens a MSG of the session; undefined for silence, anything else, or a frame that does not open. */
  open(f: Uint8Array | undefined): { header: Record<string, unknown>; body: Uint8Array } | undefined {
    if (!f || f.length < 26 || (f[1]! & 0x0f) !== T.msg || !this.session) return undefined;
    const counter = Number(new DataView(f.buffer, f.byteOffset + 18, 8).getBigUint64(0));
    const plain = nacl.secretbox.open(f.subarray(26), nonceFor(2, counter), this.session.toMinion);
    return plain ? parsePayload(plain) : undefined;
  }

  async call(op: string, args: Record<string, unknown> = {}): Promise<{ header: Record<string, unknown>; body: Uint8Array } | undefined> {
    await this.send(this.request(op, args));
    return this.open(await this.receive());
  }

  close(): void {
    this.socket.close();
  }
}

/** Reads a Brine key file (one line of base64, PROTOCOL.md "Keys"). */
export const readKeyLine = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.trim(), 'base64'));
