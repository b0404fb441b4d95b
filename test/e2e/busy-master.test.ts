import { createLogger } from '@brine/common';
import { MasterChannel } from '@brine/minion';
import { MinionIdentity, X25519Key } from '@brine/protocol';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a master that is alive but slow to answer (a boot storm)', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  beforeAll(() => cluster.startMaster(), 30_000);
  afterAll(() => cluster.close());

  it('is waited for on the same connection, past the timeout, instead of being given up on', async () => {
    const warnings: string[] = [];
    const log = createLogger({ name: 'test', level: 'silent' });
    log.warn = ((_obj: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
    const timeoutMs = 1000;
    const channel = new MasterChannel({
      host: '127.0.0.1',
      port: cluster.port,
      identity: new MinionIdentity('web1', X25519Key.generate()),
      trust: () => {},
      role: 'cli',
      grains: {},
      timeoutMs,
      log,
      // A re-key is a handshake on the open connection: it comes due while the master is stopped.
      rekey: { afterMs: 1500, afterMessages: 1e9 },
    });
    let sessions = 0;
    channel.onSession(() => sessions++);
    try {
      await channel.connect();
      expect(sessions).toBe(1);
      const master = cluster.master!.child;
      master.kill('SIGSTOP');
      // The re-key's HELLO waits in the master's socket for 1.8 timeouts.
      await sleep(1500 + 1.8 * timeoutMs);
      master.kill('SIGCONT');
      await expect.poll(() => sessions, { timeout: 5000 }).toBe(2);
      // Given up on after one timeout, it would have failed and started again on a new socket.
      expect(warnings).toEqual([]);
      expect((await channel.request('ping')).value).toBe(true);
    } finally {
      cluster.master!.child.kill('SIGCONT');
      channel.close();
    }
  }, 20_000);
});
