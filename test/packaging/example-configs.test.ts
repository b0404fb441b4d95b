// The commented configs the packages install as /etc/brine/{master,minion} must stay true to the
// option specs: every option shown, every shown option real, every shown default the actual one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterConfig } from '@brine/master';
import { loadMinionConfig } from '@brine/minion';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'brine-example-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Options shown as `#name: <placeholder>`: they have no default to show. */
const PLACEHOLDERS = /^#([a-z0-9_]+): <[a-z]+>$/;

const cases = [
  { name: 'master', load: (f: string) => loadMasterConfig(f) as Record<string, unknown> },
  { name: 'minion', load: (f: string) => loadMinionConfig(f) as Record<string, unknown> },
];

describe.each(cases)('the shipped /etc/brine/$name', ({ name, load }) => {
  const shipped = join(ROOT, 'packages', name, 'etc', name);
  const text = readFileSync(shipped, 'utf8');
  const write = (file: string, body: string) => {
    writeFileSync(join(dir, file), body);
    return join(dir, file);
  };
  const defaults = load(write(`${name}-empty`, ''));
  const options = Object.keys(defaults).filter((k) => k !== 'configFile');

  it('loads as shipped, to the defaults', () => {
    expect({ ...load(shipped), configFile: undefined }).toEqual({ ...defaults, configFile: undefined });
  });

  it('shows every option, and with everything uncommented loads to the same defaults', () => {
    const shown = [...text.matchAll(/^#([a-z0-9_]+):/gm)].map((m) => m[1]);
    expect(new Set(shown)).toEqual(new Set(options));
    // Uncomment every option line (and its indented list items); placeholders have no default to compare.
    const uncommented = text
      .split('\n')
      .filter((l) => !PLACEHOLDERS.test(l))
      .map((l) => (/^#([a-z0-9_]+:| {2}- )/.test(l) ? l.slice(1) : l))
      .join('\n');
    expect({ ...load(write(`${name}-uncommented`, uncommented)), configFile: undefined }).toEqual({ ...defaults, configFile: undefined });
  });
});
