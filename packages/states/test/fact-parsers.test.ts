// Each fact's parser against output captured from the real command or file, pyinfra style: one
// folder per fact under fixtures/facts/<fact name>/, one JSON file per case.
//
//   doc     what the case shows (and where the output came from)
//   params  the fact's parameters
//   raw     what reading the fact gave: a command's {exitCode, stdout, stderr}, a file's text,
//           bytes as {"hex": "…"}, or null
//   parsed  the value the parser returns (null: undefined), or
//   throws  the message of the error it raises
//
// FIXTURES_RECORD=1 fills in parsed/throws from what the parsers do now; read the diff.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { group, groups, passwordFingerprint, user } from '../src/facts/accounts.js';
import { deviceType, deviceUsage, taggedDevice } from '../src/facts/devices.js';
import { dmMapping } from '../src/facts/dm-mappings.js';
import type { Fact, FactParams } from '../src/facts/fact.js';
import { cryptsetupIsLuks, luksHeader, luksKeySlot } from '../src/facts/luks.js';
import { lvmReport } from '../src/facts/lvm.js';
import { fstabLines, mounts } from '../src/facts/mounts.js';
import { aptPolicy, dpkgPackages } from '../src/facts/packages.js';
import { signatures } from '../src/facts/signatures.js';
import { unit } from '../src/facts/systemd.js';
import { decodeValue } from './fake-host.js';

/** The facts whose parsers do more than pass a value on (path.stat, file.content and minion.home do not). */
const PARSED: Fact<never, unknown, never>[] = [
  lvmReport,
  signatures,
  taggedDevice,
  deviceUsage,
  deviceType,
  mounts,
  fstabLines,
  unit,
  user,
  group,
  groups,
  passwordFingerprint,
  dpkgPackages,
  aptPolicy,
  cryptsetupIsLuks,
  luksHeader,
  luksKeySlot,
  dmMapping,
] as never;

interface Fixture {
  doc: string;
  params: string[];
  raw: unknown;
  parsed?: unknown;
  throws?: string;
}

const ROOT = fileURLToPath(new URL('fixtures/facts', import.meta.url));
const RECORD = process.env['FIXTURES_RECORD'] === '1';
const byName = new Map(PARSED.map((f) => [f.name, f as unknown as Fact<FactParams, unknown, unknown>]));
const folders = readdirSync(ROOT).sort();

describe.each(folders)('%s', (name) => {
  const cases = readdirSync(join(ROOT, name))
    .filter((f) => f.endsWith('.json'))
    .sort();
  it.each(cases)('%s', (file) => {
    const fact = byName.get(name);
    if (!fact) throw new Error(`no fact is named ${name}`);
    const path = join(ROOT, name, file);
    const fixture = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
    let got: Pick<Fixture, 'parsed' | 'throws'>;
    try {
      // JSON has no undefined: null stands for it both ways.
      got = { parsed: fact.parse(decodeValue(fixture.raw), ...fixture.params) ?? null };
    } catch (err) {
      got = { throws: (err as Error).message };
    }
    if (RECORD) {
      const { parsed: _p, throws: _t, ...given } = fixture;
      writeFileSync(path, `${JSON.stringify({ ...given, ...JSON.parse(JSON.stringify(got)) }, null, 2)}\n`);
      return;
    }
    expect(got).toEqual(fixture.throws !== undefined ? { throws: fixture.throws } : { parsed: fixture.parsed });
  });
});

it('every fact with a parser has fixtures', () => {
  expect(PARSED.map((f) => f.name).filter((n) => !folders.includes(n))).toEqual([]);
});
