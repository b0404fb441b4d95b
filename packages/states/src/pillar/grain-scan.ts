import type { Nodegroup } from '../target/types.js';
import { expressionReadsGrains, nodegroupReadsGrains } from '../target/nodegroups.js';
import { readPillarTexts } from './pillar-files.js';

/** A place in the pillar tree where minion-reported grains decide something. */
export interface GrainDependence {
  file: string;
  line: number;
  reason: string;
}

/** Ways of reading the `id` grain, which is always the authenticated id. */
const ID_READS = [
  /\bgrains\s*\[\s*(['"])id\1\s*\]/g,
  /\bgrains\.id\b/g,
  /\bgrains\.get\(\s*(['"])id\1/g,
  /\bsalt\s*\[\s*(['"])grains\.get\1\s*\]\s*\(\s*(['"])id\2/g,
  /\bsalt\.grains\.get\(\s*(['"])id\1/g,
];
const JINJA = /\{\{.*?\}\}|\{%.*?%\}/g;
const GRAIN_MATCHES = new Set(['grain', 'grain_pcre', 'ipcidr']);

/**
 * A static look at the pillar tree, for the operator's warning at master start:
 * top entries that match on grains, and template code that reads a grain other
 * than `id`. It reads text, so it can miss a dynamic read (`grains[name]` via a
 * macro) and flag a harmless one; the runtime check in compile.ts is what
 * withholds secrets.
 */
export function scanGrainDependence(roots: readonly string[], nodegroups: Readonly<Record<string, Nodegroup>> = {}): GrainDependence[] {
  const found: GrainDependence[] = [];
  for (const { name, file, text } of readPillarTexts(roots)) {
    if (name === 'top.sls') found.push(...scanTopMatches(file, text, nodegroups));
    found.push(...scanTemplateReads(file, text));
  }
  return found;
}

function scanTemplateReads(file: string, text: string): GrainDependence[] {
  return text.split('\n').flatMap((line, i) => {
    const code = (line.match(JINJA) ?? []).map((part) => ID_READS.reduce((s, re) => s.replace(re, ''), part)).join(' ');
    return /\bgrains\b/.test(code) ? [{ file, line: i + 1, reason: 'the template reads a grain other than id' }] : [];
  });
}

/** Top entries whose match reads grains: `match: grain|grain_pcre|ipcidr`, or a compound/nodegroup using G@, P@, S@. */
function scanTopMatches(file: string, text: string, nodegroups: Readonly<Record<string, Nodegroup>>): GrainDependence[] {
  const found: GrainDependence[] = [];
  let target: { name: string; line: number } | undefined;
  text.split('\n').forEach((line, i) => {
    const key = /^\s+(['"]?)(.+?)\1\s*:\s*$/.exec(line);
    if (key && !line.trimStart().startsWith('-')) {
      target = { name: key[2]!, line: i + 1 };
      return;
    }
    const match = /^\s*-\s*match\s*:\s*['"]?(\w+)/.exec(line)?.[1];
    if (!match || !target) return;
    const reads =
      (GRAIN_MATCHES.has(match) && !(match !== 'ipcidr' && /^id(:|$)/.test(target.name))) ||
      (match === 'compound' && expressionReadsGrains(target.name, nodegroups)) ||
      (match === 'nodegroup' && nodegroupReadsGrains(target.name, nodegroups));
    if (reads)
      found.push({ file, line: target.line, reason: `target '${target.name}' (match: ${match}) matches grains the minion reports` });
  });
  return found;
}
