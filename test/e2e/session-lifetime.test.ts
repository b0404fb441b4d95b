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
  const ping = async (target: string, ...flags: string[]) => {
    const r = await cluster.masterCmd('ping', target, '--json', '--timeout', '5', ...flags);
    return JSON.parse(String(r.stdout)) as Record<string, unknown>;
  };

  it('closes a session at session_max_age, and a minion that does not re-key recovers with a new one', async () => {
    const minion = cluster.startMinion({ id: 'stale1' });
    await minion.waitFor('minion ready');
    await expect.poll(() => opened('stale1')).toBe(1);
    // The keepalive ping (every ~5 s) after the session is 5 s old is told `unknown session`,
    // and the minion handshakes again and repeats it.
    await cluster.waitForAudit((r) => r['event'] === 'refused_unknown_session', 20_000);
    await expect.poll(() => opened('stale1'), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(minion.count('lost the master; reconnecting')).toBe(0);
    expect(minion.count('session with master re-keyed')).toBe(0);
    expect(await ping('stale1')).toEqual({ stale1: true });
  });

  it('re-keys a minion by time and by message count; the master closes each old session, and jobs keep reaching it', async () => {
    const byTime = cluster.startMinion({ id: 'fresh1', extra: { rekey_interval: 2 } });
    const byCount = cluster.startMinion({ id: 'busy1', extra: { rekey_messages: 10 } });
    await Promise.all([byTime.waitFor('minion ready'), byCount.waitFor('minion ready')]);
    const answers: Record<string, unknown>[] = [];
    // Pings pushed while the sessions re-key underneath (each ping is three messages of busy1's session).
    for (const until = Date.now() + 9000; Date.now() < until; ) answers.push(await ping('fresh1,busy1', '-L'));
    expect(answers.length).toBeGreaterThanOrEqual(4);
    expect(answers).toEqual(answers.map(() => ({ busy1: true, fresh1: true })));
    await Promise.all([byTime.stop(), byCount.stop()]);
    for (const [id, minion] of [
      ['fresh1', byTime],
      ['busy1', byCount],
    ] as const) {
      const rekeys = minion.count('session with master re-keyed');
      expect(rekeys).toBeGreaterThanOrEqual(2);
      // A re-key may be under way as the minion stops: the master then opens one session more than the minion logged.
      await expect.poll(() => opened(id)).toBeGreaterThanOrEqual(1 + rekeys);
      expect(opened(id)).toBeLessThanOrEqual(2 + rekeys);
      const replaced = () =>
        cluster.master!.lines().filter((l) => l['msg'] === 'new daemon session replaces the older one' && l['minion'] === id).length;
      await expect.poll(replaced).toBe(opened(id) - 1);
      expect(minion.count('lost the master; reconnecting')).toBe(0);
      expect(minion.count('re-keying failed; the current session stays for now')).toBe(0);
    }
    // Re-keyed every 2 s, fresh1 never reached the master's 5 s limit.
    expect(byTime.count('session with master re-keyed')).toBeGreaterThanOrEqual(3);
  });
});
