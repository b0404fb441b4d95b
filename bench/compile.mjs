#!/usr/bin/env node
// Render + compile + order benchmark for @brine/states (run `node scripts/setup.mjs` first).
// Usage: node bench/compile.mjs [--states N] [--files N] [--runs N]
// Prints a human table on stderr and one JSON object on stdout.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileStates, jinjaYamlRenderer } from '../packages/states/dist/index.js';
// Internal, for the breakdown only: the YAML stage a cold compile cannot skip.
import { parseSls } from '../packages/states/dist/render/yaml.js';

const { values } = parseArgs({
  options: {
    states: { type: 'string', default: '10000' },
    files: { type: 'string', default: '100' },
    runs: { type: 'string', default: '15' },
  },
});
const STATES = Number(values.states);
const FILES = Number(values.files);
const RUNS = Number(values.runs);
const PER_FILE = Math.ceil(STATES / FILES);
const GOAL_MS = 200;

/**
 * One SLS file's states: a mix of cmd.run, file.managed and test states, each
 * requiring the one before; every 10th watches, every 7th has onchanges, and the
 * first state of each file requires the whole previous SLS.
 */
function plainSls(f) {
  const out = [];
  for (let i = 0; i < PER_FILE; i++) {
    const id = `s${f}-${i}`;
    const reqs = [];
    if (i > 0) reqs.push(`    - require:\n      - s${f}-${i - 1}`);
    else if (f > 0) reqs.push(`    - require:\n      - sls: f${f - 1}`);
    if (i % 10 === 9) reqs.push(`    - watch:\n      - s${f}-${i - 5}`);
    if (i % 7 === 6) reqs.push(`    - onchanges:\n      - s${f}-${i - 3}`);
    const kind = i % 3;
    if (kind === 0) out.push(`${id}:\n  cmd.run:\n    - name: echo ${id}\n    - cwd: /\n${reqs.join('\n')}`);
    else if (kind === 1)
      out.push(
        `${id}:\n  file.managed:\n    - name: /srv/app/${id}.conf\n    - contents: "key=${id}"\n    - mode: '0640'\n${reqs.join('\n')}`,
      );
    else out.push(`${id}:\n  test.succeed_without_changes:\n${reqs.join('\n') || '    - order: 5'}`);
  }
  return out.join('\n') + '\n';
}

/** The same states written as a Jinja loop over pillar data, as a formula would. */
function jinjaSls(f) {
  return `{% set app = pillar['app'] %}
{% for i in range(${PER_FILE}) %}
s${f}-{{ i }}:
{% if i % 3 == 0 %}
  cmd.run:
    - name: echo s${f}-{{ i }}
    - cwd: /
{% elif i % 3 == 1 %}
  file.managed:
    - name: {{ app.dir }}/s${f}-{{ i }}.conf
    - contents: "key={{ salt['pillar.get']('app:key') }}-{{ i }}"
    - mode: '0640'
{% else %}
  test.succeed_without_changes:
    - order: 5
{% endif %}
{% if i > 0 %}
    - require:
      - s${f}-{{ i - 1 }}
{% elif ${f} > 0 %}
    - require:
      - sls: f${f - 1}
{% endif %}
{% if i % 10 == 9 %}
    - watch:
      - s${f}-{{ i - 5 }}
{% endif %}
{% if i % 7 == 6 %}
    - onchanges:
      - s${f}-{{ i - 3 }}
{% endif %}
{% endfor %}
`;
}

function writeTree(make) {
  const root = mkdtempSync(join(tmpdir(), 'brine-bench-'));
  mkdirSync(root, { recursive: true });
  const names = [];
  for (let f = 0; f < FILES; f++) {
    writeFileSync(join(root, `f${f}.sls`), make(f));
    names.push(`f${f}`);
  }
  writeFileSync(join(root, 'top.sls'), `base:\n  '*':\n${names.map((n) => `    - ${n}`).join('\n')}\n`);
  return root;
}

const pillar = { app: { dir: '/srv/app', key: 'not-a-real-secret' } };

const stats = (times) => {
  times.sort((a, b) => a - b);
  const at = (q) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))] * 10) / 10;
  return { min: at(0), median: at(0.5), p90: at(0.9) };
};

/** Parsing the tree's YAML and nothing else: the floor under a cold compile of plain files. */
function measureParse(root) {
  const texts = Array.from({ length: FILES }, (_, f) => [join(root, `f${f}.sls`), readFileSync(join(root, `f${f}.sls`), 'utf8')]);
  const times = [];
  for (let r = 0; r < RUNS + 2; r++) {
    const t0 = performance.now();
    for (const [file, text] of texts) parseSls(text, file);
    if (r >= 2) times.push(performance.now() - t0);
  }
  return { states: STATES, ...stats(times) };
}

function measure(root, { reuseRenderer }) {
  let render = jinjaYamlRenderer({ roots: [root] });
  const times = [];
  let count = 0;
  for (let r = 0; r < RUNS + 2; r++) {
    if (!reuseRenderer) render = jinjaYamlRenderer({ roots: [root] });
    const t0 = performance.now();
    const run = compileStates({ fileRoots: [root], pillar, minionId: 'bench', target: 'highstate', render });
    const ms = performance.now() - t0;
    count = run.sequence.length;
    // The first two runs warm up the JIT; they are reported apart.
    if (r >= 2) times.push(ms);
  }
  return { states: count, ...stats(times) };
}

const trees = { plain: writeTree(plainSls), jinja: writeTree(jinjaSls) };
const results = {};
for (const [kind, root] of Object.entries(trees)) {
  results[kind] = {
    cold: measure(root, { reuseRenderer: false }),
    warm: measure(root, { reuseRenderer: true }),
    ...(kind === 'plain' && { 'yaml-parse-only': measureParse(root) }),
  };
  if (!process.env.KEEP) rmSync(root, { recursive: true, force: true });
  else process.stderr.write(`${kind}: ${root}\n`);
}

const report = { benchmark: 'compile', node: process.version, states: STATES, files: FILES, runs: RUNS, goalMs: GOAL_MS, results };
const rows = Object.entries(results).flatMap(([kind, r]) =>
  Object.entries(r).map(
    ([cache, m]) =>
      `${`${kind} / ${cache}`.padEnd(24)} ${String(m.states).padStart(7)} ${String(m.min).padStart(9)} ${String(m.median).padStart(9)} ${String(m.p90).padStart(9)}   ${cache === 'yaml-parse-only' ? '(part of cold)' : m.median <= GOAL_MS ? 'within goal' : 'over goal'}`,
  ),
);
process.stderr.write(
  [
    `render + compile + order, ${STATES} states in ${FILES} SLS files (${RUNS} runs each, ms; goal ${GOAL_MS} ms)`,
    `${'tree / cache'.padEnd(24)} ${'states'.padStart(7)} ${'min'.padStart(9)} ${'median'.padStart(9)} ${'p90'.padStart(9)}`,
    ...rows,
  ].join('\n') + '\n',
);
process.stdout.write(`${JSON.stringify(report)}\n`);
