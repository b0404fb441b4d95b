import { randomBytes } from 'node:crypto';
import { Direction, SessionCipher } from '@brine/protocol';
import { describe, expect, it } from 'vitest';
import { SessionTable, type Session } from '../src/sessions.js';

const limits = { maxAgeMs: 60_000, maxMessages: 4 };

function session(minionId: string, openedAt: number): Session {
  return {
    id: randomBytes(16),
    minionId,
    minionPublic: new Uint8Array(32),
    fingerprint: 'fp',
    cipher: new SessionCipher(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), Direction.MasterToMinion),
    routingId: Buffer.from('r'),
    role: 'daemon',
    grains: {},
    lastSeen: openedAt,
    openedAt,
  };
}

describe('session limits', () => {
  it('closes a session as old as session_max_age when it is next used, however busy it was', () => {
    let now = 1_000_000;
    const table = new SessionTable(limits, () => now);
    const s = session('db1', now);
    table.add(s);
    now += limits.maxAgeMs - 1;
    s.lastSeen = now;
    expect(table.get(s.id)).toBe(s);
    expect(table.ofMinion('db1')).toEqual([s]);
    now += 1;
    expect(table.get(s.id)).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('closes a session that has carried session_max_messages, and no job goes to it', () => {
    const table = new SessionTable(limits, () => 0);
    const s = session('db1', 0);
    table.add(s);
    for (let i = 0; i < limits.maxMessages - 1; i++) s.cipher.seal(new Uint8Array(1));
    expect(table.ofMinion('db1')).toEqual([s]);
    s.cipher.seal(new Uint8Array(1));
    expect(table.ofMinion('db1')).toEqual([]);
    expect(table.get(s.id)).toBeUndefined();
  });

  it('sweeps sessions past their age with the idle ones, keeping the rest', () => {
    let now = 1_000_000;
    const table = new SessionTable(limits, () => now);
    const old = session('db1', now);
    table.add(old);
    now += limits.maxAgeMs;
    const fresh = session('web1', now);
    table.add(fresh);
    old.lastSeen = now;
    expect(table.expire(now - 3_600_000)).toBe(1);
    expect(table.ofMinion('web1')).toEqual([fresh]);
    expect(table.size).toBe(1);
  });
});
