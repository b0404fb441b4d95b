import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  ClientHandshake,
  decodeFrame,
  encodePayload,
  generateMinionKeys,
  MinionIdentity,
  randomBytes,
  ReplayGuard,
  SessionCipher,
  X25519Key,
  type HelloFrame,
  type WelcomeFrame,
} from '@brine/protocol';
import { MasterKeys } from '../src/master-keys.js';
import { recordAgreements } from './agreements.js';
import { loadMasterKeyState } from '../src/master-rotation.js';
import { MasterServer, type ServerDeps } from '../src/server.js';
import { StaticKeys } from '../src/static-keys.js';

const LIMIT = 1 << 20;
const timings = { rotateMs: 10_000, cookieLifetimeMs: 30_000 };
const isZero = (b: Uint8Array) => b.every((x) => x === 0);

/** A server with the real handshake and static keys; the key store and networks answer as `opts` says. */
function server(
  opts: { statics?: (keys: MasterKeys) => StaticKeys; outside?: boolean; admit?: () => Promise<unknown>; auditFails?: boolean } = {},
) {
  const keys = new MasterKeys(loadMasterKeyState(mkdtempSync(join(tmpdir(), 'brine-srv-'))), timings, new ReplayGuard());
  const refused: string[] = [];
  const d = {
    transport: { peerOf: () => '10.0.0.5', sendBestEffort: () => {} },
    responder: keys,
    keys: {
      staleness: () => undefined,
      isAccepted: () => false,
      admit: opts.admit ?? (async () => ({ status: 'pending', recorded: false })),
    },
    networks: { refusal: () => (opts.outside ? { peer: '10.0.0.5', networks: ['192.0.2.0/24'], by: 'web*' } : undefined) },
    newKeys: { check: () => undefined, recorded: () => {} },
    statics: opts.statics ? opts.statics(keys) : new StaticKeys(keys.identity.box),
    audit: {
      refuse: (e: { event: string }) => {
        refused.push(e.event);
        // Once: the refusal that follows (refused_internal) is written.
        if (opts.auditFails && refused.length === 1) throw new Error('audit log unwritable');
      },
      write: () => {},
    },
    outbox: { send: async () => {} },
    log: { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} },
    autoAccept: false,
    maxMessageBytes: LIMIT,
  } as unknown as ServerDeps;
  const srv = new MasterServer(d);
  /** Sends a minion's AUTH (its HELLO answered by the same keys) through `handle`. */
  const auth = () => {
    const client = new ClientHandshake(undefined);
    const welcome = decodeFrame(keys.welcome(decodeFrame(client.helloFrame, LIMIT) as HelloFrame), LIMIT) as WelcomeFrame;
    const me = new MinionIdentity('web1', X25519Key.fromSecret(generateMinionKeys().boxSecret));
    const { authFrame } = client.complete(welcome, me, () => {}, encodePayload({ t: 'req', id: 0, op: 'hello', args: {} }));
    // All of the X25519 work is done before handle returns; only the key store's answer comes later.
    return recordAgreements(() => srv.handle([Buffer.from('r1'), Buffer.from(authFrame)]));
  };
  return { auth, refused };
}

describe('MasterServer: handshake secrets on refusal paths', () => {
  it('zeroes ee and se when looking up the static shared key throws', () => {
    const broken = X25519Key.fromSecret(randomBytes(32));
    broken.destroy();
    const { auth, refused } = server({ statics: () => new StaticKeys(broken) });
    const made = auth();
    expect(refused).toEqual(['refused_internal']);
    // ee and se of the AUTH; the lookup's agree threw before making anything.
    expect(made).toHaveLength(2);
    expect(made.map(isZero)).toEqual([true, true]);
  });

  it('zeroes the static shared key it computed when the minion is refused before its key is accepted', async () => {
    const outside = server({ outside: true });
    const made = outside.auth();
    expect(outside.refused).toEqual(['refused_network']);
    expect(made).toHaveLength(3);
    expect(made.map(isZero)).toEqual([true, true, true]);

    // A pending key: zeroed once the key store has answered.
    const pending = server();
    const later = pending.auth();
    await vi.waitFor(() => expect(pending.refused).toEqual(['refused_pending']));
    await vi.waitFor(() => expect(later.map(isZero)).toEqual([true, true, true]));

    // The key store failing: the same.
    const failing = server({ admit: () => Promise.reject(new Error('etcd away')) });
    const failed = failing.auth();
    await vi.waitFor(() => expect(failing.refused).toEqual(['refused_key_unrecorded']));
    await vi.waitFor(() => expect(failed.map(isZero)).toEqual([true, true, true]));
  });
});

describe('MasterServer: session keys on refusal paths', () => {
  it('destroys the session cipher of a refused key even when the refusal itself throws (audit log unwritable)', async () => {
    const destroy = vi.spyOn(SessionCipher.prototype, 'destroy');
    try {
      const { auth, refused } = server({ auditFails: true });
      auth();
      await vi.waitFor(() => expect(refused).toEqual(['refused_pending', 'refused_internal']));
      expect(destroy).toHaveBeenCalledTimes(1);
    } finally {
      destroy.mockRestore();
    }
  });
});

describe('StaticKeys', () => {
  it('keeps a remembered result; zeroes one it does not keep, and the cached one it forgets', () => {
    const master = X25519Key.fromSecret(randomBytes(32));
    const minionPublic = X25519Key.fromSecret(randomBytes(32)).publicKey;
    const statics = new StaticKeys(master);
    const a = statics.lookup(minionPublic);
    const b = statics.lookup(minionPublic);
    a.remember();
    a.release();
    expect(isZero(a.shared)).toBe(false);
    // Another handshake of the same key computed its own meanwhile: the first one kept stays cached.
    b.remember();
    b.release();
    expect(isZero(b.shared)).toBe(true);
    expect(statics.lookup(minionPublic).shared).toBe(a.shared);
    statics.forget(minionPublic);
    expect(isZero(a.shared)).toBe(true);
  });
});
