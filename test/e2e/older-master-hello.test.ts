// A minion that pinned a master sends a 50-byte HELLO naming it (PROTOCOL.md, Master key
// rotation); a master older than that refuses it as a bad frame. The minion then sends a plain
// 34-byte HELLO at once, so upgrading minions before masters loses none. The "older master" is a
// real ZeroMQ ROUTER that answers as one did.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, writeKeyFile } from '@brine/common';
import { MasterChannel, masterTrust } from '@brine/minion';
import { encodeRefuse, generateMasterKeys, MinionIdentity, RefuseCode, X25519Key } from '@brine/protocol';
import { describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { freePort } from '../support/cluster.js';

describe('a pinned minion and a master that predates master key rotation', () => {
  it('falls back to a plain HELLO after the 50-byte one is refused as a bad frame', async () => {
    const port = await freePort();
    // PLAIN, as the master's socket: a ZAP handler that lets every connection in.
    const zap = new zmq.Router();
    await zap.bind('inproc://zeromq.zap.01');
    void (async () => {
      for await (const [route, empty, version, requestId] of zap)
        await zap.send([route!, empty!, version!, requestId!, '200', 'OK', '', '']);
    })().catch(() => {});
    const router = new zmq.Router({ plainServer: true, zapDomain: 'brine' });
    await router.bind(`tcp://127.0.0.1:${port}`);
    const sizes: number[] = [];
    void (async () => {
      for await (const [rid, frame] of router) {
        sizes.push(frame!.length);
        if (frame!.length !== 34) await router.send([rid!, encodeRefuse({ code: RefuseCode.BadFrame, reason: 'HELLO must be 34 bytes' })]);
      }
    })().catch(() => {});
    const pki = mkdtempSync(join(tmpdir(), 'brine-oldmaster-'));
    writeKeyFile(join(pki, 'minion_master.pub'), generateMasterKeys().identity, { secret: false });
    const channel = new MasterChannel({
      host: '127.0.0.1',
      port,
      identity: new MinionIdentity('web1', X25519Key.generate()),
      trust: masterTrust(pki, undefined, createLogger({ name: 'test', level: 'silent' })),
      role: 'cli',
      grains: {},
      timeoutMs: 1500,
      log: createLogger({ name: 'test', level: 'silent' }),
    });
    try {
      // This fake master never answers the plain HELLO: the handshake times out, after both were sent.
      await expect(channel.connect()).rejects.toMatchObject({ code: 'timeout' });
      expect(sizes.slice(0, 2)).toEqual([50, 34]);
      expect(sizes.every((n, i) => i === 0 || n === 34)).toBe(true);
    } finally {
      channel.close();
      router.close();
      zap.close();
    }
  }, 20_000);
});
