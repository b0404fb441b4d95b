import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@brine/common';
import { describe, expect, it } from 'vitest';
import { FileGrainStore } from '../src/grain-store.js';

const registry = (cachedir: string) => new FileGrainStore(cachedir, createLogger({ name: 'test', level: 'silent' }));

describe('FileGrainStore', () => {
  it('saves the grains of daemon hellos after the burst, the latest of each minion, and a new master process reads them back', async () => {
    const cachedir = mkdtempSync(join(tmpdir(), 'registry-'));
    const first = registry(cachedir);
    const file = join(cachedir, 'minions', 'web1', 'grains.json');
    first.record('web1', { os: 'Debian' });
    for (let i = 0; i < 40; i++) first.record(`db${i}`, { os: 'Debian', n: i });
    first.record('web1', { os: 'Debian', roles: ['web'] });
    // Not written during the handshakes: served from memory meanwhile.
    expect(existsSync(file)).toBe(false);
    expect(first.get('web1')).toEqual({ os: 'Debian', roles: ['web'] });
    await first.flushed();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ os: 'Debian', roles: ['web'] });
    expect(registry(cachedir).get('db39')).toEqual({ os: 'Debian', n: 39 });
    expect(registry(cachedir).get('web1')).toEqual({ os: 'Debian', roles: ['web'] });
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
    for (const id of ['empty', 'cut', 'list']) expect(r.get(id)).toBeUndefined();
    // The next hello's grains replace it.
    r.record('cut', { os: 'Debian' });
    expect(r.get('cut')).toEqual({ os: 'Debian' });
  });
});
