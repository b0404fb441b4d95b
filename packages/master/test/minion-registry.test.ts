import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@brine/common';
import { describe, expect, it } from 'vitest';
import type { KeyStore } from '../src/keystore.js';
import { MinionRegistry } from '../src/minion-registry.js';
import type { PillarService } from '../src/pillar-service.js';
import type { SessionTable } from '../src/sessions.js';

const registry = (cachedir: string) => new MinionRegistry(cachedir, {} as KeyStore, {} as SessionTable, {} as PillarService, createLogger({ name: 'test', level: 'silent' }));

describe('MinionRegistry grains', () => {
  it('saves the grains of daemon hellos after the burst, the latest of each minion, and a new master process reads them back', async () => {
    const cachedir = mkdtempSync(join(tmpdir(), 'registry-'));
    const first = registry(cachedir);
    const file = join(cachedir, 'minions', 'web1', 'grains.json');
    first.recordGrains('web1', { os: 'Debian' });
    for (let i = 0; i < 40; i++) first.recordGrains(`db${i}`, { os: 'Debian', n: i });
    first.recordGrains('web1', { os: 'Debian', roles: ['web'] });
    // Not written during the handshakes: served from memory meanwhile.
    expect(existsSync(file)).toBe(false);
    expect(first.grains('web1')).toEqual({ os: 'Debian', roles: ['web'] });
    await first.flushed();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ os: 'Debian', roles: ['web'] });
    expect(registry(cachedir).grains('db39')).toEqual({ os: 'Debian', n: 39 });
    expect(registry(cachedir).grains('web1')).toEqual({ os: 'Debian', roles: ['web'] });
  });

  it('takes a grains file a crash left empty or cut short as unknown grains, not as a failure', () => {
    const cachedir = mkdtempSync(join(tmpdir(), 'registry-'));
    for (const [id, text] of [
      ['empty', ''],
      ['cut', '{"os": "Deb'],
      ['list', '[]'],
    ]) {
      mkdirSync(join(cachedir, 'minions', id!), { recursive: true });
      writeFileSync(join(cachedir, 'minions', id!, 'grains.json'), text!);
    }
    const r = registry(cachedir);
    for (const id of ['empty', 'cut', 'list']) expect(r.grains(id)).toBeUndefined();
    // The next hello's grains replace it.
    r.recordGrains('cut', { os: 'Debian' });
    expect(r.grains('cut')).toEqual({ os: 'Debian' });
  });
});
