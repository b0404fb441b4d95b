import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../src/audit.js';

function log() {
  const file = join(mkdtempSync(join(tmpdir(), 'brine-audit-')), 'audit.jsonl');
  let t = 0;
  const audit = new AuditLog(file, () => t);
  const lines = () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { audit, lines, advance: (ms: number) => (t += ms) };
}

describe('AuditLog under floods', () => {
  it('writes a burst per peer and reason, then one suppressed line with the count', async () => {
    const { audit, lines, advance } = log();
    for (let i = 0; i < 1000; i++) audit.refuse({ event: 'refused_tampered', peer: '10.0.0.1', minion: 'web1' });
    advance(10_001);
    audit.refuse({ event: 'refused_tampered', peer: '10.0.0.1' });
    await audit.close();
    const got = lines();
    expect(got.filter((l) => l['event'] === 'refused_tampered')).toHaveLength(11);
    expect(got).toContainEqual(expect.objectContaining({ event: 'suppressed', peer: '10.0.0.1', reason: 'refused_tampered', count: 990 }));
  });

  it('bounds all refusals together, however many addresses a flood comes from', async () => {
    const { audit, lines } = log();
    for (let i = 0; i < 20_000; i++) audit.refuse({ event: 'refused_bad_frame', peer: `10.1.${i >> 8}.${i & 255}` });
    await audit.close();
    const got = lines();
    const refusals = got.filter((l) => l['event'] === 'refused_bad_frame');
    expect(refusals.length).toBeLessThanOrEqual(200);
    const suppressed = got.filter((l) => l['event'] === 'suppressed');
    expect(suppressed.length).toBeLessThanOrEqual(51);
    // Nothing goes unrecorded: written plus counted is every refusal.
    expect(refusals.length + suppressed.reduce((n, l) => n + Number(l['count']), 0)).toBe(20_000);
  });

  it('always writes deliveries and sessions, whatever the refusal rate', async () => {
    const { audit, lines } = log();
    for (let i = 0; i < 500; i++) audit.refuse({ event: 'refused_bad_frame', peer: '10.0.0.1' });
    for (let i = 0; i < 300; i++) audit.write({ event: 'pillar_delivered', minion: `m${i}`, path: 'a' });
    await audit.close();
    expect(lines().filter((l) => l['event'] === 'pillar_delivered')).toHaveLength(300);
  });
});
