/**
 * Salt compatibility suite, Jinja: each case in jinja-cases.json is a template
 * (with the files it imports, pillar and grains) and what Salt 3006 renders from
 * it, citing the Salt source or doc the expectation rests on. The expectations
 * were produced with Jinja2 3.1 (the Jinja Salt 3006 ships with) with Salt's
 * environment (do, loopcontrols, StrictUndefined) and filters reimplemented from
 * the cited sources; see README.md here.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jinjaYamlRenderer } from '../../packages/states/src/render/index.js';
import { compileTemplate, renderTemplate } from '../../packages/states/src/render/template.js';
import { templateVars } from '../../packages/states/src/render/template-vars.js';
import { tree } from '../../packages/states/test/helpers.js';

interface Case {
  name: string;
  cite: string;
  template?: string;
  sls?: string;
  files: Record<string, string> | null;
  pillar: Record<string, unknown>;
  grains?: Record<string, unknown>;
  expect?: string;
  expectText?: string;
  expectData?: unknown;
}

const cases = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'jinja-cases.json'), 'utf8')) as Case[];

function renderText(c: Case): string {
  const root = tree({ ...(c.files ?? {}), ...(c.template !== undefined && { 'case.sls': c.template }) });
  const file = join(root, c.sls ?? 'case.sls');
  const vars = templateVars({ pillar: c.pillar, grains: c.grains ?? {}, opts: {} });
  return renderTemplate(compileTemplate(readFileSync(file, 'utf8'), file, [root]), file, vars);
}

describe('Salt 3006 compatibility: Jinja', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(c.cite, 'every case cites the Salt source it relies on').toMatch(/\S/);
    if (c.expect !== undefined) expect(renderText(c)).toBe(c.expect);
    if (c.expectText !== undefined) expect(renderText(c).trimEnd()).toBe(c.expectText.trimEnd());
    if (c.expectData !== undefined) {
      const root = tree(c.files ?? {});
      const minion = { id: String(c.grains?.['id'] ?? 'minion'), grains: c.grains ?? {} };
      expect(jinjaYamlRenderer({ roots: [root] })(join(root, c.sls!), { minion, pillar: c.pillar }).value).toEqual(c.expectData);
    }
  });
});
