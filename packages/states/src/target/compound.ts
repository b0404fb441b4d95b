import { TargetError, type MatchType } from './types.js';

/** Prefixes of Salt's compound matcher and the match type each stands for. */
const PREFIXES: Record<string, MatchType> = {
  G: 'grain',
  P: 'grain_pcre',
  E: 'pcre',
  L: 'list',
  I: 'pillar',
  J: 'pillar_pcre',
  S: 'ipcidr',
  N: 'nodegroup',
};

/** A parsed compound expression. */
export type CompoundNode =
  | { kind: 'term'; type: MatchType; expr: string }
  | { kind: 'not'; of: CompoundNode }
  | { kind: 'and' | 'or'; left: CompoundNode; right: CompoundNode };

/** Splits on white space, with parentheses as tokens of their own. */
function tokenize(expression: string): string[] {
  return expression
    .replace(/([()])/g, ' $1 ')
    .split(/\s+/)
    .filter(Boolean);
}

/**
 * Parses Salt's compound target (`G@os:Debian and web* or not E@db[0-9]+`) into
 * a tree, with Python's precedence as Salt evaluates it: not > and > or.
 */
export function parseCompound(expression: string): CompoundNode {
  const tokens = tokenize(expression);
  let at = 0;
  const fail = (detail: string): never => {
    throw new TargetError(expression, detail);
  };
  const peek = () => tokens[at];

  const primary = (): CompoundNode => {
    const tok = tokens[at++];
    if (tok === undefined) return fail('ends where a target was expected');
    if (tok === 'not') return { kind: 'not', of: primary() };
    if (tok === '(') {
      const inner = or();
      if (tokens[at++] !== ')') fail("missing ')'");
      return inner;
    }
    if (tok === ')' || tok === 'and' || tok === 'or') return fail(`unexpected '${tok}'`);
    const m = /^([A-Z])@(.+)$/.exec(tok);
    if (!m) return { kind: 'term', type: 'glob', expr: tok };
    const type = PREFIXES[m[1]!];
    if (!type) return fail(`unsupported matcher '${m[1]}@' (supported: ${Object.keys(PREFIXES).join(', ')} and plain globs)`);
    return { kind: 'term', type, expr: m[2]! };
  };
  // One left-associative level per operator: `and` binds tighter than `or`.
  const binary = (op: 'and' | 'or', operand: () => CompoundNode) => (): CompoundNode => {
    let left = operand();
    while (peek() === op) {
      at++;
      left = { kind: op, left, right: operand() };
    }
    return left;
  };
  const and = binary('and', primary);
  const or = binary('or', and);

  if (tokens.length === 0) fail('is empty');
  const tree = or();
  if (at < tokens.length) fail(`unexpected '${tokens[at]}'`);
  return tree;
}
