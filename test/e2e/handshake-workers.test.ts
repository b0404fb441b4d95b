import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

interface MasterCounters {
  handshake_workers: number;
  worker_handshakes: number;
  connections: number;
  sessions: number;
}

describe('handshake workers', () => {
  const cluster = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar'), { auto_accept: true, handshake_workers: 2, io_threads: 2 });

  const counters = async () => {
    const r = await cluster.masterCmd('status', '--json');
    return (JSON.parse(String(r.stdout)) as { master: MasterCounters }).master;
  };

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  it('runs the configured number of libzmq I/O threads', () => {
    const pid = cluster.master!.child.pid!;
    const names = readdirSync(`/proc/${pid}/task`).map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
    expect(names.filter((n) => n.startsWith('ZMQbg/IO/')).sort()).toEqual(['ZMQbg/IO/0', 'ZMQbg/IO/1']);
  });

  it('serves sessions whose handshakes a worker thread computed, and counts connections as they close', async () => {
    const db1 = cluster.startMinion({ id: 'db1' });
    const web1 = cluster.startMinion({ id: 'web1' });
    await Promise.all([db1.waitFor('minion ready'), web1.waitFor('minion ready')]);
    const before = await counters();
    expect(before.handshake_workers).toBe(2);
    expect(before.connections).toBe(2);

    // A one-shot `minion pillar` is a fresh connection and handshake of its own.
    const got = await cluster.pillar('db1', ['get', 'luks:password']);
    expect(String(got.stdout)).toBe('DB1-SECRET-7f3a9c');
    const after = await counters();
    expect(after.worker_handshakes).toBeGreaterThanOrEqual(before.worker_handshakes + 1);
    expect(before.worker_handshakes).toBeGreaterThanOrEqual(2);

    // A minion gone: its connection's routing id is forgotten, not kept until it would be reused.
    await web1.stop();
    await expect.poll(async () => (await counters()).connections, { timeout: 10_000 }).toBe(1);
  });
});
