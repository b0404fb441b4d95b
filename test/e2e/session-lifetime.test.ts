import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

describe('session lifetime', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true, session_max_age: 5 });

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  const opened = (id: string) => cluster.audit().filter((r) => r['event'] === 'session_opened' && r['minion'] === id).length;
  const ping = async (target: string) => {
    const r = await cluster.masterCmd('ping', target, '--json', '--timeout', '5');
    return JSON.parse(String(r.stdout)) as Record<string, unknown>;
  };

  it('closes a session at session_max_age, and a minion that does not re-key recovers with a new one', async () => {
    const minion = cluster.startMinion({ id: 'stale1' });
    await minion.waitFor('minion ready');
    expect(opened('stale1')).toBe(1);
    // The keepalive ping (every ~5 s) after the session is 5 s old is told `unknown session`,
    // and the minion handshakes again and repeats it.
    await cluster.waitForAudit((r) => r['event'] === 'refused_unknown_session', 20_000);
    await expect.poll(() => opened('stale1'), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(minion.count('lost the master; reconnecting')).toBe(0);
    expect(minion.count('session with master re-keyed')).toBe(0);
    expect(await ping('stale1')).toEqual({ stale1: true });
  });
});
