import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempFile } from '../../../test/support/temp-file.js';
import { loadConfig } from '../src/config-file.js';

const spec = { port: { type: 'integer', default: 1, min: 1, max: 9 } } as const;

const configFile = (text: string): string => tempFile('c.yml', text);

describe('loadConfig', () => {
  it("refuses Object.prototype's names as unknown options", () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      const file = configFile(`port: 2\n${name}: 1\n`);
      expect(() => loadConfig(spec, file, { explicit: true }), name).toThrow(`${file}:2: unknown option '${name}'`);
    }
  });

  it('accepts the options it knows', () => {
    expect(loadConfig(spec, configFile('port: 2\n'), { explicit: true }).port).toBe(2);
  });
});

describe('a section (a nested mapping with its own options)', () => {
  const nested = {
    name: { type: 'string', default: 'x' },
    cluster: {
      type: 'section',
      options: {
        hosts: { type: 'string-list', default: [], check: (h: string[]) => (h.length === 0 ? 'name at least one host' : undefined) },
        tls: { type: 'section', options: { ca: { type: 'optional-path' } } },
      },
    },
  } as const;

  it('is undefined when absent: what it configures is off', () => {
    expect(loadConfig(nested, configFile('name: a\n'), { explicit: true }).cluster).toBeUndefined();
  });

  it('takes its own options, nested sections included, with paths resolved against the file', () => {
    const file = configFile('cluster:\n  hosts: [h1]\n  tls:\n    ca: ca.pem\n');
    expect(loadConfig(nested, file, { explicit: true }).cluster).toEqual({ hosts: ['h1'], tls: { ca: join(file, '..', 'ca.pem') } });
  });

  it('names the file, line and dotted option of what is wrong inside it', () => {
    const unknown = configFile('name: a\ncluster:\n  hosts: [h1]\n  tsl: {}\n');
    expect(() => loadConfig(nested, unknown, { explicit: true })).toThrow(`${unknown}:4: unknown option 'cluster.tsl' (known: hosts, tls)`);
    const badType = configFile('cluster:\n  hosts: [h1]\n  tls:\n    ca: 3\n');
    expect(() => loadConfig(nested, badType, { explicit: true })).toThrow(`${badType}:4: option 'cluster.tls.ca' must be a path, got 3`);
    const checked = configFile('cluster:\n  hosts: []\n');
    expect(() => loadConfig(nested, checked, { explicit: true })).toThrow(`${checked}:2: option 'cluster.hosts': name at least one host`);
    const notMapping = configFile('cluster: [a]\n');
    expect(() => loadConfig(nested, notMapping, { explicit: true })).toThrow(`${notMapping}:1: option 'cluster' must be a mapping`);
  });
});
