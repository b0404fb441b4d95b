import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config-file.js';

const spec = { port: { type: 'integer', default: 1, min: 1, max: 9 } } as const;

const configFile = (text: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'config-')), 'c.yml');
  writeFileSync(file, text);
  return file;
};

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
