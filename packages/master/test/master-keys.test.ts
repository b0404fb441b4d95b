import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ClientHandshake,
  decodeFrame,
  decodePayload,
  encodePayload,
  fingerprintBytes,
  FrameType,
  generateMinionKeys,
  MinionIdentity,
  ProtocolError,
  ReplayGuard,
  verifyRotation,
  X25519Key,
  type AuthFrame,
  type HelloFrame,
  type OpenedAuth,
  type WelcomeFrame,
} from '@brine/protocol';
import { MasterKeys } from '../src/master-keys.js';
import { recordAgreements } from './agreements.js';
import { beginRotation, finishRotation, loadMasterKeyState, readRotation, rotationPaths } from '../src/master-rotation.js';

const LIMIT = 1 << 20;
const timings = { rotateMs: 10_000, cookieLifetimeMs: 30_000 };
const pkiDir = () => mkdtempSync(join(tmpdir(), 'brine-rotate-'));

function minion(id = 'web1') {
  return new MinionIdentity(id, X25519Key.fromSecret(generateMinionKeys().boxSecret));
}

/** One handshake through the real codec against `keys`, pinning `pin` (16 bytes) or nothing. */
function handshake(keys: MasterKeys, pin: Uint8Array | undefined, me = minion()) {
  const client = new ClientHandshake(pin);
  const answer = decodeFrame(keys.welcome(decodeFrame(client.helloFrame, LIMIT) as HelloFrame), LIMIT);
  if (answer.type !== FrameType.Welcome) return { refused: answer, welcome: undefined as never, opened: undefined as never };
  const welcome = answer as WelcomeFrame;
  const { authFrame } = client.complete(welcome, me, () => {}, encodePayload({ t: 'req', id: 0, op: 'hello', args: {} }));
  const opened = keys.openAuth(decodeFrame(authFrame, LIMIT) as AuthFrame) as OpenedAuth;
  const masterBox = keys.identity.box;
  const { payload, cipher } = opened.accept(masterBox.agree(opened.minionPublic));
  expect(decodePayload(payload).header).toMatchObject({ op: 'hello' });
  return { welcome, opened, cipher, authFrame, refused: undefined };
}

describe('master key rotation on disk', () => {
  it('writes the new keys, then the signed record; loading serves both; finishing keeps only the new', () => {
    const dir = pkiDir();
    const before = loadMasterKeyState(dir).current;
    const rec = beginRotation(dir, 60_000);
    expect(rec).toMatchObject({ phase: 'serving', old: before.fingerprint });
    const state = loadMasterKeyState(dir);
    expect(state.current.fingerprint).toBe(rec.new);
    expect(state.old?.identity.fingerprint).toBe(before.fingerprint);
    expect(() => beginRotation(dir, 60_000)).toThrow(/runs until/);
    // The statement in the record is the old key's, for the new one.
    verifyRotation(state.old!.statement, before.identity, Date.now());

    // Past the period, loading finishes: master.* is the new pair, master.next.* gone.
    const after = loadMasterKeyState(dir, Date.parse(rec.not_after) + 1);
    expect(after.current.fingerprint).toBe(rec.new);
    expect(after.old).toBeUndefined();
    expect(after.retired).toBe(before.fingerprint);
    expect(existsSync(rotationPaths(dir).next.sign)).toBe(false);
    expect(readRotation(dir)?.phase).toBe('done');
    expect(loadMasterKeyState(dir).current.fingerprint).toBe(rec.new);
  });

  it('finishes a rotation a crash interrupted between its renames', () => {
    const dir = pkiDir();
    const rec = beginRotation(dir, 60_000);
    const { next, current } = rotationPaths(dir);
    // A crash after `finishing` was recorded and the first rename was made.
    const finishing = { ...rec, phase: 'finishing' as const };
    renameSync(next.sign, current.sign);
    expect(() => finishRotation(dir, finishing)).not.toThrow();
    expect(loadMasterKeyState(dir).current.fingerprint).toBe(rec.new);
    expect(readFileSync(rotationPaths(dir).record, 'utf8')).toContain('"done"');
  });

  it('ignores new keys left by a crash before the record was written', () => {
    const dir = pkiDir();
    const before = loadMasterKeyState(dir).current.fingerprint;
    beginRotation(dir, 60_000);
    renameSync(rotationPaths(dir).record, join(dir, 'lost'));
    expect(loadMasterKeyState(dir).current.fingerprint).toBe(before);
    // Starting again overwrites the leftovers.
    expect(beginRotation(dir, 60_000).old).toBe(before);
  });
});

describe('MasterKeys: serving two identities', () => {
  function rotating() {
    const dir = pkiDir();
    const old = loadMasterKeyState(dir).current;
    beginRotation(dir, 60_000);
    return { keys: new MasterKeys(loadMasterKeyState(dir), timings, new ReplayGuard()), old };
  }

  it('answers a HELLO pinning the old key with it, and its session carries the statement', () => {
    const { keys, old } = rotating();
    const { welcome, opened } = handshake(keys, fingerprintBytes(old.identity));
    expect(Buffer.from(welcome.masterIdentity)).toEqual(Buffer.from(old.identity));
    expect(opened.rotation).toBeDefined();
    const st = verifyRotation(opened.rotation!, old.identity, Date.now());
    expect(Buffer.from(st.newIdentity)).toEqual(Buffer.from(keys.identity.identity));
    expect(keys.progress()).toMatchObject({ offered: 1, moved: 0 });
  });

  it('answers every other HELLO (no pin, the new pin, an unknown pin) with the new key and no statement', () => {
    const { keys } = rotating();
    for (const pin of [undefined, fingerprintBytes(keys.identity.identity), new Uint8Array(16)]) {
      const { welcome, opened } = handshake(keys, pin);
      expect(Buffer.from(welcome.masterIdentity)).toEqual(Buffer.from(keys.identity.identity));
      expect(opened.rotation).toBeUndefined();
    }
  });

  it('counts a minion that comes back with the new key as moved', () => {
    const { keys, old } = rotating();
    const me = minion('db1');
    handshake(keys, fingerprintBytes(old.identity), me);
    handshake(keys, fingerprintBytes(keys.identity.identity), me);
    expect(keys.progress()).toMatchObject({ offered: 1, moved: 1 });
  });

  it('after the period: the old key is never shown, its cookies are dead, its pin gets a clear refusal', () => {
    const { keys, old } = rotating();
    // A handshake begun with the old key before the period ended…
    const client = new ClientHandshake(fingerprintBytes(old.identity));
    const welcome = decodeFrame(keys.welcome(decodeFrame(client.helloFrame, LIMIT) as HelloFrame), LIMIT) as WelcomeFrame;
    const { authFrame } = client.complete(welcome, minion(), () => {}, encodePayload({ t: 'req', id: 0, op: 'hello', args: {} }));
    keys.retire();
    // …cannot be completed after it.
    expect(() => keys.openAuth(decodeFrame(authFrame, LIMIT) as AuthFrame)).toThrow(ProtocolError);
    const { refused } = handshake(keys, fingerprintBytes(old.identity));
    expect(refused).toMatchObject({ type: FrameType.Refuse });
    expect((refused as { reason: string }).reason).toContain(`master key ${old.fingerprint} was retired`);
    expect(keys.rotation).toBeUndefined();
  });

  it('zeroes the handshake secrets of an AUTH opened with the old key when the period ends before it is accepted', () => {
    const { keys, old } = rotating();
    const client = new ClientHandshake(fingerprintBytes(old.identity));
    const welcome = decodeFrame(keys.welcome(decodeFrame(client.helloFrame, LIMIT) as HelloFrame), LIMIT) as WelcomeFrame;
    const { authFrame } = client.complete(welcome, minion(), () => {}, encodePayload({ t: 'req', id: 0, op: 'hello', args: {} }));
    // Every X25519 result the master computes while opening the AUTH (ee, se).
    let opened: OpenedAuth | undefined;
    const made = recordAgreements(() => {
      opened = keys.openAuth(decodeFrame(authFrame, LIMIT) as AuthFrame) as OpenedAuth;
    });
    expect(made).toHaveLength(2);
    expect(made.every((b) => b.some((x) => x !== 0))).toBe(true);
    // The period ends (the old static key is destroyed) while the key store decides: accept's agree throws.
    keys.retire();
    expect(() => opened!.accept(new Uint8Array(32))).toThrow(/destroyed/);
    expect(made.map((b) => b.every((x) => x === 0))).toEqual([true, true]);
  });
});
