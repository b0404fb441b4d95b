/**
 * Salt compatibility suite, state results: each case in state-cases.yaml is an SLS
 * tree applied by a real `minion apply --local --json` process, compared with what
 * Salt 3006 returns for it, normalised as Salt's requisite tests normalise a return
 * (run number, result, comment, whether anything changed). See README.md here.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { BIN } from '../support/cluster.js';

interface Expected {
  run: number;
  result: boolean | null;
  changes: boolean;
  comment: string;
}

interface Case {
  name: string;
  cite: string;
  files: Record<string, string>;
  apply: string;
  test?: boolean;
  exit?: number;
  expect: Record<string, Expected>;
  absent?: string[];
}

interface SaltReturn {
  __run_num__: number;
  result: boolean | null;
  changes: Record<string, unknown>;
  comment: string;
}

const cases = parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'state-cases.yaml'), 'utf8')) as Case[];
const work = mkdtempSync(join(tmpdir(), 'brine-salt-compat-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes the case's tree and a minion config, and applies it as `salt-call --local state.apply` would. */
async function apply(c: Case, i: number) {
  const dir = join(work, String(i));
  const states = join(dir, 'states');
  const pillar = join(dir, 'pillar');
  mkdirSync(pillar, { recursive: true });
  for (const [file, text] of Object.entries(c.files)) {
    mkdirSync(dirname(join(states, file)), { recursive: true });
    writeFileSync(join(states, file), text);
  }
  const config = join(dir, 'minion.yml');
  writeFileSync(config, stringify({ id: 'compat', master: '127.0.0.1:1', pki_dir: join(dir, 'pki'), key_protection: 'file' }));
  const args = ['apply', '--local', c.apply, '--json', '--file-root', states, '--pillar-root', pillar, '-c', config];
  return execa(join(BIN, 'minion'), c.test ? [...args, '--test'] : args, { reject: false, cwd: dir });
}

describe('Salt 3006 compatibility: state results', () => {
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    expect(c.cite, 'every case cites the Salt source it relies on').toMatch(/\S/);
    const r = await apply(c, i);
    expect(r.exitCode, String(r.stderr)).toBe(c.exit ?? 0);
    const ret = JSON.parse(String(r.stdout)) as Record<string, SaltReturn>;
    const normalised = Object.fromEntries(
      Object.entries(ret).map(([tag, s]) => [
        tag,
        { run: s.__run_num__, result: s.result, changes: Object.keys(s.changes ?? {}).length > 0, comment: s.comment },
      ]),
    );
    expect(normalised).toEqual(c.expect);
    for (const tag of c.absent ?? []) expect(ret).not.toHaveProperty([tag]);
  });
});
