import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClientHandshake,
  decodeFrame,
  Ed25519Key,
  encodeMsg,
  encodeRefuse,
  fingerprint,
  FrameType,
  generateMasterKeys,
  generateMinionKeys,
  HandshakeResponder,
  MinionIdentity,
  PrekeyRing,
  PROTOCOL_VERSION,
  ProtocolError,
  RefuseCode,
  ReplayGuard,
  X25519Key,
  authSecrets,
  type AuthFrame,
  type AuthOffload,
  type HelloFrame,
  type OpenedAuth,
  type WelcomeFrame,
} from '../src/index.js';

const timings = { rotateMs: 10_000, cookieLifetimeMs: 30_000 };
const LIMIT = 1 << 20;

function master(now: () => number = Date.now, workers?: AuthOffload) {
  const keys = generateMasterKeys();
  const ring = new PrekeyRing(Ed25519Key.fromSecret(keys.signSecret), keys.identity, timings, now);
  const box = X25519Key.fromSecret(keys.boxSecret);
  const responder = new HandshakeResponder(keys.identity, ring, new ReplayGuard(now), timings, now, workers);
  // Without workers openAuth answers at once.
  return { keys, ring, box, responder: responder as { openAuth(a: AuthFrame): OpenedAuth } & HandshakeResponder };
}

function minion(id = 'db1') {
  const keys = generateMinionKeys();
  return new MinionIdentity(id, X25519Key.fromSecret(keys.boxSecret));
}

const trustAny = () => {};
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs HELLO → WELCOME → AUTH through the real codec, as bytes on a wire would. */
function handshake(m = master(), me = minion(), payload = text('first')) {
  const client = new ClientHandshake();
  const hello = decodeFrame(client.helloFrame, LIMIT) as HelloFrame;
  const welcome = decodeFrame(m.responder.welcome(hello), LIMIT) as WelcomeFrame;
  const { authFrame, cipher } = client.complete(welcome, me, trustAny, payload);
  const auth = decodeFrame(authFrame, LIMIT) as AuthFrame;
  return { m, me, client, welcome, authFrame, auth, clientCipher: cipher };
}

describe('handshake', () => {
  it('with the X25519 work elsewhere (handshake workers), opens a session once per cookie however many AUTHs race', async () => {
    const offload: AuthOffload = { run: async (prekey, work) => authSecrets(prekey.key, work) };
    const m = master(Date.now, offload);
    const { me, auth, clientCipher } = handshake(m);
    // Both pass the first replay check: neither has completed when the second arrives.
    const [a, b] = await Promise.all([m.responder.openAuth(auth), m.responder.openAuth(auth)]);
    expect([a.id, b.id]).toEqual(['db1', 'db1']);
    const { cipher } = a.accept(m.box.agree(me.publicKey));
    const reply = cipher.seal(text('welcome'));
    expect(str(clientCipher.open(reply.counter, reply.ciphertext))).toBe('welcome');
    expect(() => b.accept(m.box.agree(b.minionPublic))).toThrow(expect.objectContaining({ code: 'replay' }));
  });

  it('establishes a session in which both sides read each other and identity is learned', () => {
    const { m, me, auth, clientCipher } = handshake();
    const opened = m.responder.openAuth(auth);
    expect(opened.id).toBe('db1');
    expect(Buffer.from(opened.minionPublic)).toEqual(Buffer.from(me.publicKey));
    const { cipher, payload } = opened.accept(m.box.agree(opened.minionPublic));
    expect(str(payload)).toBe('first');
    const reply = cipher.seal(text('hi minion'));
    expect(str(clientCipher.open(reply.counter, reply.ciphertext))).toBe('hi minion');
    const next = clientCipher.seal(text('again'));
    expect(next.counter).toBe(1);
    expect(str(cipher.open(next.counter, next.ciphertext))).toBe('again');
  });

  it('hides the minion id from anyone watching the wire', () => {
    const { authFrame } = handshake(master(), minion('very-recognisable-id'));
    expect(Buffer.from(authFrame).includes(Buffer.from('very-recognisable'))).toBe(false);
  });

  it('refuses an AUTH replayed after it completed', () => {
    const { m, auth } = handshake();
    const first = m.responder.openAuth(auth);
    first.accept(m.box.agree(first.minionPublic));
    expect(() => m.responder.openAuth(auth)).toThrow(expect.objectContaining({ code: 'replay' }));
  });

  it('refuses a minion that claims another public key without its secret', () => {
    const victim = minion('db1');
    const m = master();
    const impostor = new MinionIdentity('db1', X25519Key.generate());
    // The impostor seals the victim's public key as its identity but cannot compute the victim's static secret.
    Object.defineProperty(impostor, 'publicKey', { get: () => victim.publicKey });
    const { auth } = handshake(m, impostor);
    const opened = m.responder.openAuth(auth);
    expect(Buffer.from(opened.minionPublic)).toEqual(Buffer.from(victim.publicKey));
    expect(() => opened.accept(m.box.agree(opened.minionPublic))).toThrow(expect.objectContaining({ code: 'tampered' }));
  });

  it("refuses an AUTH forged with the master's own secret keys for a minion whose secret the forger lacks", () => {
    const m = master();
    const victim = minion('db1');
    // A thief holding master.box.key and master.sign.key (the sign key buys nothing against the
    // real master: its cookies only open for the prekeys the master generated and keeps in memory).
    const stolenBox = X25519Key.fromSecret(m.keys.boxSecret);
    class KeyThief extends MinionIdentity {
      override get publicKey() {
        return victim.publicKey;
      }
      // X25519(master static, victim public) equals X25519(victim static, master public): the master's key stands in.
      override staticShared() {
        return stolenBox.agree(victim.publicKey);
      }
    }
    const { auth } = handshake(m, new KeyThief('db1', X25519Key.generate()));
    const opened = m.responder.openAuth(auth);
    expect(Buffer.from(opened.minionPublic)).toEqual(Buffer.from(victim.publicKey));
    expect(() => opened.accept(m.box.agree(opened.minionPublic))).toThrow(expect.objectContaining({ code: 'tampered' }));
  });

  it('refuses cookies after they expire, and forgets retired prekeys', () => {
    let now = 1_000_000;
    const m = master(() => now);
    const { auth } = handshake(m);
    now += timings.cookieLifetimeMs + 1;
    expect(() => m.responder.openAuth(auth)).toThrow(expect.objectContaining({ code: 'cookie_invalid' }));
    const id = m.ring.current().id;
    now += timings.rotateMs + timings.cookieLifetimeMs + 1;
    m.ring.current();
    expect(m.ring.find(id)).toBeUndefined();
  });

  describe('prekey sweeping', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('erases a retired prekey on its timer, with no HELLO to trigger a rotation', () => {
      vi.useFakeTimers();
      let now = 1_000_000;
      const m = master(() => now);
      const stop = m.ring.sweepEvery(1000);
      const old = m.ring.current();
      now += timings.rotateMs + timings.cookieLifetimeMs;
      vi.advanceTimersByTime(1000);
      stop();
      expect(m.ring.find(old.id)).toBeUndefined();
      expect(m.ring.size).toBe(0);
      expect(old.cookieKey.every((b) => b === 0)).toBe(true);
      expect(old.key.destroyed).toBe(true);
      expect(() => old.key.agree(X25519Key.generate().publicKey)).toThrow(/destroyed/);
    });

    it('keeps a retired prekey until its last cookie expires, so a handshake across a rotation completes', () => {
      let now = 1_000_000;
      const m = master(() => now);
      const { auth } = handshake(m);
      now += timings.rotateMs + 1;
      const fresh = m.ring.current();
      m.ring.sweep();
      expect(m.ring.size).toBe(2);
      const opened = m.responder.openAuth(auth);
      expect(str(opened.accept(m.box.agree(opened.minionPublic)).payload)).toBe('first');
      now += timings.cookieLifetimeMs;
      m.ring.sweep();
      expect(m.ring.size).toBe(1);
      expect(m.ring.find(fresh.id)).toBe(fresh);
    });
  });

  it('refuses a forged cookie and a tampered identity', () => {
    const { m, auth } = handshake();
    const forged = { ...auth, cookie: auth.cookie.slice() };
    forged.cookie[40]! ^= 1;
    expect(() => m.responder.openAuth(forged)).toThrow(expect.objectContaining({ code: 'cookie_invalid' }));
    const badId = { ...auth, sealedIdentity: auth.sealedIdentity.slice() };
    badId.sealedIdentity[20]! ^= 1;
    expect(() => m.responder.openAuth(badId)).toThrow(expect.objectContaining({ code: 'tampered' }));
  });

  it('lets the minion refuse a master that is not the pinned one', () => {
    const m = master();
    const other = generateMasterKeys();
    const client = new ClientHandshake();
    const welcome = decodeFrame(m.responder.welcome(decodeFrame(client.helloFrame, LIMIT) as HelloFrame), LIMIT) as WelcomeFrame;
    const pinned = fingerprint(other.identity);
    const trust = (identity: Uint8Array) => {
      if (fingerprint(identity) !== pinned) throw new ProtocolError('master_mismatch', 'not the pinned master');
    };
    expect(() => client.complete(welcome, minion(), trust, text('x'))).toThrow(expect.objectContaining({ code: 'master_mismatch' }));
  });

  it('refuses a prekey whose signature does not verify', () => {
    const m = master();
    const client = new ClientHandshake();
    const welcome = decodeFrame(m.responder.welcome(decodeFrame(client.helloFrame, LIMIT) as HelloFrame), LIMIT) as WelcomeFrame;
    const swapped = { ...welcome, prekey: X25519Key.generate().publicKey };
    expect(() => client.complete(swapped, minion(), trustAny, text('x'))).toThrow(expect.objectContaining({ code: 'bad_signature' }));
  });

  it('matches a WELCOME only to the HELLO it answers', () => {
    const m = master();
    const a = new ClientHandshake();
    const b = new ClientHandshake();
    const wa = decodeFrame(m.responder.welcome(decodeFrame(a.helloFrame, LIMIT) as HelloFrame), LIMIT) as WelcomeFrame;
    expect(a.answers(wa)).toBe(true);
    expect(b.answers(wa)).toBe(false);
  });
});

describe('session messages', () => {
  it('rejects replayed, reordered and tampered frames and keeps working after', () => {
    const { m, auth, clientCipher } = handshake();
    const opened = m.responder.openAuth(auth);
    const { cipher } = opened.accept(m.box.agree(opened.minionPublic));
    const one = clientCipher.seal(text('one'));
    const two = clientCipher.seal(text('two'));
    const three = clientCipher.seal(text('three'));
    expect(str(cipher.open(two.counter, two.ciphertext))).toBe('two');
    expect(() => cipher.open(two.counter, two.ciphertext)).toThrow(expect.objectContaining({ code: 'replay' }));
    expect(() => cipher.open(one.counter, one.ciphertext)).toThrow(expect.objectContaining({ code: 'replay' }));
    const bent = three.ciphertext.slice();
    bent[bent.length - 1]! ^= 1;
    expect(() => cipher.open(three.counter, bent)).toThrow(expect.objectContaining({ code: 'tampered' }));
    expect(str(cipher.open(three.counter, three.ciphertext))).toBe('three');
  });
});

describe('codec', () => {
  it('round-trips a MSG frame', () => {
    const frame = encodeMsg({ sessionId: new Uint8Array(16).fill(7), counter: 2 ** 40 + 5, ciphertext: new Uint8Array(20).fill(9) });
    const f = decodeFrame(frame, LIMIT);
    expect(f.type).toBe(FrameType.Msg);
    expect(f.type === FrameType.Msg && f.counter).toBe(2 ** 40 + 5);
  });

  it('turns any garbage into bad_frame, never another error', () => {
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(Math.random() * 300);
      const buf = new Uint8Array(len).map(() => Math.floor(Math.random() * 256));
      if (i % 2 === 0 && len > 2) {
        buf[0] = 0xb1;
        buf[1] = (PROTOCOL_VERSION << 4) | (1 + (i % 5));
      }
      try {
        decodeFrame(buf, LIMIT);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).code).toBe('bad_frame');
      }
    }
  });

  it('refuses a frame of another protocol version by name, and refuses in a header every version reads', () => {
    const v1Hello = new Uint8Array(34);
    v1Hello.set([0xb1, 0x11]);
    expect(() => decodeFrame(v1Hello, LIMIT)).toThrow(/protocol version 1 is not supported; this side speaks version 2/);
    // A REFUSE keeps version 1's header (0xB1 0x15), so a version-1 minion can read why it was turned away.
    const refuse = encodeRefuse({ code: RefuseCode.BadFrame, reason: 'protocol version 1 is not supported' });
    expect([...refuse.subarray(0, 2)]).toEqual([0xb1, 0x15]);
    expect(decodeFrame(refuse, LIMIT)).toMatchObject({ type: FrameType.Refuse, code: RefuseCode.BadFrame });
  });

  it('refuses frames over the size limit before parsing', () => {
    expect(() => decodeFrame(new Uint8Array(100), 50)).toThrow(/exceeds the limit/);
  });
});

describe('payloads', () => {
  it('accepts a nested request only when it is shaped like one', async () => {
    const { asRequest } = await import('../src/payload.js');
    expect(asRequest({ t: 'req', id: 3, op: 'pillar.get', args: { path: 'a' } })).toEqual({
      t: 'req',
      id: 3,
      op: 'pillar.get',
      args: { path: 'a' },
    });
    for (const bad of [
      null,
      'x',
      { t: 'res', id: 1, op: 'x', args: {} },
      { t: 'req', id: 1.5, op: 'x', args: {} },
      { t: 'req', id: 1, op: 2, args: {} },
      { t: 'req', id: 1, op: 'x', args: [] },
    ]) {
      expect(asRequest(bad)).toBeUndefined();
    }
  });
});
