import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, freePort, ROOT } from '../support/cluster.js';

describe('a minion that starts before its master', () => {
  const cluster = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar'), { auto_accept: true });
  afterAll(() => cluster.close());

  it('keeps retrying with backoff and authenticates once the master is up', async () => {
    cluster.port = await freePort();
    const minion = cluster.startMinion({ id: 'db1' });
    await minion.waitFor('cannot authenticate to the master yet', { times: 2, timeoutMs: 30_000 });
    const waits = minion
      .lines()
      .filter((l) => l['msg'] === 'cannot authenticate to the master yet')
      .map((l) => Number(l['retry_ms']));
    expect(waits.every((ms) => ms > 0 && ms <= 2000)).toBe(true);
    await cluster.startMaster();
    await minion.waitFor('minion ready', { timeoutMs: 30_000 });
    expect((await cluster.pillar('db1', ['get', 'luks:vg_name'])).stdout).toBe('vg_db');
  });

  it('keeps retrying when the master address swallows connection attempts (a NAT forwarder or firewall, nothing answering)', async () => {
    // 203.0.113.0/24 is reserved for documentation (RFC 5737): SYNs there go unanswered.
    const minion = cluster.startMinion({ id: 'db2', extra: { master: '203.0.113.1:4506', request_timeout: 1 } });
    await minion.waitFor('cannot authenticate to the master yet', { times: 3, timeoutMs: 30_000 });
    expect(minion.child.exitCode).toBeNull();
    const codes = minion
      .lines()
      .filter((l) => l['msg'] === 'cannot authenticate to the master yet')
      .map((l) => l['code']);
    expect(new Set(codes)).toEqual(new Set(['timeout']));
  });

  it('gives up on a connection that was accepted and then went silent, and reaches the master behind it later', async () => {
    // What QEMU's forwarder (and some NATs) do while nothing listens behind them.
    const held: Socket[] = [];
    const hole = createServer((s) => held.push(s));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    const port = (hole.address() as { port: number }).port;
    const minion = cluster.startMinion({ id: 'db3', extra: { master: `127.0.0.1:${port}`, request_timeout: 2 } });
    try {
      await minion.waitFor('cannot authenticate to the master yet', { times: 2, timeoutMs: 30_000 });
      hole.close(); // stops listening at once; its callback would wait for the held connections
      const behind = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar'), { auto_accept: true });
      behind.port = port;
      try {
        await behind.startMaster();
        // Well within libzmq's own 30 s handshake limit: the channel starts over on a new socket.
        await minion.waitFor('minion ready', { timeoutMs: 15_000 });
      } finally {
        await behind.close();
      }
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
