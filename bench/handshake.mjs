#!/usr/bin/env node
// Crypto cost on the hot path, in-process (no sockets): what one handshake and one
// message cost the master and the minion, against tweetnacl's pure-JS primitives.
// Usage: node bench/handshake.mjs [--n 2000]   (after `npm run setup`)
import nacl from 'tweetnacl';
import {
  ClientHandshake,
  decodeFrame,
  Ed25519Key,
  encodePayload,
  generateMasterKeys,
  generateMinionKeys,
  HandshakeResponder,
  MinionIdentity,
  PrekeyRing,
  ReplayGuard,
  X25519Key,
} from '@brine/protocol';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 2000;
const LIMIT = 1 << 20;

// Warm-up runs use indexes n..n+199 so that timed runs never reuse a prepared handshake.
function timeIt(n, fn) {
  for (let i = 0; i < 200; i++) fn(n + i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / n / 1000; // µs per op
}

const timings = { rotateMs: 10_000, cookieLifetimeMs: 30_000 };
const mk = generateMasterKeys();
const ring = new PrekeyRing(Ed25519Key.fromSecret(mk.signSecret), mk.identity, timings);
const responder = new HandshakeResponder(mk.identity, ring, new ReplayGuard(), timings);
const masterBox = X25519Key.fromSecret(mk.boxSecret);
const minions = Array.from(
  { length: N + 200 },
  (_, i) => new MinionIdentity(`m${i}`, X25519Key.fromSecret(generateMinionKeys().boxSecret)),
);
const staticShared = minions.map((m) => masterBox.agree(m.publicKey)); // the master caches these per accepted key
const first = encodePayload({ t: 'req', id: 0, op: 'hello', args: { role: 'daemon' } });

// Prepare handshakes up to AUTH so the master side can be timed alone.
const prepared = minions.map((m) => {
  const hs = new ClientHandshake();
  const welcome = decodeFrame(responder.welcome(decodeFrame(hs.helloFrame, LIMIT)), LIMIT);
  const { authFrame } = hs.complete(welcome, m, () => {}, first);
  return { hello: decodeFrame(hs.helloFrame, LIMIT), auth: decodeFrame(authFrame, LIMIT) };
});

const results = {
  n: N,
  tweetnacl_box_before_us: timeIt(Math.min(N, 300), () => nacl.box.before(minions[0].publicKey, mk.boxSecret)),
  native_x25519_us: timeIt(N, (i) => masterBox.agree(minions[i].publicKey)),
  master_welcome_us: timeIt(N, (i) => responder.welcome(prepared[i].hello)),
  master_auth_us: timeIt(N, (i) => {
    const opened = responder.openAuth(prepared[i].auth);
    opened.accept(staticShared[i]);
  }),
  minion_handshake_us: timeIt(N, (i) => {
    const hs = new ClientHandshake();
    const welcome = decodeFrame(responder.welcome(decodeFrame(hs.helloFrame, LIMIT)), LIMIT);
    hs.complete(welcome, minions[i], () => {}, first);
  }),
};

// One session for message costs.
const hs = new ClientHandshake();
const w = decodeFrame(responder.welcome(decodeFrame(hs.helloFrame, LIMIT)), LIMIT);
const { authFrame, cipher: minionCipher } = hs.complete(w, minions[0], () => {}, first);
const { cipher: masterCipher } = responder.openAuth(decodeFrame(authFrame, LIMIT)).accept(staticShared[0]);
const msg = encodePayload({ t: 'req', id: 1, op: 'pillar.get', args: { path: 'luks:password', raw: true } });
results.message_seal_open_us = timeIt(N, () => {
  const { counter, ciphertext } = minionCipher.seal(msg);
  masterCipher.open(counter, ciphertext);
});
results.master_handshake_total_us = results.master_welcome_us + results.master_auth_us;
results.speedup_native_vs_tweetnacl = results.tweetnacl_box_before_us / results.native_x25519_us;

const round = (v) => Math.round(v * 10) / 10;
console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round(v)]))));
console.table({
  'tweetnacl box.before': { 'µs/op': round(results.tweetnacl_box_before_us) },
  'native X25519 (node:crypto)': { 'µs/op': round(results.native_x25519_us) },
  'master: HELLO -> WELCOME': { 'µs/op': round(results.master_welcome_us) },
  'master: AUTH -> session': { 'µs/op': round(results.master_auth_us) },
  'master: whole handshake': { 'µs/op': round(results.master_handshake_total_us) },
  'minion: whole handshake': { 'µs/op': round(results.minion_handshake_us) },
  'message seal + open (~90 B)': { 'µs/op': round(results.message_seal_open_us) },
});
