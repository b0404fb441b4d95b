import { InputError } from '@brine/common';
import { parseCompound, type CompoundNode } from './compound.js';
import type { Nodegroup } from './types.js';

/** A list element that is neither a compound operator nor an `X@` matcher. */
const isPlainId = (word: string): boolean => !/^(and|or|not|\(|\))$/.test(word) && !/^[A-Z]@/.test(word);

/**
 * Salt's two forms of a nodegroup: a list of plain ids means those ids (undefined
 * here); a string, or a list of compound tokens, is a compound expression.
 */
export function nodegroupExpression(group: Nodegroup): string | undefined {
  if (typeof group === 'string') return group;
  return group.every(isPlainId) ? undefined : group.join(' ');
}

function terms(node: CompoundNode): Extract<CompoundNode, { kind: 'term' }>[] {
  if (node.kind === 'term') return [node];
  if (node.kind === 'not') return terms(node.of);
  return [...terms(node.left), ...terms(node.right)];
}

/** Every problem with a set of nodegroups, one line each: syntax, unknown `N@` groups, cycles. */
export function nodegroupProblems(groups: Readonly<Record<string, Nodegroup>>): string[] {
  const problems: string[] = [];
  const refs = new Map<string, string[]>();
  for (const [name, group] of Object.entries(groups)) {
    const expression = nodegroupExpression(group);
    if (expression === undefined) continue;
    try {
      const used = terms(parseCompound(expression))
        .filter((t) => t.type === 'nodegroup')
        .map((t) => t.expr);
      refs.set(name, used);
      for (const ref of used) if (!Object.hasOwn(groups, ref)) problems.push(`nodegroup '${name}': N@${ref} names no nodegroup`);
    } catch (err) {
      problems.push(`nodegroup '${name}': ${err instanceof InputError ? err.detail : String(err)}`);
    }
  }
  const cycle = (name: string, path: string[]): string[] | undefined => {
    if (path.includes(name)) return [...path.slice(path.indexOf(name)), name];
    for (const ref of refs.get(name) ?? []) {
      const found = cycle(ref, [...path, name]);
      if (found) return found;
    }
    return undefined;
  };
  for (const name of refs.keys()) {
    const found = cycle(name, []);
    if (found && found[0] === name) problems.push(`nodegroup '${name}' refers to itself: ${found.join(' -> ')}`);
  }
  return problems;
}

/** Whether matching this nodegroup reads grains the minion reported (G@, P@, S@, directly or through N@). */
export function nodegroupReadsGrains(name: string, groups: Readonly<Record<string, Nodegroup>>, seen: readonly string[] = []): boolean {
  const group = Object.hasOwn(groups, name) ? groups[name] : undefined;
  const expression = group === undefined || seen.includes(name) ? undefined : nodegroupExpression(group);
  if (expression === undefined) return false;
  return expressionReadsGrains(expression, groups, [...seen, name]);
}

/** Whether a compound expression reads grains the minion reported. */
export function expressionReadsGrains(
  expression: string,
  groups: Readonly<Record<string, Nodegroup>>,
  seen: readonly string[] = [],
): boolean {
  let tree: CompoundNode;
  try {
    tree = parseCompound(expression);
  } catch {
    return false;
  }
  return terms(tree).some((t) =>
    t.type === 'nodegroup'
      ? nodegroupReadsGrains(t.expr, groups, seen)
      : ['grain', 'grain_pcre', 'ipcidr'].includes(t.type) && !/^id(:|$)/.test(t.expr),
  );
}
